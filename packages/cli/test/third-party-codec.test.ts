import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { socksConnect } from '@crosstalk/gateway/testing';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  installConsumer,
  packFolder,
  packWorkspaces,
  rootManifest,
} from '../../../scripts/packed-consumer.mjs';
import { LOGIN } from '../../compliance/test/fixtures/toy-irc-setup.js';
import { lineReader, startToyIrcServer } from './support/irc-server.js';

// The IRC-like trial, as a third party meets CrossTalk: a toy IRC codec package of its own (the
// compliance suite's toy IRC codec, compiled to plain ESM and CommonJS that import only
// @crosstalk/core), installed with @crosstalk/cli and @crosstalk/compliance from `npm pack`
// tarballs of this repository into a fresh project, where the suite runs on it (and catches each
// planted bug), `crosstalk decode --codec` reads a recorded session with it, and
// `crosstalk gateway --codec` proxies a toy IRC login with it.
//
// Tagged slow: it packs every package and runs `npm install` (from the npm cache, which the
// repository's `npm ci` filled), about 40 s in all on 2 cores; `npx vitest run --tags-filter='!slow'`
// leaves it out. Needs the build (`npm test` builds first).

const compliance = fileURLToPath(new URL('../../compliance/test/', import.meta.url));
const PACKAGE = '@acme/codec-toyirc';

let dir: string;
let project: string;

