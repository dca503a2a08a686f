import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { addressKey, type CanonicalEvent, parseAddress, toHex } from '@crosstalk/core';
import { parseConfig } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testDir } from '../../gateway/test/support/temp-dir.js';
import { defaultRegistry } from '../src/codecs.js';
import { describeGateway, resolveGatewayCodecs, startGatewayFromConfig } from '../src/commands/gateway.js';
import { startOscarNetwork } from '../src/drivers/index.js';
import { main } from '../src/index.js';
import { gatewayEvent, through } from './support/gateway.js';
import { lineReader, startToyIrcServer } from './support/irc-server.js';

const fixtures = fileURLToPath(new URL('./fixtures/codec-modules/', import.meta.url));
const fixture = (name: string) => join(fixtures, name);

async function run(argv: string[], options: { stdin?: string | Uint8Array; cwd?: string } = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const code = await main(argv, {
    // Raw input, as a file or pipe gives it: bytes.
    stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
    stdout,
    stderr,
    cwd: options.cwd ?? fixtures,
  });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** Alice's side of a toy IRC login (the compliance suite's recorded toy session). */
const IRC_CLIENT =
  'NICK alice\r\nUSER alice 0 * :Alice Liddell\r\nPRIVMSG carol :hello carol\r\nAWAY :lunch\r\n';

describe('crosstalk decode|encode --codec (a third-party codec module)', () => {
  it('decodes with a codec whose module default-exports a factory, named by a path from the cwd', async () => {
    const { code, stdout, stderr } = await run(
      ['decode', '--codec', './default-factory.ts', '-p', 'toyirc', '-d', 'client'],
      { stdin: IRC_CLIENT },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = jsonLines(stdout);
    expect(lines.map((l) => l.frame.command)).toEqual(['NICK', 'USER', 'PRIVMSG', 'AWAY']);
    expect(lines[2].events).toEqual([
      expect.objectContaining({ kind: 'im', from: 'alice@toyirc', to: 'carol@toyirc', text: 'hello carol' }),
    ]);
  });

  it('an address on a known network is foreign to the toy IRC codec (bob@yahoo is bob on yahoo)', async () => {
    const { stdout } = await run(
      ['decode', '--codec', fixture('named-codec.ts'), '-p', 'toyirc', '-d', 'client'],
      {
        stdin: 'NICK alice\r\nPRIVMSG bob@yahoo :hi\r\n',
      },
    );
    expect(jsonLines(stdout)[1].events[0]).toMatchObject({ to: 'bob@yahoo' });
  });

  for (const [shape, name, protocol] of [
    ['ESM, a named `codec` export that is a codec', 'named-codec.ts', 'toyirc'],
    ['CommonJS, `module.exports = factory`', 'line-codec.cjs', 'cjsline'],
    ['CommonJS, `exports.codec = codec`', 'line-named.cjs', 'cjsline'],
  ] as const) {
    it(`loads ${shape}`, async () => {
      const { code, stdout, stderr } = await run(
        ['decode', '--codec', fixture(name), '-p', protocol, '-d', 'server'],
        { stdin: 'PING :x\r\n' },
      );
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(jsonLines(stdout)[0].bytes).toBe(toHex(new TextEncoder().encode('PING :x\r\n')));
    });
  }

  it('a file: URL names a module too', async () => {
    const url = pathToFileURL(fixture('line-codec.cjs')).href;
    const { code } = await run(['decode', '--codec', url, '-p', 'cjsline', '-d', 'client'], { stdin: 'x\n' });
    expect(code).toBe(0);
  });

  it('encodes events with the loaded codec', async () => {
    const im: CanonicalEvent = {
      kind: 'im',
      id: '1',
      from: parseAddress('bob@yahoo'),
      to: parseAddress('alice@toyirc'),
      text: 'hi alice',
      sentAt: 0,
    };
    const event = { ...im, from: 'bob@yahoo', to: 'alice@toyirc' };
    const { code, stdout, stderr } = await run(
      ['encode', '--codec', fixture('default-factory.ts'), '-p', 'toyirc', '-d', 'server', '-o', 'raw'],
      { stdin: `${JSON.stringify({ event })}\n` },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(':bob@yahoo!gw@crosstalk PRIVMSG alice :hi alice\r\n');
  });

  it('-p names an unknown protocol: the known ones, and how to load another', async () => {
    const { code, stderr } = await run(['decode', '-p', 'irc', '-d', 'client']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown protocol "irc"; known: msnp, oscar, xmpp, ymsg/);
    expect(stderr).toMatch(/--codec/);
  });

  it('crosstalk protocols --codec lists the third-party codec and where it came from', async () => {
    const text = await run(['protocols', '--codec', './default-factory.ts']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^toyirc\s+networks: toyirc; ports: 6667 {2}\(from \.\/default-factory\.ts\)$/m,
    );
    expect(text.stdout).toMatch(/^oscar\s+networks: aol, icq/m);
    const json = JSON.parse(
      (await run(['protocols', '--json', '--codec', './default-factory.ts'])).stdout,
    ) as {
      protocol: string;
      module?: string;
    }[];
    expect(json.find((c) => c.protocol === 'toyirc')).toMatchObject({
      networks: ['toyirc'],
      module: './default-factory.ts',
    });
    expect(json.find((c) => c.protocol === 'oscar')).not.toHaveProperty('module');
  });
});

describe('codec modules that cannot be used: one clear line, exit 1', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'no such file',
      ['--codec', './nope.js'],
      /cannot load codec "\.\/nope\.js" \(--codec\): no such file .*nope\.js/,
    ],
    [
      'no such package',
      ['--codec', '@acme/codec-nope'],
      /cannot load codec "@acme\/codec-nope" \(--codec\): no package "@acme\/codec-nope" is installed in .* or a folder above it/,
    ],
    [
      'a module that exports no codec',
      ['--codec', './not-a-codec.ts'],
      /codec module "\.\/not-a-codec\.ts" \(--codec\) exports no codec: .*default export.*"codec".*; it exports: default, hello/,
    ],
    [
      'a module that throws while loading',
      ['--codec', './throws.ts'],
      /cannot load codec "\.\/throws\.ts" \(--codec\): this codec module is broken/,
    ],
    [
      'a factory that throws',
      ['--codec', './bad-factory.ts'],
      /cannot load codec "\.\/bad-factory\.ts" \(--codec\): .*must be a lower-case id/,
    ],
    [
      'a protocol that clashes with a built-in one',
      ['--codec', './clash.ts'],
      /codec module "\.\/clash\.ts" \(--codec\) defines protocol "oscar", which the built-in oscar codec already has/,
    ],
    [
      'two modules defining one protocol',
      ['--codec', './line-codec.cjs', '--codec', './line-named.cjs'],
      /codec module "\.\/line-named\.cjs" \(--codec\) defines protocol "cjsline", which "\.\/line-codec\.cjs" already defines/,
    ],
  ];
  for (const [what, flags, message] of cases) {
    it(what, async () => {
      const { code, stdout, stderr } = await run(['protocols', ...flags]);
      expect(stdout).toBe('');
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    });
  }

  it('the same module named twice is loaded once', async () => {
    const { code, stdout } = await run([
      'protocols',
      '--codec',
      './line-codec.cjs',
      '--codec',
      fixture('line-codec.cjs'),
    ]);
    expect(code).toBe(0);
    expect(stdout.match(/^cjsline/gm)).toHaveLength(1);
  });
});

