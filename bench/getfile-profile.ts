/**
 * Where getFile's time goes (issue 18): getFile between two client-API users in one process (as in
 * `client-api.ts`), with the CPU of every thread of the process over the timed rounds (from
 * /proc/self/task, Linux only: the main thread, V8's GC helpers, libuv's pool) and a CPU profile
 * of the timed rounds only (node:inspector, sendFile's hashing and the setup left out), as self
 * time per function in ms per MiB. The profiler samples wall time on the main thread: "(idle)"
 * there is native work outside JavaScript (TLS records read and decrypted) and waiting.
 *
 *   npx tsx --conditions=@crosstalk/source bench/getfile-profile.ts [--mb 64] [--rounds 8] [--top 20]
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { type FileOfferEvent, type FileSink, MemoryDht } from '@crosstalk/core';
import { bytesSource, createClient } from '@crosstalk/shim';
import { numberArg } from './lib/harness.js';

const MB = numberArg('mb', 64);
const ROUNDS = numberArg('rounds', 8);
const TOP = numberArg('top', 20);

/** CPU ms of each thread of this process so far, by thread id (utime + stime, in clock ticks of 10 ms). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(task, (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

interface Profile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

const dht = new MemoryDht();
const client = (user: string) =>
  createClient({ identity: { address: { user, network: 'aol' } }, network: 'aol', dht });
const alice = await client('alice');
const bob = await client('bob');
const data = randomBytes(MB * 1024 * 1024);
const sha256 = createHash('sha256').update(data).digest('hex');
const offers: FileOfferEvent[] = [];
bob.on('file-offer', (offer) => offers.push(offer));
/** Counts what it is given, as `client-api.ts`'s sink does. */
function countingSink(): FileSink {
  let offset = 0;
  return {
    get offset() {
      return offset;
    },
    write: async (chunk) => {
      offset += chunk.length;
    },
  };
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
// One sample per ms: a finer one slows the main thread visibly.
await session.post('Profiler.setSamplingInterval', { interval: 1000 });
const speeds: number[] = [];
const perThread = new Map<string, number>();
const profiles: Profile[] = [];
let cpu = 0;
// Round 0 warms up; the others are timed and profiled.
for (let round = 0; round <= ROUNDS; round++) {
  const offer = await alice.sendFile(bob.identity.address, bytesSource('bench.bin', data));
  while (!offers.some((o) => o.id === offer.id)) await new Promise((r) => setTimeout(r, 5));
  if (round > 0) await session.post('Profiler.start');
  const threads = threadCpu();
  const usage = process.cpuUsage();
  const start = performance.now();
  const result = await bob.getFile(offers.find((o) => o.id === offer.id)!, countingSink());
  const seconds = (performance.now() - start) / 1000;
  if (result.sha256 !== sha256) throw new Error('the file arrived different');
  if (round > 0) {
    const used = process.cpuUsage(usage);
    cpu += (used.user + used.system) / 1000;
    for (const [id, ms] of threadCpu())
      perThread.set(id, (perThread.get(id) ?? 0) + ms - (threads.get(id) ?? 0));
    profiles.push(((await session.post('Profiler.stop')) as { profile: Profile }).profile);
    speeds.push(MB / seconds);
  }
  await alice.withdrawFile(offer.id);
}
await alice.close();
await bob.close();

const mib = ROUNDS * MB;
const main = String(process.pid);
const self = new Map<string, number>();
let sampled = 0;
for (const profile of profiles) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // The profiler's own start and stop (node:inspector's post, and what it calls) are not getFile's.
  const own = new Set<number>();
  const mark = (id: number) => {
    own.add(id);
    for (const child of byId.get(id)!.children ?? []) mark(child);
  };
  for (const node of profile.nodes) if (node.callFrame.url === 'node:inspector') mark(node.id);
  profile.samples.forEach((id, i) => {
    if (own.has(id)) return;
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    sampled += (profile.timeDeltas[i] ?? 0) / 1000;
  });
}
const sorted = [...speeds].sort((a, b) => a - b);
const others = [...perThread].filter(([id, ms]) => id !== main && ms > 0).sort((a, b) => b[1] - a[1]);
console.log(
  [
    `getFile, ${MB} MiB, ${ROUNDS} rounds in one process: median ${sorted[sorted.length >> 1]!.toFixed(0)} MiB/s ` +
      `(${sorted.map((s) => s.toFixed(0)).join(', ')})`,
    `CPU per MiB: ${(cpu / mib).toFixed(2)} ms in all; main thread ${((perThread.get(main) ?? 0) / mib).toFixed(2)}, ` +
      `the others ${others.map(([, ms]) => (ms / mib).toFixed(2)).join(' ')}`,
    '',
    `| main thread, self time (${(sampled / mib).toFixed(2)} ms per MiB sampled) | ms per MiB | share |`,
    '|---|---:|---:|',
    ...[...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([key, ms]) => `| ${key} | ${(ms / mib).toFixed(3)} | ${((100 * ms) / sampled).toFixed(1)}% |`),
  ].join('\n'),
);
process.exit(0);