/** The compliance fixture's TypeScript, as the ESM or CommonJS a published package would ship. */
async function compile(file: string, module: ts.ModuleKind): Promise<string> {
  const source = await readFile(join(compliance, file), 'utf8');
  return ts.transpileModule(source, {
    compilerOptions: { module, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText;
}

/** Replaces each `[from, to]` (each must occur), so a moved import fails here, not obscurely later. */
function rewrite(text: string, replacements: [string, string][]): string {
  let out = text;
  for (const [from, to] of replacements) {
    if (!out.includes(from)) throw new Error(`expected ${from} in the copied source`);
    out = out.replaceAll(from, to);
  }
  return out;
}

/** The third party's package: ESM (`import`, default export the factory) and CommonJS (`exports.codec`). */
async function writeCodecPackage(folder: string): Promise<void> {
  await mkdir(join(folder, 'cjs'), { recursive: true });
  const manifest = {
    name: PACKAGE,
    version: '1.0.0',
    description: 'A toy IRC codec for CrossTalk',
    type: 'module',
    exports: {
      '.': { import: './index.js', require: './cjs/index.cjs' },
      './package.json': './package.json',
    },
    files: ['*.js', 'cjs'],
    dependencies: { '@crosstalk/core': '0.1.0' },
  };
  await writeFile(join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(folder, 'toy-irc.js'), await compile('fixtures/toy-irc.ts', ts.ModuleKind.ESNext));
  await writeFile(
    join(folder, 'index.js'),
    "export * from './toy-irc.js';\nexport { toyIrc as default } from './toy-irc.js';\n",
  );
  await writeFile(
    join(folder, 'cjs', 'toy-irc.cjs'),
    await compile('fixtures/toy-irc.ts', ts.ModuleKind.CommonJS),
  );
  await writeFile(
    join(folder, 'cjs', 'index.cjs'),
    "const irc = require('./toy-irc.cjs');\nmodule.exports = { ...irc, codec: irc.toyIrc };\n",
  );
}

/** The project's tests: the suite on the codec, and the compliance package's own mutants of it. */
async function writeProjectTests(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  const setup = await readFile(join(compliance, 'fixtures/toy-irc-setup.ts'), 'utf8');
  await writeFile(
    join(folder, 'toy-irc-setup.ts'),
    rewrite(setup, [
      ["'../../src/index.js'", "'@crosstalk/compliance'"],
      ["'./toy-irc.js'", `'${PACKAGE}'`],
    ]),
  );
  await writeFile(
    join(folder, 'compliance.test.ts'),
    "import { codecSuite } from '@crosstalk/compliance';\n" +
      `import toyIrc from '${PACKAGE}';\n` +
      "import { toyIrcSuite } from './toy-irc-setup.js';\n\n" +
      'codecSuite(toyIrcSuite(toyIrc()));\n',
  );
  const mutants = await readFile(join(compliance, 'mutants.test.ts'), 'utf8');
  await writeFile(
    join(folder, 'mutants.test.ts'),
    rewrite(mutants, [
      ["'../src/index.js'", "'@crosstalk/compliance'"],
      ["'./fixtures/toy-irc.js'", `'${PACKAGE}'`],
      ["'./fixtures/toy-irc-setup.js'", "'./toy-irc-setup.js'"],
    ]),
  );
}

/** The environment of a command run in the project: without this vitest worker's own variables. */
function projectEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') delete env[key];
  delete env.NODE_ENV;
  return env;
}

async function runInProject(
  command: string,
  args: string[],
  stdin: Uint8Array | string = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: project, env: projectEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(stdin);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('a third-party codec package, installed from npm pack tarballs', { tags: ['slow'] }, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crosstalk-third-party-'));
    project = join(dir, 'project');
    await mkdir(project);
    const started = Date.now();
    const packed = await packWorkspaces(project);
    await writeCodecPackage(join(dir, 'codec-toyirc'));
    const codecTarball = await packFolder(join(dir, 'codec-toyirc'), project);
    await writeProjectTests(join(project, 'test'));
    const { devDependencies } = await rootManifest();
    await installConsumer(
      project,
      {
        name: 'toyirc-trial',
        private: true,
        type: 'module',
        dependencies: { ...packed.dependencies, [PACKAGE]: `file:./${codecTarball}` },
        devDependencies: { vitest: devDependencies.vitest, 'fast-check': devDependencies['fast-check'] },
      },
      packed.dependencies,
    );
    process.stderr.write(`third-party-codec: packed and installed in ${Date.now() - started} ms\n`);
  }, 300_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the compliance suite passes on the codec, and fails on each planted bug (vitest in the project)', async () => {
    const { code, stdout, stderr } = await runInProject(npx, [
      'vitest',
      'run',
      '--reporter=json',
      '--outputFile=report.json',
    ]);
    const report = JSON.parse(await readFile(join(project, 'report.json'), 'utf8')) as {
      numFailedTests: number;
      numPassedTests: number;
      testResults: { name: string; assertionResults: { title: string; status: string }[] }[];
    };
    const results = report.testResults.flatMap((f) =>
      f.assertionResults.map((a) => `${f.name.slice(project.length + 1)}: ${a.title}: ${a.status}`),
    );
    expect(
      results.filter((r) => !r.endsWith(': passed')),
      `${stdout}\n${stderr}`,
    ).toEqual([]);
    expect(code).toBe(0);
    // The whole suite (framing, translator and session checks) on the good codec...
    const suite = results.filter((r) => r.startsWith('test/compliance.test.ts'));
    expect(suite.length).toBeGreaterThan(15);
    expect(suite).toContainEqual(expect.stringMatching(/session: a real login verifies as its user/));
    // ...and each of the 14 planted bugs caught, as the compliance package's own test asserts.
    const mutants = results.filter((r) => r.startsWith('test/mutants.test.ts'));
    // The good codec, the 14 mutants (as of this writing) and the check-names test.
    expect(mutants.length).toBeGreaterThanOrEqual(16);
    expect(mutants).toContainEqual(expect.stringMatching(/a session that never verifies: passed/));
  }, 120_000);

  it('crosstalk decode --codec reads a recorded toy IRC session, with the ESM package and the CommonJS file', async () => {
    const recorded = Buffer.concat(LOGIN.filter((w) => w.direction === 'client').map((w) => w.bytes));
    for (const codec of [PACKAGE, `./node_modules/${PACKAGE}/cjs/index.cjs`]) {
      const { code, stdout, stderr } = await runInProject(
        npx,
        ['crosstalk', 'decode', '--codec', codec, '-p', 'toyirc', '-d', 'client'],
        recorded,
      );
      expect(stderr, codec).toBe('');
      expect(code, codec).toBe(0);
      const lines = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { frame: { command: string }; events: unknown[] });
      expect(lines.map((l) => l.frame.command)).toEqual(['NICK', 'USER', 'JOIN', 'PRIVMSG', 'AWAY', 'PING']);
      expect(lines[3]!.events).toEqual([
        expect.objectContaining({ kind: 'im', from: 'alice@toyirc', to: 'carol@toyirc' }),
      ]);
    }
  }, 60_000);

  it('crosstalk gateway --codec proxies a toy IRC login and withholds a message to a foreign user', async () => {
    const irc = await startToyIrcServer();
    onTestFinished(() => irc.close());
    // The bin npx would run, started directly: npx does not pass SIGTERM on to it.
    const child: ChildProcess = spawn(
      process.execPath,
      [
        join(project, 'node_modules', '.bin', 'crosstalk'),
        ...['gateway', '--codec', PACKAGE, '--socks', '127.0.0.1:0', '--log-level', 'info'],
      ],
      { cwd: project, env: projectEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    const output = { out: '', log: '' };
    const waiters: (() => void)[] = [];
    const changed = () => {
      for (const w of waiters.splice(0)) w();
    };
    child.stdout!.on('data', (d: Buffer) => {
      output.out += d.toString();
      changed();
    });
    child.stderr!.on('data', (d: Buffer) => {
      output.log += d.toString();
      changed();
    });
    child.on('exit', changed);
    /** Waits until `pattern` shows in the banner (`out`) or the log; fails if the gateway exits first. */
    const until = async (where: 'out' | 'log', pattern: RegExp): Promise<RegExpExecArray> => {
      for (;;) {
        const match = pattern.exec(output[where]);
        if (match) return match;
        if (child.exitCode !== null)
          throw new Error(`the gateway exited ${child.exitCode}:\n${output.out}${output.log}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    };

    await until('out', /Stop with Ctrl-C/);
    expect(output.out).toMatch(/protocols {6}msnp, oscar, toyirc \(@acme\/codec-toyirc\), xmpp, ymsg/);
    const port = Number((await until('out', /SOCKS4 proxy\s+127\.0\.0\.1:(\d+)/))[1]);

    // An IRC client with the gateway as its SOCKS proxy: log in, then message a Yahoo user.
    const client = await socksConnect({ host: '127.0.0.1', port }, irc.host, irc.port);
    onTestFinished(() => {
      client.destroy();
    });
    const lines = lineReader(client);
    client.write('NICK alice\r\nUSER alice 0 * :Alice\r\n');
    await lines.nextLine(/ 001 alice /);
    await until(
      'log',
      /"protocol":"toyirc"[^\n]*"msg":"login verified"|"msg":"login verified"[^\n]*"protocol":"toyirc"/,
    );
    client.write('PRIVMSG bob@yahoo :hi bob\r\nPING :after\r\n');
    // The outbound IM reached the gateway's router: bob is on no gateway, so it is logged undeliverable.
    const undeliverable = await until('log', /^.*"msg":"undeliverable".*$/m);
    expect(JSON.parse(undeliverable[0])).toMatchObject({ kind: 'im', to: 'bob@yahoo' });
    // The server saw the PING written after the PRIVMSG, and never the PRIVMSG.
    await irc.nextLine(/^PING :after$/);
    expect(irc.received.filter((l) => l.startsWith('PRIVMSG'))).toEqual([]);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 60_000);
});
