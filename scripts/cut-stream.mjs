#!/usr/bin/env node
// Cuts one direction of one connection out of a recorded session (fixtures/captures/transcripts/
// *.jsonl) as hex, one frame a line: the input `crosstalk decode --input hex` reads.
// Usage: node scripts/cut-stream.mjs TRANSCRIPT.jsonl CONNECTION 'C>S'|'S>C'   (no arguments: lists them)
import { readFileSync } from 'node:fs';

const [transcript, connection, direction] = process.argv.slice(2);
if (!transcript) {
  console.error("usage: node scripts/cut-stream.mjs TRANSCRIPT.jsonl [CONNECTION 'C>S'|'S>C']");
  process.exit(1);
}
const records = readFileSync(transcript, 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line))
  .filter((r) => typeof r.hex === 'string');
if (!connection || !direction) {
  const seen = new Map();
  for (const r of records)
    seen.set(`${r.conn} ${r.dir}`, (seen.get(`${r.conn} ${r.dir}`) ?? 0) + r.hex.length / 2);
  for (const [key, bytes] of seen) console.log(`${key}  (${bytes} bytes)`);
  process.exit(0);
}
const picked = records.filter((r) => r.conn === connection && r.dir === direction);
if (picked.length === 0) {
  console.error(`no ${direction} bytes on connection ${connection} in ${transcript}`);
  process.exit(1);
}
process.stdout.write(picked.map((r) => `${r.hex}\n`).join(''));
