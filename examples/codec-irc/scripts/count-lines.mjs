#!/usr/bin/env node
// Counts the codec's source lines (src/, tests not included): all lines, and code lines (without
// blank lines and comments), per file and in total. Run: node examples/codec-irc/scripts/count-lines.mjs
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const src = join(import.meta.dirname, '..', 'src');
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
let [lines, code] = [0, 0];
for (const file of files(src).sort()) {
  let [n, c, inComment] = [0, 0, false];
  for (const raw of readFileSync(file, 'utf8').split('\n').slice(0, -1)) {
    const line = raw.trim();
    n++;
    if (inComment) inComment = !line.includes('*/');
    else if (line.startsWith('/*')) inComment = !line.includes('*/');
    else if (line !== '' && !line.startsWith('//')) c++;
  }
  console.log(`${String(n).padStart(5)} ${String(c).padStart(5)}  ${relative(src, file)}`);
  [lines, code] = [lines + n, code + c];
}
console.log(
  `${String(lines).padStart(5)} ${String(code).padStart(5)}  total (lines, code lines without comments and blanks)`,
);
