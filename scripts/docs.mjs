#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
// API reference with TypeDoc, from what a dependant can import: one module per subpath of each
// workspace package's `exports` map (the `@crosstalk/source` condition names its TypeScript
// source), named as it is imported (`@crosstalk/core`, `@crosstalk/cli/drivers`).
//   node scripts/docs.mjs              writes the HTML to docs/api/ (gitignored)
//   node scripts/docs.mjs --check      fails on a broken {@link}, a reference to something not
//                                      exported, or an export without a doc comment; writes the
//                                      HTML to a temp dir and removes it
//   node scripts/docs.mjs --out DIR    writes the HTML there instead
//   node scripts/docs.mjs --baseline   rewrites scripts/docs-undocumented.txt (see below)
// scripts/docs-undocumented.txt lists the exports (and members) that had no doc comment when the
// check was introduced. The check accepts those and nothing else: a new export without a comment
// fails, and so does a listed name that has since been documented or removed (TypeDoc reports the
// unused entry), so the list only shrinks. Document something, then run --baseline.
// Members of a zod schema's type (`ImEventSchema`'s `kind`, `id`, ...) are not required: they are
// zod's generic expansion of the schema, documented on the schema and on its inferred interface.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Application, Converter, LogLevel, ReferenceType, ReflectionKind } from 'typedoc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BASELINE = join(root, 'scripts/docs-undocumented.txt');
const { values } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    baseline: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const packageNames = [];

/** Each export subpath's source file, and the specifier it is imported by. */
function entryPoints() {
  const entries = [];
  for (const folder of workspaces) {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8'));
    // The examples are workspaces too, but private: nothing is published from them to document.
    if (manifest.private) continue;
    packageNames.push(manifest.name);
    for (const [subpath, entry] of Object.entries(manifest.exports ?? {})) {
      if (entry === null || typeof entry !== 'object' || subpath.includes('*')) continue;
      const source = entry['@crosstalk/source'];
      if (typeof source !== 'string') {
        throw new Error(`${manifest.name}: export "${subpath}" has no @crosstalk/source condition`);
      }
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      entries.push({ file: resolve(root, folder, source), specifier });
    }
  }
  return entries;
}

function readBaseline() {
  try {
    return readFileSync(BASELINE, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
  } catch {
    return [];
  }
}

const entries = entryPoints();
const specifierOf = new Map(entries.map((e) => [e.file, e.specifier]));
const scratch = (values.check || values.baseline) && !values.out;
const temp = scratch ? mkdtempSync(join(tmpdir(), 'crosstalk-api-')) : undefined;
const out = values.out ? resolve(values.out) : (temp ?? join(root, 'docs/api'));

// Source links follow the clone's `origin` when it has one; a clone without (a local copy) links to
// the files in the checkout instead (pages sit two folders below the repository root's docs/).
const hasRemote = spawnSync('git', ['remote', 'get-url', 'origin'], { cwd: root }).status === 0;

const app = await Application.bootstrapWithPlugins({
  name: 'CrossTalk SDK',
  ...(hasRemote ? {} : { sourceLinkTemplate: '../../../{path}#L{line}' }),
  entryPoints: entries.map((e) => e.file),
  entryPointStrategy: 'resolve',
  tsconfig: join(root, 'tsconfig.docs.json'),
  readme: 'none',
  excludePrivate: true,
  excludeProtected: true,
  excludeInternal: true,
  excludeExternals: true,
  // `npm run lint` type-checks; TypeDoc only needs the symbols.
  skipErrorChecking: true,
  sort: ['source-order'],
  validation: { notExported: true, invalidLink: true, invalidPath: true, notDocumented: true },
  // Every workspace package's exports must be documented (TypeDoc's default is the root package's).
  packagesRequiringDocumentation: packageNames,
  treatWarningsAsErrors: values.check,
  logLevel: LogLevel.Info,
});

// Name each module as a dependant imports it rather than by its path under packages/.
app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
  for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
    const file = module.sources?.[0]?.fullFileName;
    const specifier = file ? specifierOf.get(resolve(file)) : undefined;
    if (specifier) module.name = specifier;
  }
});

/** The undocumented members of zod schemas' types (see the header). */
function zodMembers(project) {
  const names = new Set();
  for (const ref of project.getReflectionsByKind(ReflectionKind.All)) {
    if (ref.hasComment()) continue;
    for (let up = ref.parent; up; up = up.parent) {
      if (
        up.kindOf?.(ReflectionKind.Variable) &&
        up.type instanceof ReferenceType &&
        up.type.package === 'zod'
      ) {
        names.add(ref.getFriendlyFullName());
        break;
      }
    }
  }
  return names;
}

const started = performance.now();
const project = await app.convert();
if (!project) {
  console.error('docs: TypeDoc could not convert the project');
  process.exit(1);
}
const exempt = zodMembers(project);
const baseline = new Set(values.baseline ? [] : readBaseline());

// TypeDoc reports each undocumented reflection as a validation warning: drop the exempt ones and
// those on the baseline (noting which baseline entries were seen), collect them all for --baseline.
const undocumented = new Set();
const warn = app.logger.validationWarning.bind(app.logger);
app.logger.validationWarning = (message, ...rest) => {
  const found = /^(.+) \((\w+)\), defined in .*, does not have any documentation$/.exec(String(message));
  if (found) {
    const name = found[1];
    if (exempt.has(name)) return;
    undocumented.add(name);
    if (values.baseline || baseline.has(name)) return;
  }
  warn(message, ...rest);
};

app.validate(project);
const stale = [...baseline].filter((name) => !undocumented.has(name));
if (stale.length > 0) {
  app.logger.warn(
    `${relative(root, BASELINE)} lists names that are now documented or gone; run node scripts/docs.mjs --baseline:\n\t${stale.join('\n\t')}`,
  );
}
await app.generateDocs(project, out);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (temp) rmSync(temp, { recursive: true, force: true });

if (values.baseline) {
  const header = [
    '# Exports and members without a doc comment, accepted by `npm run docs:check` (see scripts/docs.mjs).',
    '# This list only shrinks: document one, then run `node scripts/docs.mjs --baseline`.',
  ];
  writeFileSync(BASELINE, `${[...header, ...[...undocumented].sort()].join('\n')}\n`);
  console.log(`docs: ${undocumented.size} undocumented names written to ${relative(root, BASELINE)}`);
}
if (app.logger.hasErrors() || (values.check && app.logger.hasWarnings())) {
  console.error(`docs: ${app.logger.errorCount} errors, ${app.logger.warningCount} warnings (${seconds} s)`);
  process.exit(1);
}
console.log(
  `docs: ${entries.length} entry points${temp ? ' checked' : ` written to ${relative(root, out) || out}`} (${seconds} s)`,
);
