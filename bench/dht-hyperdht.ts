/**
 * The directory on hyperdht: publish (`put`) and lookup (`get`) through HyperDhtStore beside raw
 * hyperdht `mutablePut` / `mutableGet` of a value of the same size, on the same testnet, for
 * testnets of several sizes, all in one run; and the hop counts of the lookups against N. Prints a
 * markdown section; with `--append FILE` also appends it to FILE (docs/benchmarks.md).
 *
 *   npx tsx --conditions=@crosstalk/source bench/dht-hyperdht.ts [--sizes 10,50,100,200] [--ops 200]
 *                                                                [--append docs/benchmarks.md]
 *
 * Every node runs in this one process on 127.0.0.1, so a round trip costs no wire time: the figures
 * compare the work and the number of sequential DHT rounds of each operation, not network latency.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { type HyperDhtNode, HyperDhtStore, startTestnet } from '@crosstalk/network-hyperdht';
import HyperDHT from 'hyperdht';
import { fmt, machineLine, publish } from './lib/harness.js';

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
};
const SIZES = arg('sizes', '10,50,100,200').split(',').map(Number);
const OPS = Number(arg('ops', '200'));
const WARMUP = 10;
const VALUE_BYTES = 400; // a signed directory record (location, presence) is 300-500 bytes
const MANY = 5; // publishers under one key, for the lookup of a busy key

// ------------------------------------------------------------ query statistics

/** dht-rpc command numbers (hyperdht lib/constants.js). */
const LOOKUP = 3;
const MUTABLE_GET = 7;

interface QueryStats {
  command: number;
  /** Depth of the node nearest the target: 1 = one of the first nodes asked answered closest. */
  hops: number;
  /** Requests the query sent (answered or timed out). */
  rpcs: number;
}

interface InternalQuery {
  command: number;
  successes: number;
  errors: number;
  closestReplies: { from: { host: string; port: number } }[];
  _addPending(node: { host: string; port: number }, ref: { host: string; port: number } | null): boolean;
  finished(): Promise<void>;
  on(event: 'close', listener: () => void): void;
}

/**
 * Records every query a node runs, reading dht-rpc's internals (no public API counts hops): each
 * node added to a query is one hop further than the node that named it.
 */
function instrument(node: HyperDhtNode): { take(): QueryStats[] } {
  let done: QueryStats[] = [];
  const raw = node as unknown as { query: (...args: unknown[]) => InternalQuery };
  const query = raw.query.bind(node);
  raw.query = (...args: unknown[]) => {
    const q = query(...args);
    const depth = new Map<string, number>();
    const addPending = q._addPending.bind(q);
    q._addPending = (peer, ref) => {
      const at = `${peer.host}:${peer.port}`;
      if (!depth.has(at)) depth.set(at, ref ? (depth.get(`${ref.host}:${ref.port}`) ?? 0) + 1 : 1);
      return addPending(peer, ref);
    };
    q.on('close', () => {
      const closest = q.closestReplies[0]?.from;
      done.push({
        command: q.command,
        hops: closest ? (depth.get(`${closest.host}:${closest.port}`) ?? 0) : 0,
        rpcs: q.successes + q.errors,
      });
    });
    return q;
  };
  return {
    take() {
      const out = done;
      done = [];
      return out;
    },
  };
}

// ------------------------------------------------------------ measuring

interface Row {
  nodes: number;
  setupMs: number;
  cases: Map<string, number[]>;
  lookupHops: number[];
  lookupRpcs: number[];
  getHops: number[];
  getRpcs: number[];
}

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function timed(samples: number[] | undefined, work: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  await work();
  samples?.push(performance.now() - start);
}

function value(i: number): Uint8Array {
  const out = new Uint8Array(VALUE_BYTES);
  for (let j = 0; j < out.length; j++) out[j] = (i * 31 + j * 7) & 0xff;
  out[0] = i & 0xff;
  out[1] = (i >> 8) & 0xff;
  return out;
}