describe('codec packages, resolved from the current directory', () => {
  /** A project folder with `node_modules/<name>` holding `files` (paths relative to the package). */
  async function project(packages: Record<string, Record<string, string>>): Promise<string> {
    const dir = await testDir('codec-project');
    for (const [name, files] of Object.entries(packages)) {
      for (const [path, text] of Object.entries(files)) {
        const file = join(dir, 'node_modules', name, path);
        await mkdir(join(file, '..'), { recursive: true });
        await writeFile(file, text);
      }
    }
    return dir;
  }
  // Node loads what is under node_modules itself (vitest does not transform it): these entries are
  // plain JavaScript over the CommonJS fixture.
  const lineUrl = pathToFileURL(fixture('line-codec.cjs')).href;
  const esmLine = `import line from '${lineUrl}';\nexport const codec = line();\n`;
  const cjsLine = `module.exports = require(${JSON.stringify(fixture('line-codec.cjs'))});\n`;
  const notThis = `throw new Error('the CommonJS entry was loaded');\n`;

  it('a scoped package with an exports map: the import condition (ESM) is the one loaded', async () => {
    const cwd = await project({
      '@acme/codec-line': {
        'package.json': JSON.stringify({
          name: '@acme/codec-line',
          exports: {
            '.': { types: './x.d.ts', require: './cjs/index.cjs', import: './esm/index.mjs' },
            './cjs': { require: './cjs/index.cjs', default: './cjs/line.cjs' },
          },
        }),
        'esm/index.mjs': esmLine,
        'cjs/index.cjs': notThis,
        'cjs/line.cjs': cjsLine,
      },
    });
    const { code, stdout, stderr } = await run(['protocols', '--codec', '@acme/codec-line'], { cwd });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^cjsline .*\(from @acme\/codec-line\)$/m);
    // A subpath, through the `default` condition.
    const sub = await run(['protocols', '--codec', '@acme/codec-line/cjs'], { cwd });
    expect(sub.stderr).toBe('');
    expect(sub.stdout).toMatch(/^cjsline .*\(from @acme\/codec-line\/cjs\)$/m);
  });

  it('found from a subfolder of the project, like node resolves packages', async () => {
    const cwd = await project({
      'codec-irc': {
        'package.json': JSON.stringify({ name: 'codec-irc', main: 'lib/main' }),
        'lib/main.js': cjsLine,
      },
    });
    await mkdir(join(cwd, 'deep', 'er'), { recursive: true });
    const { code, stdout } = await run(['protocols', '--codec', 'codec-irc'], {
      cwd: join(cwd, 'deep', 'er'),
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^cjsline /m);
  });

  it('a package folder named by path loads through its manifest', async () => {
    const cwd = await project({
      'codec-irc': {
        'package.json': JSON.stringify({ name: 'codec-irc', type: 'module', exports: './index.js' }),
        'index.js': esmLine,
      },
    });
    const { code, stdout } = await run(['protocols', '--codec', './node_modules/codec-irc'], { cwd });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^cjsline /m);
  });

  it('a subpath the package does not export is refused, naming it', async () => {
    const cwd = await project({
      'codec-irc': {
        'package.json': JSON.stringify({ name: 'codec-irc', exports: { '.': './index.mjs' } }),
        'index.mjs': esmLine,
      },
    });
    const { code, stderr } = await run(['protocols', '--codec', 'codec-irc/internal'], { cwd });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /cannot load codec "codec-irc\/internal" \(--codec\): package codec-irc does not export "\.\/internal"/,
    );
  });
});

