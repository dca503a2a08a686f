#!/usr/bin/env node
// `npm run build`: builds each workspace package whose inputs changed since its last build, in the
// workspaces' order (dependencies first). A package's inputs are its sources and build config, the
// shared build config, the lock file and the inputs of the workspace packages it depends on; their
// hash is kept in dist/.build-stamp after a successful build. So `npm start` and `npm test` (which
// build first) start at once when nothing changed. `npm run build -- --force` rebuilds everything;
// `node scripts/build.mjs --check` only reports.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
// --check: build nothing, say what is stale, and exit 1 if anything is.
const checkOnly = process.argv.includes('--check');
const STAMP = '.build-stamp';
const SHARED = ['tsup.shared.ts', 'tsconfig.base.json', 'package-lock.json'];
const OWN = ['package.json', 'tsup.config.ts', 'tsconfig.json'];

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** Every file path the manifest promises from the build (exports, main, module, types). */
function builtFiles(manifest) {
  const found = [];
  const walk = (value) => {
    if (typeof value === 'string') {
      if (value.startsWith('./dist/')) found.push(value);
    } else if (value && typeof value === 'object') {
      for (const next of Object.values(value)) walk(next);
    }
  };
  walk([manifest.exports, manifest.main, manifest.module, manifest.types]);
  return found;
}

const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const hashes = new Map();
let built = 0;
for (const folder of workspaces) {
  const dir = join(root, folder);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const hash = createHash('sha256');
  const inputs = [
    ...SHARED.map((f) => join(root, f)),
    ...OWN.map((f) => join(dir, f)),
    ...files(join(dir, 'src')).sort(),
  ].filter((f) => existsSync(f));
  for (const file of inputs)
    hash
      .update(`${relative(root, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  const deps = { ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies };
  for (const name of Object.keys(deps).sort()) {
    if (hashes.has(name)) hash.update(`${name}\0${hashes.get(name)}\0`);
  }
  const digest = hash.digest('hex');
  hashes.set(manifest.name, digest);
  if (!manifest.scripts?.build) continue;
  const stampFile = join(dir, 'dist', STAMP);
  const current =
    !force &&
    existsSync(stampFile) &&
    readFileSync(stampFile, 'utf8').trim() === digest &&
    builtFiles(manifest).every((f) => existsSync(join(dir, f)));
  if (current) {
    console.log(`build: ${manifest.name} is up to date`);
    continue;
  }
  if (checkOnly) {
    console.log(`build: ${manifest.name} is stale`);
    built++;
    continue;
  }
  console.log(`build: ${manifest.name}`);
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${manifest.name} failed`);
    process.exit(result.status ?? 1);
  }
  writeFileSync(stampFile, `${digest}\n`);
  built++;
}
if (checkOnly) {
  console.log(built ? `build: ${built} package(s) to build` : 'build: everything is up to date');
  process.exit(built ? 1 : 0);
}
console.log(built ? `build: built ${built} package(s)` : 'build: everything is up to date');