async function measure(nodes: number): Promise<Row> {
  const setupStart = performance.now();
  const testnet = await startTestnet({ size: nodes });
  const setupMs = performance.now() - setupStart;
  const namespace = randomUUID();
  // Publisher and reader on nodes of their own; the raw operations use the same two nodes. A second
  // pair reads every record's latest version (`freshness: 'latest'`).
  const publisher = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace });
  const reader = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace });
  const publisherLatest = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace, freshness: 'latest' });
  const readerLatest = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace, freshness: 'latest' });
  const stores = [publisher, reader, publisherLatest, readerLatest];
  await Promise.all(stores.map((s) => s.ready()));
  const writer = publisher.node;
  const looker = reader.node;
  const stats = instrument(looker);
  const cases = new Map<string, number[]>(
    [
      'publish: store put',
      'publish: store put (latest version)',
      'publish: raw mutablePut',
      'lookup: store get (1 value)',
      'lookup: store get (1 value, latest version)',
      'lookup: store get (5 publishers)',
      'lookup: store get (5 publishers, latest version)',
      'lookup: raw mutableGet',
    ].map((name) => [name, []]),
  );
  const row: Row = { nodes, setupMs, cases, lookupHops: [], lookupRpcs: [], getHops: [], getRpcs: [] };
  const busy = 'user:busy@aol';
  for (let p = 0; p < MANY; p++) await publisher.put(busy, value(1_000_000 + p), { secret: `gateway-${p}` });

  for (let i = 0; i < WARMUP + OPS; i++) {
    const record = i >= WARMUP;
    const sample = (name: string) => (record ? cases.get(name) : undefined);
    const key = `user:u${i}@aol`;
    const bytes = value(i);
    const keyPair = HyperDHT.keyPair();
    // Rounds visit the cases in turn, so a load spike on the shared machine hits them alike.
    await timed(sample('publish: store put'), () => publisher.put(key, bytes, { secret: 'gateway-0' }));
    await timed(sample('publish: store put (latest version)'), () =>
      publisherLatest.put(`${key}/latest`, bytes, { secret: 'gateway-0' }),
    );
    await timed(sample('publish: raw mutablePut'), () => writer.mutablePut(keyPair, bytes, { seq: 1 }));
    stats.take();
    await timed(sample('lookup: store get (1 value)'), async () => {
      if ((await reader.get(key)).length !== 1) throw new Error(`lookup of ${key} missed its value`);
    });
    for (const q of stats.take()) {
      if (!record) continue;
      if (q.command === LOOKUP) {
        row.lookupHops.push(q.hops);
        row.lookupRpcs.push(q.rpcs);
      }
    }
    await timed(sample('lookup: store get (1 value, latest version)'), async () => {
      if ((await readerLatest.get(`${key}/latest`)).length !== 1) throw new Error(`lookup of ${key} missed`);
    });
    await timed(sample('lookup: store get (5 publishers)'), async () => {
      if ((await reader.get(busy)).length !== MANY) throw new Error('lookup of the busy key missed values');
    });
    await timed(sample('lookup: store get (5 publishers, latest version)'), async () => {
      if ((await readerLatest.get(busy)).length !== MANY)
        throw new Error('lookup of the busy key missed values');
    });
    stats.take();
    await timed(sample('lookup: raw mutableGet'), async () => {
      if (!(await looker.mutableGet(keyPair.publicKey))) throw new Error('raw mutableGet missed its value');
    });
    for (const q of stats.take()) {
      if (record && q.command === MUTABLE_GET) {
        row.getHops.push(q.hops);
        row.getRpcs.push(q.rpcs);
      }
    }
  }
  for (const s of stores) await s.close();
  await testnet.destroy();
  return row;
}

// ------------------------------------------------------------ report

const rows: Row[] = [];
for (const n of SIZES) {
  process.stderr.write(`testnet of ${n} nodes...\n`);
  rows.push(await measure(n));
}

