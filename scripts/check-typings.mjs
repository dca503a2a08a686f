#!/usr/bin/env node
// Type-checks the published typings as a strict third party meets them: packs every workspace
// package (`npm pack`, so only what `files` ships), installs the tarballs into a temporary
// consumer project, and compiles a file importing every public entry with `module: NodeNext`,
// `strict` and `skipLibCheck: false`, once as ESM (.mts, the `import` condition) and once as
// CommonJS (.cts, the `require` condition, for the entries that advertise it). The repository's
// own type check does not see this: it reads the sources, with the packages' private shims.
// Run after `npm run build`: node scripts/check-typings.mjs [--keep]
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { installConsumer, packWorkspaces, root, rootManifest } from './packed-consumer.mjs';

const run = promisify(execFile);
const keep = process.argv.includes('--keep');

const { devDependencies } = await rootManifest();
const dir = await mkdtemp(join(tmpdir(), 'crosstalk-typings-'));
let failed = false;
try {
  const { dependencies, manifests } = await packWorkspaces(dir);
  const esm = [];
  const cjs = [];
  for (const manifest of manifests) {
    for (const [subpath, entry] of Object.entries(manifest.exports ?? {})) {
      if (entry === null || subpath.includes('*') || subpath === './package.json') continue;
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      if (typeof entry === 'string' || 'import' in entry || 'default' in entry) esm.push(specifier);
      if (typeof entry === 'string' || 'require' in entry || 'default' in entry) cjs.push(specifier);
    }
  }
  await installConsumer(
    dir,
    {
      name: 'crosstalk-typings-consumer',
      private: true,
      type: 'module',
      dependencies,
      devDependencies: { '@types/node': devDependencies['@types/node'] },
    },
    dependencies,
  );
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
