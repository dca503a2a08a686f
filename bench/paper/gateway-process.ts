/**
 * The benchmark's gateway process: two gateways with every codec and the XMPP stanza form on G2G,
 * as `crosstalk gateway` runs them (or, for bench/extra-hop-matrix.ts, one gateway with the canonical
 * forms it is given, with or without codecs), either embedded (one in-memory DHT, G2G over TCP with Noise)
 * or distributed (each gateway on a hyperdht node of its own, joined to the DHT process's network:
 * the directory on hyperdht, G2G over hyperdht's streams). Reports its own CPU and memory, and how
 * many events the gateways translated, when asked.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapSnapshot, writeHeapSnapshot } from 'node:v8';
import { builtInCodecs, canonicalForm, canonicalForms } from '@crosstalk/cli';
import { type Dht, MemoryDht } from '@crosstalk/core';
import {
  createGateway,
  type Gateway,
  type GatewayCluster,
  identityKeyPair,
  startGatewayCluster,
} from '@crosstalk/gateway';
import { HyperDhtStore, HyperDhtTransport, type NodeAddress } from '@crosstalk/network-hyperdht';
import pino from 'pino';
import { exitWithParent, type ProcessMemory, request, usageOf } from './ipc.js';
import { type LoopReport, loopWatch } from './loop-watch.js';

const watch = loopWatch();

const gateways: Gateway[] = [];
const stores: HyperDhtStore[] = [];
/** With `workers`: one host of that many worker gateways behind one SOCKS address, instead of `gateways`. */
let host: GatewayCluster | undefined;
// CPU profile of the measurement window only (not start-up), via the inspector's Profiler.
const inspector = new Session();
inspector.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    inspector.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
  );

