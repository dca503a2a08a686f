#!/usr/bin/env node
// Loads every advertised entry point of every workspace package the way a user's program would:
// each export subpath under each condition it advertises (`import` through import(), `require`
// through require()), each in its own node process started from the repository root, so the
// package resolves through node_modules exactly as it does for a dependant. publint and attw read
// the files; they do not run them, so they miss an entry that throws when loaded (an ESM-only
// dependency behind a `require` condition). Also checks that every file the manifest names exists
// and that the `import` and `require` flavours of an entry export the same names.
// Run after `npm run build`: node scripts/check-entry-points.mjs
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const TIMEOUT_MS = 60_000;

const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const failures = [];
const checks = [];

/** The file a condition leads to, following nested conditions (`{ types, default }`). */
function target(value, wanted) {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [condition, next] of Object.entries(value)) {
    if (wanted.includes(condition)) {
      const found = target(next, wanted);
      if (found) return found;
    }
  }
  return undefined;
}

for (const folder of workspaces) {
  const dir = join(root, folder);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const name = manifest.name;
  // An unpublished example without a build runs from its TypeScript sources (tsx, vitest):
  // nothing a dependant loads with plain node.
  if (manifest.private && !manifest.scripts?.build) continue;
  for (const field of ['main', 'module', 'types']) {
    if (manifest[field] && !existsSync(join(dir, manifest[field]))) {
      failures.push(`${name}: "${field}" names ${manifest[field]}, which does not exist`);
    }
  }
  for (const [command, file] of Object.entries(manifest.bin ?? {})) {
    if (!existsSync(join(dir, file)))
      failures.push(`${name}: bin "${command}" names ${file}, which does not exist`);
  }
  for (const [subpath, entry] of Object.entries(manifest.exports ?? {})) {
    if (entry === null || subpath.includes('*') || subpath === './package.json') continue;
    const specifier = subpath === '.' ? name : `${name}/${subpath.slice(2)}`;
    const flavours = [];
    for (const [condition, conditions] of [
      ['import', ['import', 'node', 'default']],
      ['require', ['require', 'node', 'default']],
    ]) {
      const advertised = typeof entry === 'string' || condition in entry || 'default' in entry;
      if (!advertised) continue;
      const file = target(typeof entry === 'string' ? entry : entry, conditions);
      if (!file || !existsSync(join(dir, file))) {
        failures.push(`${specifier} (${condition}): names ${file ?? 'no file'}, which does not exist`);
        continue;
      }
      const types = target(entry[condition], ['types']);
      if (types && !existsSync(join(dir, types))) {
        failures.push(`${specifier} (${condition}): its types ${types} do not exist`);
      }
      flavours.push(condition);
    }
    if (flavours.length === 0) failures.push(`${specifier}: advertises neither import nor require`);
    checks.push({ specifier, flavours });
  }
}

const load = {
  import: (specifier) => [
    '--input-type=module',
    '-e',
    `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== 'module.exports').sort()));`,
  ],
  require: (specifier) => [
    '-e',
    `const m = require(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort()));`,
  ],
};

let loaded = 0;
for (const { specifier, flavours } of checks) {
  const names = {};
  for (const flavour of flavours) {
    try {
      const { stdout } = await run(process.execPath, load[flavour](specifier), {
        cwd: root,
        timeout: TIMEOUT_MS,
        killSignal: 'SIGKILL',
      });
      names[flavour] = JSON.parse(stdout.trim().split('\n').at(-1));
      loaded++;
      console.log(`ok    ${flavour.padEnd(7)} ${specifier} (${names[flavour].length} exports)`);
    } catch (error) {
      const why = (error.stderr || error.message || String(error))
        .split('\n')
        .find((line) => /^\s*\w*Error( \[\w+\])?:/.test(line));
      failures.push(`${specifier} (${flavour}): ${why?.trim() ?? `exited ${error.code}`}`);
      console.log(`FAIL  ${flavour.padEnd(7)} ${specifier}`);
    }
  }
  if (names.import && names.require) {
    const onlyImport = names.import.filter((n) => !names.require.includes(n));
    const onlyRequire = names.require.filter((n) => !names.import.includes(n));
    if (onlyImport.length || onlyRequire.length) {
      failures.push(
        `${specifier}: import and require export different names (only import: ${onlyImport.join(', ') || '-'}; only require: ${onlyRequire.join(', ') || '-'})`,
      );
    }
  }
}

console.log(`\nentry points: ${loaded} loaded, ${failures.length} problem(s)`);
for (const failure of failures) console.log(`  - ${failure}`);
process.exit(failures.length ? 1 : 0);