describe('crosstalk gateway with third-party codecs', () => {
  it('config codecs entries are protocol names or module specifiers, checked by the schema', () => {
    expect(
      parseConfig({ codecs: ['oscar', './my-codec.js', '@acme/codec-irc', 'codec-irc/sub', '/abs/x.mjs'] })
        .codecs,
    ).toHaveLength(5);
    expect(() => parseConfig({ codecs: ['oscar', 'Not A Codec!'] })).toThrow(
      /codecs\.1: "Not A Codec!" is neither a protocol name nor a module specifier/,
    );
    expect(() => parseConfig({ codecs: ['oscar', ''] })).toThrow(/codecs\.1/);
    expect(() => parseConfig({ codecs: ['oscar', 'oscar'] })).toThrow(/codecs: "oscar" is listed twice/);
  });

  it('--codec adds to every built-in codec; config entries select protocols and load modules', async () => {
    const base = defaultRegistry();
    const all = await resolveGatewayCodecs(
      base,
      parseConfig({}),
      { codec: ['./default-factory.ts'] },
      fixtures,
    );
    expect(all.protocols).toEqual(['msnp', 'oscar', 'toyirc', 'xmpp', 'ymsg']);
    const chosen = await resolveGatewayCodecs(
      base,
      parseConfig({ codecs: ['oscar', './line-codec.cjs'] }),
      { codec: ['./default-factory.ts'], configFile: 'gw.json' },
      fixtures,
    );
    expect(chosen.protocols).toEqual(['cjsline', 'oscar', 'toyirc']);
    expect(chosen.registry.get('cjsline').protocol).toBe('cjsline');
    // A protocol a --codec module defined may be named by its protocol.
    const byName = await resolveGatewayCodecs(
      base,
      parseConfig({ codecs: ['toyirc'] }),
      { codec: ['./default-factory.ts'] },
      fixtures,
    );
    expect(byName.protocols).toEqual(['toyirc']);
    await expect(
      resolveGatewayCodecs(
        base,
        parseConfig({ codecs: ['oscar', 'irc'] }),
        { configFile: 'gw.json' },
        fixtures,
      ),
    ).rejects.toThrow(
      /cannot load codec "irc" \(codecs\.1 in gw\.json\): no protocol of that name \(known: msnp, oscar, xmpp, ymsg\), and no package "irc" is installed/,
    );
  });

  it('crosstalk gateway stops with one line naming the entry when a codec cannot load (exit 1)', async () => {
    const flags = await run(['gateway', '--codecs', 'oscar,ocsar', '--socks', '127.0.0.1:0']);
    expect(flags.code).toBe(1);
    expect(flags.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^cannot load codec "ocsar" \(codecs\.1 in --codecs\): no protocol of that name \(known: msnp, oscar, xmpp, ymsg\), and no package "ocsar"/,
      ),
    ]);
    const dir = await testDir('cli');
    const file = join(dir, 'gw.json');
    await writeFile(file, JSON.stringify({ codecs: ['oscar', './missing.js'], socks: { port: 0 } }));
    const config = await run(['gateway', '--config', file], { cwd: dir });
    expect(config.code).toBe(1);
    expect(config.stderr.trim().split('\n')).toEqual([
      `cannot load codec "./missing.js" (codecs.1 in ${file}): no such file ${join(dir, 'missing.js')}`,
    ]);
  });

  it('the banner lists third-party protocols with their module', () => {
    const text = describeGateway(
      {
        id: 'ab'.repeat(32),
        socks: { host: '127.0.0.1', port: 1080 },
        g2g: { host: '127.0.0.1', port: 7400 },
        plugins: { list: () => [] },
      } as never,
      ['oscar', 'toyirc'],
      new Map([['toyirc', '@acme/codec-irc']]),
    );
    expect(text).toMatch(/protocols {6}oscar, toyirc \(@acme\/codec-irc\)/);
  });

  it('a toy IRC login through the gateway verifies, and a message to a foreign user is withheld as outbound', async () => {
    const codecs = await resolveGatewayCodecs(
      defaultRegistry(),
      parseConfig({}),
      { codec: ['./default-factory.ts'] },
      fixtures,
    );
    const gateway = await startGatewayFromConfig(
      codecs.registry,
      parseConfig({ socks: { port: 0 }, log: { level: 'silent' }, codecs: codecs.protocols }),
    );
    onTestFinished(() => gateway.close());
    const irc = await startToyIrcServer();
    onTestFinished(() => irc.close());
    const client = await socksConnect(gateway.socks, irc.host, irc.port);
    onTestFinished(() => {
      client.destroy();
    });
    const lines = lineReader(client);
    const verified = gatewayEvent(gateway, (e) => e.type === 'verified', 'the toy IRC login verified');
    client.write('NICK alice\r\nUSER alice 0 * :Alice\r\n');
    await lines.nextLine(/ 001 alice /);
    expect(await verified).toMatchObject({ protocol: 'toyirc', user: { user: 'alice', network: 'toyirc' } });
    const outbound = gatewayEvent(
      gateway,
      (e) => e.type === 'session' && e.event.type === 'outbound',
      'the IM to bob@yahoo withheld as outbound',
    );
    client.write('PRIVMSG bob@yahoo :hi bob\r\nPING :after\r\n');
    const event = await outbound;
    expect(event.type === 'session' && event.event.type === 'outbound' && event.event.event).toMatchObject({
      kind: 'im',
      from: { user: 'alice', network: 'toyirc' },
      to: { user: 'bob', network: 'yahoo' },
      text: 'hi bob',
    });
    // The server saw the PING written after the PRIVMSG, and never the PRIVMSG: the gateway kept it.
    await irc.nextLine(/^PING :after$/);
    expect(irc.received.filter((l) => l.startsWith('PRIVMSG'))).toEqual([]);
  });

  it("an AIM user's IM to bob@toyirc is foreign to the OSCAR session: withheld as outbound to the toy IRC network", async () => {
    const codecs = await resolveGatewayCodecs(
      defaultRegistry(),
      parseConfig({}),
      { codec: ['./default-factory.ts'] },
      fixtures,
    );
    const gateway = await startGatewayFromConfig(
      codecs.registry,
      parseConfig({ socks: { port: 0 }, log: { level: 'silent' } }),
    );
    onTestFinished(() => gateway.close());
    const aim = await startOscarNetwork([{ name: 'alice', password: 'alice-pw' }]);
    onTestFinished(() => aim.stop());
    const alice = aim.driver('alice', through(gateway));
    await alice.login();
    onTestFinished(() => alice.disconnect());
    const outbound = gatewayEvent(
      gateway,
      (e) => e.type === 'session' && e.event.type === 'outbound' && e.event.event.kind === 'im',
      'the AIM IM to bob@toyirc withheld as outbound',
    );
    await alice.sendIm({ user: 'bob', network: 'toyirc' }, 'hello over there');
    const event = await outbound;
    const im = event.type === 'session' && event.event.type === 'outbound' ? event.event.event : undefined;
    expect(im && 'to' in im && addressKey(im.to!)).toBe(addressKey({ user: 'bob', network: 'toyirc' }));
  });
});
