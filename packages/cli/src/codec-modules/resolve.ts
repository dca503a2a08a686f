import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where a codec module specifier leads, as `import()` from the current directory would find it:
 * a path (`./my-codec.js`, `/opt/codecs/irc.mjs`, `file:` URL, a package folder) or a package
 * name with an optional subpath (`@acme/codec-irc`, `codec-irc/line`), looked up in the
 * `node_modules` folders from `cwd` upwards. Node resolves a bare specifier from the importing
 * file, not from the current directory (and `import.meta.resolve` takes no parent without a flag),
 * so the lookup is done here: Node's own for packages without an `exports` map, and the `exports`
 * map read with the conditions `import()` uses (`node`, `import`, `default`) otherwise, so a dual
 * package loads as ESM (Node's "Resolution Algorithm Specification", PACKAGE_EXPORTS_RESOLVE).
 */

/** A path rather than a package name: `./`, `../`, `/`, a drive letter, or a `file:` URL. */
export function isPathSpecifier(specifier: string): boolean {
  return /^(?:\.{1,2}(?:[\\/]|$)|[\\/]|[A-Za-z]:[\\/]|file:)/.test(specifier);
}

/** Why a specifier leads nowhere (the caller wraps it in a `CodecModuleNotFoundError`). */
export class UnresolvedSpecifier extends Error {}

/** The file a specifier names, resolved from `cwd`; throws `UnresolvedSpecifier` saying why not. */
export function resolveCodecModule(specifier: string, cwd: string): string {
  if (isPathSpecifier(specifier)) {
    const path = specifier.startsWith('file:') ? fileURLToPath(specifier) : resolve(cwd, specifier);
    if (!existsSync(path)) throw new UnresolvedSpecifier(`no such file ${path}`);
    return statSync(path).isDirectory() ? packageEntry(path, '.', path) : path;
  }
  const { name, subpath } = splitPackageSpecifier(specifier);
  const lookup = createRequire(join(cwd, 'noop.js'));
  for (const folder of lookup.resolve.paths(name) ?? []) {
    const dir = join(folder, name);
    if (existsSync(join(dir, 'package.json'))) return packageEntry(dir, subpath, name);
  }
  throw new UnresolvedSpecifier(
    `no package "${name}" is installed in ${resolve(cwd)} or a folder above it (install it there, or give its path)`,
  );
}

/** `@scope/name/sub/path` -> `{ name: '@scope/name', subpath: './sub/path' }`. */
function splitPackageSpecifier(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split('/');
  const length = specifier.startsWith('@') ? 2 : 1;
  const rest = parts.slice(length).join('/');
  return { name: parts.slice(0, length).join('/'), subpath: rest ? `./${rest}` : '.' };
}

/** The file a package folder's manifest gives for `subpath` (`.` for the package itself). */
function packageEntry(dir: string, subpath: string, name: string): string {
  const manifestFile = join(dir, 'package.json');
  if (!existsSync(manifestFile)) {
    if (subpath === '.') throw new UnresolvedSpecifier(`${dir} is a folder without a package.json`);
    return createRequire(join(dir, 'noop.js')).resolve(join(dir, subpath));
  }
  let manifest: { exports?: unknown };
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { exports?: unknown };
  } catch {
    throw new UnresolvedSpecifier(`${manifestFile} is not JSON`);
  }
  if (manifest.exports === undefined || manifest.exports === null) {
    // No exports map: `main`, `index.js` and extension probing are the same for import and require.
    try {
      return createRequire(manifestFile).resolve(subpath === '.' ? dir : join(dir, subpath));
    } catch {
      throw new UnresolvedSpecifier(`package ${name} has no file for "${subpath}"`);
    }
  }
  const target = exportsTarget(manifest.exports, subpath);
  if (target === undefined)
    throw new UnresolvedSpecifier(`package ${name} does not export "${subpath}" to import()`);
  const file = resolve(dir, target);
  // A target must stay inside its package (as Node requires).
  if (!file.startsWith(dir + sep))
    throw new UnresolvedSpecifier(`package ${name} exports a path outside itself`);
  if (!existsSync(file))
    throw new UnresolvedSpecifier(`package ${name} exports "${subpath}" as ${file}, which is missing`);
  return file;
}

/** The conditions `import()` matches in an exports map, besides `default`. */
const CONDITIONS = new Set(['node', 'import', 'default']);

function exportsTarget(exports: unknown, subpath: string): string | undefined {
  const isSubpathMap =
    typeof exports === 'object' &&
    exports !== null &&
    !Array.isArray(exports) &&
    Object.keys(exports).some((key) => key.startsWith('.'));
  const map = (isSubpathMap ? exports : { '.': exports }) as Record<string, unknown>;
  if (Object.hasOwn(map, subpath) && !subpath.includes('*'))
    return conditionalTarget(map[subpath], undefined);
  // Subpath patterns (`./lib/*`): the longest matching prefix wins.
  let best: { key: string; match: string } | undefined;
  for (const key of Object.keys(map)) {
    const star = key.indexOf('*');
    if (star < 0 || key.indexOf('*', star + 1) >= 0) continue;
    const [before, after] = [key.slice(0, star), key.slice(star + 1)];
    if (subpath.length < key.length - 1 || !subpath.startsWith(before) || !subpath.endsWith(after)) continue;
    if (!best || before.length > best.key.indexOf('*')) {
      best = { key, match: subpath.slice(before.length, subpath.length - after.length) };
    }
  }
  return best ? conditionalTarget(map[best.key], best.match) : undefined;
}

/** A target string, the first usable entry of an array, or the first matching condition's target. */
function conditionalTarget(target: unknown, match: string | undefined): string | undefined {
  if (typeof target === 'string') {
    if (!target.startsWith('./')) return undefined;
    return match === undefined ? target : target.replaceAll('*', match);
  }
  if (Array.isArray(target)) {
    for (const t of target) {
      const found = conditionalTarget(t, match);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof target !== 'object' || target === null) return undefined;
  for (const [condition, next] of Object.entries(target)) {
    if (!CONDITIONS.has(condition)) continue;
    const found = conditionalTarget(next, match);
    if (found !== undefined) return found;
  }
  return undefined;
}
