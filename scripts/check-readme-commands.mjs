#!/usr/bin/env node
// Runs every command the READMEs and docs show, as a newcomer would: on a fresh clone of this
// checkout (git clone, `npm ci`, `npm run build`), each ```sh line with bash from the clone's root,
// with node_modules/.bin on the PATH (as after `npm install -g`), no standard input and a timeout.
// A command must exit 0 within the timeout.
//
// An HTML comment right above a block changes how it is treated (invisible when rendered):
//   <!-- readme-check: skip (why) -->        not run here (a real IM client, a registry install);
//                                              reported as skipped, with the reason
//   <!-- readme-check: serves "pattern" -->  each command is a server: started, it must print
//                                              the pattern (a regular expression), then it is sent
//                                              SIGINT and must stop
//   <!-- readme-check: file NAME -->         the block is written to NAME in the clone before the
//                                              document's commands run (a config file they use)
//   <!-- readme-check: run -->               a ```ts block that is a whole program: run with tsx,
//                                              it must exit 0 within the timeout
// `npm install <package>` lines are never run (they install from the registry), only reported.
//
// Usage: node scripts/check-readme-commands.mjs [--here] [--keep] [--timeout SECONDS]
//   --here  run in this checkout instead of a fresh clone (faster while editing; it must be built).
//           The commands then run here: `npm ci` reinstalls node_modules, and the files they write
//           (gateway.json, .readme-example-*.mts, ...) are left behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const here = args.includes('--here');
const keep = args.includes('--keep');
const timeoutArg = args.indexOf('--timeout');
const TIMEOUT_MS = (timeoutArg >= 0 ? Number(args[timeoutArg + 1]) : 180) * 1000;
const STOP_MS = 30_000;
// `npm install <package>` installs what the registry publishes, and in a clone it would change the
// workspace's own manifest: never run, always reported as skipped.
const REGISTRY_INSTALL = /^npm\s+(install|i|add)\s+(-\S+\s+)*@?[a-z]/;
const REGISTRY_REASON =
  'installs a published package from the registry (check-typings installs the packed ones)';

/** The documents whose commands are checked: the READMEs (the packages', the examples') and the docs. */
function documents() {
  const packages = readdirSync(join(root, 'packages'))
    .map((p) => join('packages', p, 'README.md'))
    .filter((f) => existsSync(join(root, f)));
  const examples = readdirSync(join(root, 'examples'))
    .map((p) => join('examples', p, 'README.md'))
    .filter((f) => existsSync(join(root, f)));
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f));
  return ['README.md', ...packages, ...examples, 'fixtures/README.md', 'bench/README.md', ...docs].filter(
    (f) => existsSync(join(root, f)),
  );
}

