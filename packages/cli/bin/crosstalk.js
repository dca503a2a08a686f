#!/usr/bin/env node
// The `crosstalk` command. This small file is committed, not built, so that `npm ci` can link the
// bin on a fresh clone (npm skips a bin whose target does not exist yet); the command itself is
// the build's dist/bin.js.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write(
    `crosstalk: ${fileURLToPath(built)} is missing: the package is not built yet (run \`npm run build\` at the repository root)\n`,
  );
  process.exit(1);
}
await import(built.href);
