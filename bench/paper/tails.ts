/**
 * Where did a run's tail come from? Reads a `paper-<stamp>.samples.json` that `npm run bench`
 * wrote and, for each phase, groups the slowest 1% of messages into episodes (slow messages sent
 * within 150 ms of each other), beside the stalls each process recorded (GC pauses, and loop
 * stalls with the CPU the process used meanwhile: little CPU means it was waiting for a core).
 *
 *   npx tsx bench/paper/tails.ts bench/results/paper-<stamp>.samples.json
 */
import { readFileSync } from 'node:fs';
import type { PairStats } from './load-process.js';
import type { LoopReport } from './loop-watch.js';

interface Phase {
  pairs: PairStats[];
  windowStart: number;
  loops: Record<string, LoopReport>;
}

interface Slow {
  at: number;
  ms: number;
  pair: string;
  sender: number;
  receiver: number;
}

const GAP_MS = 150;

function episodes(phase: Phase): { p99: number; groups: Slow[][] } {
  const all: Slow[] = phase.pairs.flatMap((p) =>
    p.latencies.map((ms, i) => ({
      at: p.sentAt[i]!,
      ms,
      pair: `${p.from}>${p.to}`,
      sender: p.sender[i]!,
      receiver: p.receiver[i]!,
    })),
  );
  const sorted = all.map((s) => s.ms).sort((a, b) => a - b);
  const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
  const slow = all.filter((s) => s.ms >= p99).sort((a, b) => a.at - b.at);
  const groups: Slow[][] = [];
  for (const s of slow) {
    const last = groups.at(-1);
    if (last && s.at - last.at(-1)!.at < GAP_MS) last.push(s);
    else groups.push([s]);
  }
  return { p99, groups };
}

const count = (values: string[]) => {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k} ${n}`).join(', ');
};

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: tsx bench/paper/tails.ts bench/results/paper-<stamp>.samples.json\n');
  process.exit(2);
}
const phases = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Phase>;
for (const [name, phase] of Object.entries(phases)) {
  const { p99, groups } = episodes(phase);
  console.log(`\n${name}: p99 ${p99.toFixed(2)} ms; ${groups.length} episodes of slow messages`);
  const stalls = Object.entries(phase.loops ?? {}).flatMap(([process, loop]) =>
    loop.stalls.map((s) => ({ process, ...s, at: s.at - phase.windowStart })),
  );
  for (const g of groups) {
    const begin = g[0]!.at;
    const end = Math.max(...g.map((s) => s.at + s.ms));
    console.log(
      `  ${begin.toFixed(0)}-${end.toFixed(0)} ms: ${g.length} messages, worst ${Math.max(...g.map((s) => s.ms)).toFixed(1)} ms, ` +
        `${new Set(g.map((s) => s.receiver)).size} receivers; to ${count(g.map((s) => s.pair.split('>')[1]!))}`,
    );
    // The stalls that overlap the episode: the processes that were not running then, and why.
    for (const s of stalls.filter((s) => s.at < end && s.at + s.ms > begin))
      console.log(`      ${s.process} stalled ${s.ms.toFixed(1)} ms at ${s.at.toFixed(0)}: ${s.what}`);
  }
  const episodeStalls = new Set(
    groups.flatMap((g) => {
      const begin = g[0]!.at;
      const end = Math.max(...g.map((s) => s.at + s.ms));
      return stalls.filter((s) => s.at < end && s.at + s.ms > begin);
    }),
  );
  const others = stalls.filter((s) => !episodeStalls.has(s));
  console.log(`  stalls outside any episode: ${others.length} (${count(others.map((s) => s.process))})`);
}