/** A counter's total over both gateways, all labels. */
async function total(
  counter: (g: Gateway) => { get(): Promise<{ values: { value: number; labels: object }[] }> },
  labels: Record<string, string> = {},
) {
  let sum = 0;
  for (const g of gateways)
    for (const v of (await counter(g).get()).values)
      if (Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
        sum += v.value;
  return sum;
}

/**
 * What the gateways' own hyperdht nodes did (dht-rpc's counters): requests sent, queries started, and
 * how many of the nodes are persistent (in other nodes' routing tables, so asked to store and route).
 */
function dhtStats(): {
  dhtRequests: number;
  dhtQueries: number;
  dhtPersistent: number;
  dhtNodes: number;
  dhtOperations: DhtOperations;
} {
  const out = { dhtRequests: 0, dhtQueries: 0, dhtPersistent: 0, dhtNodes: 0 };
  const operations: DhtOperations = {
    ...dhtOperations,
    relayed: 0,
    punches: 0,
    timeouts: 0,
    retries: 0,
    ping: 0,
    findNode: 0,
    downHint: 0,
  };
  for (const store of stores) {
    const node = store.node as unknown as {
      ephemeral: boolean;
      stats: {
        requests: { total: number; timeouts: number; retries: number };
        queries: { total: number };
        commands: Record<'ping' | 'findNode' | 'downHint', { tx: number }>;
        relaying: { attempts: number };
        punches: { consistent: number; random: number; open: number };
      };
    };
    out.dhtRequests += node.stats.requests.total;
    out.dhtQueries += node.stats.queries.total;
    out.dhtPersistent += node.ephemeral ? 0 : 1;
    out.dhtNodes++;
    operations.relayed += node.stats.relaying.attempts;
    // Of the requests sent: those that timed out and those sent again, and dht-rpc's own upkeep.
    operations.timeouts += node.stats.requests.timeouts;
    operations.retries += node.stats.requests.retries;
    operations.ping += node.stats.commands.ping.tx;
    operations.findNode += node.stats.commands.findNode.tx;
    operations.downHint += node.stats.commands.downHint.tx;
    const { consistent, random, open } = node.stats.punches;
    operations.punches += consistent + random + open;
  }
  for (const [name, n] of Object.entries(sentByCommand)) operations[name] = n;
  writeTimeline();
  return { ...out, dhtOperations: operations };
}

/**
 * What the gateways asked of their hyperdht stores and transports, by kind (the directory's gets,
 * puts and removes; G2G dials; and the node's relayed connections and hole punches), and of the
 * requests their nodes sent, how many timed out, were sent again, or were dht-rpc's own upkeep
 * (pings, find-node queries of its routing table, down hints), so a run whose DHT requests per
 * message are high says which kind grew.
 */
type DhtOperations = Record<
  | 'get'
  | 'put'
  | 'remove'
  | 'dial'
  | 'relayed'
  | 'punches'
  | 'timeouts'
  | 'retries'
  | 'ping'
  | 'findNode'
  | 'downHint',
  number
> &
  /** `sent <command>`: requests sent by hyperdht command; `call <operation>`: operations started (`sentByCommand`). */
  Record<string, number>;
const dhtOperations = { get: 0, put: 0, remove: 0, dial: 0 };

/**
 * hyperdht's own commands (hyperdht/lib/constants.js `COMMANDS`), by number, as `sentByCommand`
 * names them: made once, not per request (every DHT request of a run passes here).
 */
const SENT_NAMES = [
  'peerHandshake',
  'peerHolepunch',
  'findPeer',
  'lookup',
  'announce',
  'unannounce',
  'mutablePut',
  'mutableGet',
  'immutablePut',
  'immutableGet',
  'plugin',
].map((command) => `sent ${command}`);
/**
 * The requests the gateways' nodes sent, by hyperdht command (each hop of a query, and a put's
 * commits), and the node operations the stores started (`call mutablePut`, …): which of the
 * directory's operations a heavy run's extra requests belong to. dht-rpc's own (internal) commands
 * are counted by its stats above.
 */
const sentByCommand: Record<string, number> = {};

/**
 * With `CROSSTALK_BENCH_DHT_TIMELINE=<file>`, the same counts by second (Unix time), written to
 * `<file>.<pid>` whenever run.ts asks for this process's figures: to line a run's slow seconds up
 * with what its DHT nodes did then.
 */
const timelineFile = process.env.CROSSTALK_BENCH_DHT_TIMELINE;
const timeline: Record<number, Record<string, number>> = {};

function countOne(name: string): void {
  sentByCommand[name] = (sentByCommand[name] ?? 0) + 1;
  if (!timelineFile) return;
  const second = Math.floor(Date.now() / 1000);
  timeline[second] ??= {};
  timeline[second][name] = (timeline[second][name] ?? 0) + 1;
}

function writeTimeline(): void {
  if (timelineFile) writeFileSync(`${timelineFile}.${process.pid}`, JSON.stringify(timeline));
}

/** The node operations a store starts (hyperdht's methods), each counted when called. */
const NODE_OPERATIONS = ['mutablePut', 'mutableGet', 'lookup', 'announce', 'unannounce'] as const;

/** Counts each request a node creates by its hyperdht command (dht-rpc's `io.createRequest`), and each operation started. */
function countRequests(node: unknown): void {
  const io = (node as { io: { createRequest: (...args: unknown[]) => unknown } }).io;
  const create = io.createRequest.bind(io);
  io.createRequest = (...args: unknown[]) => {
    // createRequest(to, token, internal, command, …)
    const [, , internal, command] = args as [unknown, unknown, boolean, number];
    if (!internal) countOne(SENT_NAMES[command] ?? `sent command${command}`);
    return create(...args);
  };
  const methods = node as Record<string, (...args: unknown[]) => unknown>;
  for (const name of NODE_OPERATIONS) {
    const call = methods[name]!.bind(node);
    methods[name] = (...args: unknown[]) => {
      countOne(`call ${name}`);
      const started = call(...args);
      // A failed operation, by its message: a store takes any such error as the DHT's loss and
      // re-announces all it holds (hyperdht-store.ts `#network`).
      const failed = (error: unknown) =>
        countOne(`error ${name}: ${error instanceof Error ? error.message.slice(0, 40) : String(error)}`);
      if (started instanceof Promise) started.catch(failed);
      else
        (started as { on?: (event: string, listener: (error: unknown) => void) => void }).on?.(
          'error',
          failed,
        );
      return started;
    };
  }
}

/** A host's counter, summed over its workers and labels (from the primary's `/metrics`). */
async function hostTotal(name: string): Promise<number> {
  const address = host!.metricsAddress!;
  const text = await (await fetch(`http://${address.host}:${address.port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** Where a host's workers answer the bench (`gateway-worker.ts`, CROSSTALK_BENCH_CONTROL). */
let controlDir: string | undefined;

/** Asks a host's worker (its control socket, `gateway-worker.ts`) and parses its one JSON line. */
function askWorker<T>(pid: number, command: 'memory' | 'profile-start' | 'profile-stop'): Promise<T> {
  return new Promise((resolve, reject) => {
    const socket = connect(join(controlDir!, `${pid}.sock`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text) as T);
      } catch (error) {
        reject(error);
      }
    });
    socket.on('error', reject);
    socket.write(`${command}\n`);
  });
}

/** Asks a host's worker for its memory after a full collection. */
const workerMemory = (pid: number) => askWorker<ProcessMemory>(pid, 'memory');

/** This process and the host's workers: what the host under test is made of. */
const hostPids = () => [process.pid, ...(host?.workers().map((w) => w.pid ?? 0) ?? [])].filter(Boolean);

/**
 * The live heap by kind of object after a full collection (a heap snapshot's nodes summed by type
 * and constructor or closure name): run.ts subtracts the idle process's to find what a session holds.
 */
async function heapHistogram(): Promise<Record<string, { count: number; bytes: number }>> {
  let text = '';
  for await (const chunk of getHeapSnapshot()) text += chunk;
  const snapshot = JSON.parse(text) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  text = '';
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out: Record<string, { count: number; bytes: number }> = {};
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt!]!]!;
    // Strings and code are counted by kind only: their names are their contents.
    const name =
      type === 'object' || type === 'closure' || type === 'native'
        ? snapshot.strings[snapshot.nodes[i + nameAt!]!]!.slice(0, 60)
        : '';
    const key = `${type} ${name}`.trim();
    const entry = out[key] ?? { count: 0, bytes: 0 };
    out[key] = entry;
    entry.count++;
    entry.bytes += snapshot.nodes[i + sizeAt!]!;
  }
  return out;
}

/** Descriptors this process holds (Linux; -1 elsewhere). */
function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

exitWithParent();

/**
 * The gateways' log: none, unless `CROSSTALK_BENCH_GATEWAY_LOG` names a file (info level, JSON lines;
 * their metrics are appended to `<file>.metrics` whenever run.ts asks for the process's figures).
 */
const gatewayLogFile = process.env.CROSSTALK_BENCH_GATEWAY_LOG;
const gatewayLog = gatewayLogFile
  ? pino({ level: 'info' }, pino.destination({ dest: gatewayLogFile, sync: false }))
  : false;

/** The directory and G2G transport of one gateway: shared memory, or a hyperdht node of its own. */
async function substrate(g2g: 'tcp' | 'hyperdht', shared: Dht, bootstrap: NodeAddress[] | undefined) {
  if (g2g === 'tcp') return { dht: shared };
  const store = new HyperDhtStore({ bootstrap: bootstrap ?? [] });
  await store.ready();
  stores.push(store);
  countRequests(store.node);
  for (const op of ['get', 'put', 'remove'] as const) {
    const call = store[op].bind(store) as (...args: unknown[]) => unknown;
    (store as unknown as Record<string, unknown>)[op] = (...args: unknown[]) => {
      dhtOperations[op]++;
      // By record kind (the key's prefix: `loc`, `pending`, …), and each failure by its message.
      const key = String(args[0]);
      const kind = `${op} ${key.slice(0, key.indexOf(':'))}`;
      countOne(kind);
      const done = call(...args) as Promise<unknown>;
      done.catch((error: unknown) =>
        countOne(`error ${kind}: ${error instanceof Error ? error.message.slice(0, 50) : String(error)}`),
      );
      return done;
    };
  }
  return {
    dht: store,
    transport: (identity: Parameters<typeof identityKeyPair>[0]) => {
      const transport = new HyperDhtTransport({ node: store.node, keyPair: identityKeyPair(identity) });
      const connect = transport.connect.bind(transport);
      transport.connect = (...args) => {
        dhtOperations.dial++;
        return connect(...args);
      };
      return transport;
    },
  };
}

/** The figures of several processes (a host's, or `--apart`'s gateways), added up. */
function memorySum(processes: readonly ProcessMemory[]): ProcessMemory {
  const sum = (f: (p: ProcessMemory) => number) => processes.reduce((n, p) => n + f(p), 0);
  return {
    heapUsed: sum((p) => p.heapUsed),
    external: sum((p) => p.external),
    arrayBuffers: sum((p) => p.arrayBuffers),
    rss: sum((p) => p.rss),
    descriptors: sum((p) => p.descriptors),
    users: sum((p) => p.users),
  };
}

/** With `--apart`: the processes that each run one gateway (this one only relays and sums). */
const apart: ChildProcess[] = [];

/** Sends `m` to every gateway process and waits for each reply of type `reply`. */
const toApart = <T>(m: object, reply: string) => Promise.all(apart.map((c) => request<T>(c, m, reply)));

type Stats = {
  cpuMicros: number;
  translated: number;
  verified: number;
  acceptErrors: number;
  users: number;
  /** IMs resent over G2G after a missed ACK and not shown again (`crosstalk_g2g_resent_ims_total`). */
  resent: number;
  /** G2G events that waited past the ACK timeout on a link kept up (`crosstalk_g2g_late_acks_total`). */
  lateAcks: number;
  /** Of them, those that failed alone after every round (their senders then look up and send again). */
  lateAcksFailed: number;
} & ReturnType<typeof dhtStats>;

/**
 * `--apart`: the same messages as for two gateways in this process, answered by a process per
 * gateway (each this script, asked to run one gateway): figures summed, loop reports merged (the
 * worst delays, every pause), the profile of the first gateway only.
 */
async function apartMessage(m: { type: string; count?: number; [k: string]: unknown }): Promise<void> {
  const send = (reply: object): void => {
    process.send!(reply);
  };
  switch (m.type) {
    case 'start': {
      for (let i = 0; i < (m.count ?? 2); i++)
        apart.push(
          fork(fileURLToPath(import.meta.url), [], {
            execArgv: process.execArgv,
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          }),
        );
      const started = await toApart<{ socks: unknown[]; ids: string[]; pid: number }>(
        { ...m, apart: false, count: 1 },
        'started',
      );
      return send({
        type: 'started',
        socks: started.flatMap((s) => s.socks),
        ids: started.flatMap((s) => s.ids),
        pid: process.pid,
        pids: [process.pid, ...started.map((s) => s.pid)],
      });
    }
    case 'refresh':
      await toApart(m, 'refreshed');
      return send({ type: 'refreshed' });
    case 'route':
      return send(await request(apart[0]!, m, 'route'));
    case 'stats': {
      const cpu = process.cpuUsage();
      const all = await toApart<Stats>(m, 'stats');
      const sum = (f: (s: Stats) => number) => all.reduce((n, s) => n + f(s), 0);
      return send({
        type: 'stats',
        cpuMicros: cpu.user + cpu.system + sum((s) => s.cpuMicros),
        translated: sum((s) => s.translated),
        verified: sum((s) => s.verified),
        resent: sum((s) => s.resent),
        lateAcks: sum((s) => s.lateAcks),
        lateAcksFailed: sum((s) => s.lateAcksFailed),
        acceptErrors: sum((s) => s.acceptErrors),
        users: sum((s) => s.users),
        dhtRequests: sum((s) => s.dhtRequests),
        dhtQueries: sum((s) => s.dhtQueries),
        dhtPersistent: sum((s) => s.dhtPersistent),
        dhtNodes: sum((s) => s.dhtNodes),
        dhtOperations: Object.fromEntries(
          Object.keys(all[0]?.dhtOperations ?? {}).map((k) => [
            k,
            sum((s) => s.dhtOperations?.[k as keyof DhtOperations] ?? 0),
          ]),
        ),
      });
    }
    case 'memory': {
      const all = await toApart<ProcessMemory & { processes: unknown[] }>(
        { ...m, file: undefined },
        'memory',
      );
      return send({
        type: 'memory',
        ...memorySum(all),
        processes: all.flatMap((p) => p.processes),
      });
    }
    case 'watch-start':
      await toApart(m, 'watching');
      return send({ type: 'watching' });
    case 'watch-stop': {
      const loops = (await toApart<{ loop: LoopReport }>(m, 'watched')).map((r) => r.loop);
      const most = (f: (l: LoopReport) => number) => Math.max(...loops.map(f));
      const sum = (f: (l: LoopReport) => number) => loops.reduce((n, l) => n + f(l), 0);
      const loop: LoopReport = {
        delayP50: most((l) => l.delayP50),
        delayP99: most((l) => l.delayP99),
        delayMax: most((l) => l.delayMax),
        gcPauses: sum((l) => l.gcPauses),
        gcTotalMs: sum((l) => l.gcTotalMs),
        gcMaxMs: most((l) => l.gcMaxMs),
        cpu: sum((l) => l.cpu),
        cpuKernel: sum((l) => l.cpuKernel),
        stalls: loops.flatMap((l) => l.stalls).sort((a, b) => a.at - b.at),
      };
      return send({ type: 'watched', loop });
    }
    case 'profile-start':
      return send(await request(apart[0]!, m, 'profiling'));
    case 'profile-stop':
      return send(await request(apart[0]!, m, 'profiled'));
    case 'stop':
      await toApart(m, 'stopped').catch(() => {});
      send({ type: 'stopped' });
      process.exit(0);
  }
}

process.on(
  'message',
  async (m: {
    type: string;
    count?: number;
    file?: string;
    g2g?: 'tcp' | 'hyperdht';
    bootstrap?: NodeAddress[];
    /** A host of this many workers behind one SOCKS address (`crosstalk gateway --workers N`). */
    workers?: number;
    /** The gateways' soft TTL, ms (`--soft-ttl`). */
    softTtl?: number;
    /** The G2G version the gateways speak (`--g2g-version`; default theirs, `G2G_VERSION`). */
    g2gVersion?: 1 | 2;
    /** Each gateway in a process of its own (`--apart`), as on hosts of their own. */
    apart?: boolean;
    histogram?: boolean;
    /** The canonical forms the gateways speak on G2G, by name (default: the stanza form). */
    forms?: string[];
    /** False: no codecs (a gateway that only converts between canonical forms). */
    codecs?: boolean;
    /** For `route`: the sender's protocol, the recipient's network and gateway. */
    from?: string;
    network?: string;
    gateway?: string;
  }) => {
    try {
      if (apart.length > 0 || (m.type === 'start' && m.apart)) {
        await apartMessage(m);
      } else if (m.type === 'start' && m.workers) {
        controlDir = mkdtempSync(join(tmpdir(), 'crosstalk-bench-workers-'));
        host = await startGatewayCluster({
          env: { ...process.env, CROSSTALK_BENCH_CONTROL: controlDir },
          workers: m.workers,
          exec: join(fileURLToPath(new URL('.', import.meta.url)), 'gateway-worker.mjs'),
          execArgv: process.execArgv,
          socks: { host: '127.0.0.1', port: 0 },
          metrics: { host: '127.0.0.1', port: 0 },
          logger: false,
        });
        process.send!({ type: 'started', socks: [host.socks], pid: process.pid, pids: hostPids() });
      } else if (m.type === 'start') {
        const shared = new MemoryDht();
        for (let i = 0; i < (m.count ?? 2); i++) {
          gateways.push(
            await createGateway({
              codecs: m.codecs === false ? [] : builtInCodecs(),
              canonical: m.forms ? m.forms.map((f) => canonicalForms().get(f)!) : canonicalForm(),
              ...(await substrate(m.g2g ?? 'tcp', shared, m.bootstrap)),
              socks: { host: '127.0.0.1', port: 0 },
              logger: gatewayLog,
              ...(m.softTtl ? { softTtl: m.softTtl } : {}),
              ...(m.g2gVersion ? { g2gVersion: m.g2gVersion } : {}),
              maxBacklog: 8 * 1024 * 1024,
              // The load process's thousands of users all connect from 127.0.0.1.
              limits: {
                socksConnections: Number.POSITIVE_INFINITY,
                socksConnectionsPerSource: Number.POSITIVE_INFINITY,
              },
            }),
          );
        }
        process.send!({
          type: 'started',
          socks: gateways.map((g) => g.socks),
          ids: gateways.map((g) => g.id),
          pid: process.pid,
        });
      } else if (m.type === 'refresh') {
        // Read the capability graph now: gateways started after this one are in it.
        for (const g of gateways) await g.routing.refresh();
        process.send!({ type: 'refreshed' });
      } else if (m.type === 'route') {
        const route = gateways[0]!.routing.route(m.from!, m.network!, { gateway: m.gateway! });
        process.send!({
          type: 'route',
          steps: route?.steps.map((s) => ({ from: s.from, to: s.to, gateway: s.gateway })) ?? [],
        });
      } else if (m.type === 'stats' && host) {
        let cpuMicros = 0;
        for (const pid of hostPids()) cpuMicros += (await usageOf(pid)).cpuMicros;
        process.send!({
          type: 'stats',
          cpuMicros,
          translated: await hostTotal('crosstalk_translated_events_total'),
          verified: await hostTotal('crosstalk_verified_directory_records_total'),
          resent: await hostTotal('crosstalk_g2g_resent_ims_total'),
          lateAcks: await hostTotal('crosstalk_g2g_late_acks_total'),
          lateAcksFailed: await hostTotal('crosstalk_g2g_late_acks_total{outcome="failed"}'),
          acceptErrors: await hostTotal('crosstalk_accept_errors_total'),
          users: await hostTotal('crosstalk_verified_users'),
          pids: hostPids(),
        });
      } else if (m.type === 'stats') {
        if (gatewayLogFile)
          for (const g of gateways)
            appendFileSync(
              `${gatewayLogFile}.metrics`,
              `# gateway ${g.id} at ${new Date().toISOString()}\n${await g.metrics.registry.metrics()}\n`,
            );
        const cpu = process.cpuUsage();
        process.send!({
          type: 'stats',
          cpuMicros: cpu.user + cpu.system,
          translated: await total((g) => g.metrics.translated),
          verified: await total((g) => g.metrics.verifiedRecords),
          resent: await total((g) => g.metrics.resentIms),
          lateAcks: await total((g) => g.metrics.lateAcks),
          lateAcksFailed: await total((g) => g.metrics.lateAcks, { outcome: 'failed' }),
          acceptErrors: await total((g) => g.metrics.acceptErrors),
          users: gateways.reduce((n, g) => n + g.users().length, 0),
          ...dhtStats(),
        });
      } else if (m.type === 'memory') {
        // After a full collection: what is live, not what the collector has yet to free.
        await post('HeapProfiler.collectGarbage');
        const usage = process.memoryUsage();
        const own: ProcessMemory & { pid: number; role: string } = {
          pid: process.pid,
          role: host ? 'primary' : 'gateways',
          heapUsed: usage.heapUsed,
          external: usage.external,
          arrayBuffers: usage.arrayBuffers,
          rss: usage.rss,
          descriptors: openDescriptors(),
          users: gateways.reduce((n, g) => n + g.users().length, 0),
        };
        // A host: the primary (the directory and the login cookies the workers share) and every
        // worker, each after its own collection, one at a time; the figures are their sums.
        const processes = [own];
        for (const w of host?.workers() ?? [])
          if (w.pid)
            processes.push({ pid: w.pid, role: `worker ${w.index}`, ...(await workerMemory(w.pid)) });
        process.send!({
          type: 'memory',
          ...memorySum(processes),
          processes,
          // Not for a host: its workers' heaps would each need a snapshot taken over their sockets.
          ...(m.histogram && !host ? { histogram: await heapHistogram() } : {}),
        });
        // For a closer look (retainers) in Chrome DevTools: CROSSTALK_BENCH_SNAPSHOT=<dir>, or `file`
        // (run.ts's profiled run, beside its CPU profile).
        const dir = process.env.CROSSTALK_BENCH_SNAPSHOT;
        if (dir) writeHeapSnapshot(`${dir}/gateway-${process.pid}-${Date.now()}.heapsnapshot`);
        if (m.file) writeHeapSnapshot(m.file);
      } else if (m.type === 'watch-start') {
        watch.start();
        process.send!({ type: 'watching' });
      } else if (m.type === 'watch-stop') {
        process.send!({ type: 'watched', loop: watch.stop() });
      } else if (m.type === 'profile-start') {
        await post('Profiler.enable');
        await post('Profiler.start');
        // A host: every worker too (the primary's own profile is this process's).
        for (const w of host?.workers() ?? []) if (w.pid) await askWorker(w.pid, 'profile-start');
        process.send!({ type: 'profiling' });
      } else if (m.type === 'profile-stop') {
        // Sent to run.ts to write: a saturated gateway may have no file descriptor left to open one.
        const { profile } = (await post('Profiler.stop')) as { profile: unknown };
        const workers: string[] = [];
        for (const w of host?.workers() ?? [])
          if (w.pid) workers.push(JSON.stringify(await askWorker(w.pid, 'profile-stop')));
        process.send!({ type: 'profiled', profile: JSON.stringify(profile), workers });
      } else if (m.type === 'stop') {
        await host?.close();
        if (controlDir) rmSync(controlDir, { recursive: true, force: true });
        for (const g of gateways.splice(0)) await g.close();
        for (const store of stores.splice(0)) await store.close();
        process.send!({ type: 'stopped' });
        process.exit(0);
      }
    } catch (error) {
      process.send!({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
    }
  },
);