const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const pair = (store: string, raw: string) => [store, raw] as const;
const comparisons = [
  pair('publish: store put', 'publish: raw mutablePut'),
  pair('publish: store put (latest version)', 'publish: raw mutablePut'),
  pair('lookup: store get (1 value)', 'lookup: raw mutableGet'),
  pair('lookup: store get (1 value, latest version)', 'lookup: raw mutableGet'),
  pair('lookup: store get (5 publishers)', 'lookup: raw mutableGet'),
  pair('lookup: store get (5 publishers, latest version)', 'lookup: raw mutableGet'),
];
const lines: string[] = [];
for (const row of rows) {
  for (const [store, raw] of comparisons) {
    const s = row.cases.get(store)!;
    const r = row.cases.get(raw)!;
    lines.push(
      `| ${row.nodes} | ${store.replace(/^\w+: /, '')} | ${ms(percentile(s, 50))} | ${ms(percentile(s, 99))} | ${raw.replace(/^\w+: /, '')} | ${ms(percentile(r, 50))} | ${ms(percentile(r, 99))} | ${(percentile(s, 50) / percentile(r, 50)).toFixed(2)}x | ${(percentile(s, 99) / percentile(r, 99)).toFixed(2)}x |`,
    );
  }
}
const worst = (p: number, which: (name: string) => boolean) =>
  Math.max(
    ...rows.flatMap((row) =>
      comparisons
        .filter(([s]) => which(s))
        .map(([s, r]) => percentile(row.cases.get(s)!, p) / percentile(row.cases.get(r)!, p)),
    ),
  );
const latest = (name: string) => name.includes('latest version');
const first = (name: string) => !name.includes('latest version');
const command = `npx tsx --conditions=@crosstalk/source bench/dht-hyperdht.ts --sizes ${SIZES.join(',')} --ops ${OPS}`;
const section = [
  '',
  '## network-hyperdht: directory publish and lookup against raw hyperdht',
  '',
  `- machine: ${machineLine('all nodes in one process')}`,
  `- command: \`${command}\``,
  `- workload: per testnet, ${OPS} rounds (after ${WARMUP} warm-up rounds), each visiting every case in turn: a new key and a ${VALUE_BYTES}-byte value published with a secret, then looked up from another node; raw hyperdht puts and gets a value of the same size under a fresh key pair from the same two nodes; the busy key holds ${MANY} publishers' values. Store rows read the first valid copy of each record (the default, 3 requests at a time) or, marked latest version, every record's latest version (\`freshness: 'latest'\`), through a second publisher and reader on nodes of their own. Raw \`mutableGet\` is hyperdht's default: the latest version. hyperdht ${hyperdhtVersion()}; every node on 127.0.0.1 in this process (no wire latency: a round trip costs the event loop's time).`,
  '',
  '| nodes | store operation | p50 ms | p99 ms | raw operation | p50 ms | p99 ms | p50 ratio | p99 ratio |',
  '|---:|---|---:|---:|---|---:|---:|---:|---:|',
  ...lines,
  '',
  'Hops: for each lookup, the depth of the node that answered closest to the target (1 = one of the nodes the query started from; each referral adds one), and the requests the query sent.',
  '',
  '| nodes | testnet start (s) | store lookup hops mean / max | store lookup requests mean | raw mutableGet hops mean / max | raw mutableGet requests mean |',
  '|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (row) =>
      `| ${row.nodes} | ${(row.setupMs / 1000).toFixed(1)} | ${mean(row.lookupHops).toFixed(2)} / ${Math.max(...row.lookupHops)} | ${fmt(mean(row.lookupRpcs))} | ${mean(row.getHops).toFixed(2)} / ${Math.max(...row.getHops)} | ${fmt(mean(row.getRpcs))} |`,
  ),
  '',
  `Goal: at most 3x raw. Worst ratio in this run, first-copy reads (the default): ${worst(50, first).toFixed(2)}x at p50, ${worst(99, first).toFixed(2)}x at p99; latest-version reads: ${worst(50, latest).toFixed(2)}x at p50, ${worst(99, latest).toFixed(2)}x at p99.`,
  '',
].join('\n');

publish(section);

function hyperdhtVersion(): string {
  return (createRequire(import.meta.url)('hyperdht/package.json') as { version: string }).version;
}