/** Fenced blocks with the readme-check marker right above each (blank lines allowed between). */
function blocks(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const found = [];
  let marker;
  for (let i = 0; i < lines.length; i++) {
    const m = /^<!--\s*readme-check:\s*(.*?)\s*-->\s*$/.exec(lines[i]);
    if (m) {
      marker = m[1];
      continue;
    }
    const fence = /^(\s*)(```+)\s*([\w-]*)/.exec(lines[i]);
    if (!fence) {
      if (lines[i].trim() !== '') marker = undefined;
      continue;
    }
    const body = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trim().startsWith(fence[2])) body.push(lines[j++]);
    found.push({ file, line: i + 1, lang: fence[3], body, marker });
    marker = undefined;
    i = j;
  }
  return found;
}

/** A shell block's commands: one a line, `\` continuations joined, comments and blanks dropped. */
function commands(body) {
  const out = [];
  let carry = '';
  for (const raw of body) {
    const line = carry + raw;
    if (/\\\s*$/.test(line)) {
      carry = `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    carry = '';
    if (line.trim() && !line.trim().startsWith('#')) out.push(line.trim());
  }
  return out;
}

function sh(command, cwd) {
  console.log(`$ ${command}`);
  const result = spawnSync('bash', ['-c', command], { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} exited ${result.status}`);
}

/** Runs one command in its own process group; resolves with what happened. */
function runCommand(command, { cwd, env, serves }) {
  return new Promise((resolve) => {
    // pipefail: a command that dies on the left of a pipe (`decode ... | head`) fails the line.
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let state = 'running';
    let stopTimer;
    const collect = (d) => {
      output += d.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
      if (serves && state === 'running' && serves.test(output)) {
        state = 'stopping';
        process.kill(-child.pid, 'SIGINT');
        stopTimer = setTimeout(() => {
          state = 'stuck';
          process.kill(-child.pid, 'SIGKILL');
        }, STOP_MS);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      if (state !== 'running') return;
      state = 'timeout';
      process.kill(-child.pid, 'SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(stopTimer);
      let problem;
      if (state === 'timeout') {
        problem = serves
          ? `never printed ${serves} within ${TIMEOUT_MS / 1000} s`
          : `did not exit within ${TIMEOUT_MS / 1000} s`;
      } else if (state === 'stuck') {
        problem = `printed its banner but did not stop within ${STOP_MS / 1000} s of SIGINT`;
      } else if (serves && state === 'running') {
        problem = `exited (${code ?? signal}) without printing ${serves}`;
      } else if (!serves && code !== 0) {
        problem = `exited ${code ?? signal}`;
      } else if (serves && code !== 0 && code !== 130 && signal !== 'SIGINT') {
        problem = `stopped with ${code ?? signal} after SIGINT`;
      }
      resolve({ problem, output });
    });
  });
}

const work = here ? root : join(mkdtempSync(join(tmpdir(), 'crosstalk-readme-')), 'crosstalk');
const started = Date.now();
if (!here) {
  const git = spawnSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' });
  if (git.status === 0) {
    if (git.stdout.trim()) console.log('note: uncommitted changes are not in the clone (it is of HEAD)');
    sh(`git clone --quiet ${JSON.stringify(root)} ${JSON.stringify(work)}`, root);
  } else {
    // Not a git checkout (an unpacked tarball): copy the sources, as a clone would have them.
    sh(
      `mkdir -p ${JSON.stringify(work)} && tar -C ${JSON.stringify(root)} --exclude=node_modules ` +
        `--exclude=dist --exclude=.git -cf - . | tar -C ${JSON.stringify(work)} -xf -`,
      root,
    );
  }
  sh('npm ci --no-audit --no-fund', work);
  sh('npm run build --silent', work);
}
const env = {
  ...process.env,
  PATH: `${join(work, 'node_modules', '.bin')}${delimiter}${process.env.PATH}`,
  // Set by npm when this script runs as an npm script; the commands must not inherit them.
  npm_config_prefix: undefined,
};
for (const key of Object.keys(env)) if (key.startsWith('npm_') || env[key] === undefined) delete env[key];

const results = { ran: 0, failed: [], skipped: [] };
let examples = 0;
for (const file of documents()) {
  const found = blocks(file);
  for (const block of found) {
    const target = /^file\s+(\S+)/.exec(block.marker ?? '');
    if (target) writeFileSync(join(work, target[1]), `${block.body.join('\n')}\n`);
  }
  for (const block of found) {
    const where = `${block.file}:${block.line}`;
    const marker = block.marker ?? '';
    const isShell = ['sh', 'bash', 'shell'].includes(block.lang);
    const isProgram = marker === 'run';
    if (!isShell && !isProgram) continue;
    if (marker.startsWith('skip')) {
      for (const command of isShell ? commands(block.body) : ['(program)']) {
        results.skipped.push(
          `${where}  ${command}  -- ${marker.replace(/^skip\s*/, '') || 'no reason given'}`,
        );
        console.log(`skip  ${where}  ${command}`);
      }
      continue;
    }
    const servesMatch = /^serves\s+"(.*)"$/.exec(marker);
    const serves = servesMatch ? new RegExp(servesMatch[1]) : undefined;
    let list;
    if (isProgram) {
      const name = `.readme-example-${++examples}.mts`;
      writeFileSync(join(work, name), `${block.body.join('\n')}\n`);
      list = [`npx tsx ${name}`];
    } else {
      list = commands(block.body);
    }
    for (const command of list) {
      if (REGISTRY_INSTALL.test(command)) {
        results.skipped.push(`${where}  ${command}  -- ${REGISTRY_REASON}`);
        console.log(`skip  ${where}  ${command}`);
        continue;
      }
      const t0 = Date.now();
      process.stdout.write(`run   ${where}  ${command}`);
      const { problem, output } = await runCommand(command, { cwd: work, env, serves });
      results.ran++;
      const took = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
      if (problem) {
        results.failed.push(`${where}  ${command}: ${problem}`);
        console.log(`  FAILED (${problem}, ${took})`);
        console.log(
          output
            .trim()
            .split('\n')
            .slice(-15)
            .map((l) => `      | ${l}`)
            .join('\n'),
        );
      } else {
        console.log(`  ok (${took})`);
      }
    }
  }
}

if (!here && !keep) rmSync(dirname(work), { recursive: true, force: true });
if (keep && !here) console.log(`clone kept in ${work}`);
console.log(`\nskipped (marked in the documents):`);
for (const s of results.skipped) console.log(`  - ${s}`);
if (results.failed.length) {
  console.log('\nfailed:');
  for (const f of results.failed) console.log(`  - ${f}`);
}
console.log(
  `\nREADME commands: ${results.ran} run, ${results.failed.length} failing, ${results.skipped.length} skipped ` +
    `(${Math.round((Date.now() - started) / 1000)} s, in ${here ? 'this checkout' : `a fresh clone of ${relative(process.cwd(), root) || '.'}`})`,
);
process.exit(results.failed.length ? 1 : 0);
