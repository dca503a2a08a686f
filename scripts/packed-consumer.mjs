// What a third party meets: the workspace packages packed as npm publishes them (`npm pack`, so
// only what `files` ships) and installed from the tarballs into a consumer project. Used by
// check-typings.mjs and by packages/cli/test/third-party-codec.test.ts. Run after `npm run build`.
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const BUFFER = 16 * 1024 * 1024;

/** The repository's own package.json. */
export async function rootManifest() {
  return JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
}

/**
 * Packs every workspace package into `dir`. Returns `dependencies` (each package name ->
 * `file:./<tarball>`, for a consumer project in `dir`) and each package's manifest.
 */
export async function packWorkspaces(dir) {
  await run(npm, ['pack', '--workspaces', '--pack-destination', dir, '--silent'], {
    cwd: root,
    maxBuffer: BUFFER,
  });
  const tarballs = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  const dependencies = {};
  const manifests = [];
  for (const folder of (await rootManifest()).workspaces) {
    const manifest = JSON.parse(await readFile(join(root, folder, 'package.json'), 'utf8'));
    const tarball = tarballs.find((t) => t === tarballName(manifest));
    if (!tarball) throw new Error(`npm pack made no tarball for ${manifest.name}`);
    dependencies[manifest.name] = `file:./${tarball}`;
    manifests.push(manifest);
  }
  return { dependencies, manifests };
}

/** Packs the package in `folder` (not a workspace) into `dir`; returns the tarball's file name. */
export async function packFolder(folder, dir) {
  await run(npm, ['pack', folder, '--pack-destination', dir, '--silent'], { cwd: dir, maxBuffer: BUFFER });
  const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8'));
  return tarballName(manifest);
}

/** `@scope/name` 1.2.3 -> `scope-name-1.2.3.tgz`, as npm pack names it. */
function tarballName(manifest) {
  return `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`;
}

/**
 * Writes `consumer` as `dir`'s package.json and installs it. `packed` (from `packWorkspaces`) also
 * becomes `overrides`: the packages depend on one another by version, and those must come from
 * the tarballs too, never from a registry. Everything else comes from the npm cache when it has
 * it (the repository's `npm ci` filled it), else from the registry.
 */
export async function installConsumer(dir, consumer, packed) {
  const manifest = { ...consumer, overrides: { ...packed, ...consumer.overrides } };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent'], {
    cwd: dir,
    maxBuffer: BUFFER,
  });
}
