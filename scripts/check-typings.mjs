#!/usr/bin/env node
// Type-checks the published typings as a strict third party meets them: packs every workspace
// package (`npm pack`, so only what `files` ships), installs the tarballs into a temporary
// consumer project, and compiles a file importing every public entry with `module: NodeNext`,
// `strict` and `skipLibCheck: false`, once as ESM (.mts, the `import` condition) and once as
// CommonJS (.cts, the `require` condition, for the entries that advertise it). The repository's
// own type check does not see this: it reads the sources, with the packages' private shims.
// Run after `npm run build`: node scripts/check-typings.mjs [--keep]
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const keep = process.argv.includes('--keep');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const rootManifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const dir = await mkdtemp(join(tmpdir(), 'crosstalk-typings-'));
let failed = false;
try {
  await run(npm, ['pack', '--workspaces', '--pack-destination', dir, '--silent'], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  const tarballs = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  const dependencies = {};
  const esm = [];
  const cjs = [];
  for (const folder of rootManifest.workspaces) {
    const manifest = JSON.parse(await readFile(join(root, folder, 'package.json'), 'utf8'));
    // The examples are workspaces too, but private: nothing is published from them.
    if (manifest.private) continue;
    const tarball = tarballs.find(
      (t) => t === `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`,
    );
    if (!tarball) throw new Error(`npm pack made no tarball for ${manifest.name}`);
    dependencies[manifest.name] = `file:./${tarball}`;
    for (const [subpath, entry] of Object.entries(manifest.exports ?? {})) {
      if (entry === null || subpath.includes('*') || subpath === './package.json') continue;
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      if (typeof entry === 'string' || 'import' in entry || 'default' in entry) esm.push(specifier);
      if (typeof entry === 'string' || 'require' in entry || 'default' in entry) cjs.push(specifier);
    }
  }
  const consumer = {
    name: 'crosstalk-typings-consumer',
    private: true,
    type: 'module',
    dependencies,
    devDependencies: { '@types/node': rootManifest.devDependencies['@types/node'] },
    // The packages depend on one another by version: take those from the tarballs too, never
    // from a registry.
    overrides: dependencies,
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(consumer, null, 2)}\n`);
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent'], {
    cwd: dir,
    maxBuffer: 16 * 1024 * 1024,
  });
  const source = (specifiers) =>
    `${specifiers.map((s, i) => `import * as entry${i} from '${s}';`).join('\n')}\n` +
    `export const entries = [${specifiers.map((_, i) => `entry${i}`).join(', ')}];\n`;
  await writeFile(join(dir, 'esm.mts'), source(esm));
  await writeFile(join(dir, 'cjs.cts'), source(cjs));
  const tsconfig = {
    compilerOptions: {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      types: ['node'],
    },
    files: ['esm.mts', 'cjs.cts'],
  };
  await writeFile(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
      cwd: dir,
      maxBuffer: 16 * 1024 * 1024,
    });
    console.log(
      `typings: ${esm.length} entries as ESM and ${cjs.length} as CommonJS compile for a strict NodeNext consumer`,
    );
  } catch (error) {
    failed = true;
    console.log(error.stdout || error.message);
    console.log(
      'typings: a strict NodeNext consumer (skipLibCheck: false) cannot compile the published types',
    );
  }
} finally {
  if (keep) console.log(`consumer project kept in ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
