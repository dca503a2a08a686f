/**
 * The paper's evaluation (Motoyama & Varghese, WOSN 2009, §3.3), reproduced and pushed further.
 * Separate processes for the servers, the gateways and the load, so that one's CPU does not hide
 * inside another's:
 *
 *   1. direct:   the enterprise load on each network's own server, no proxy (the baseline delay);
 *   2. gateways: the same load on mixed networks through two CrossTalk gateways (latency matrix);
 *   3. dante:    the same-network load through dante, a SOCKS4 relay that translates nothing;
 *   4. saturation: more clients through the gateways until p99 added delay passes 10 ms or a
 *      message is lost, with a CPU profile of the gateway process (or of every worker of the largest --workers host) at the last step.
 *
 *   npm run bench -- [--clients 520] [--window 20] [--steps 520,2080,5200,10400|none] [--protocols oscar,ymsg,msnp,xmpp]
 *                    [--g2g tcp|hyperdht|both] [--workers 1,2] [--quick] [--pin] [--memory-only] [--heap-histogram]
 *                    [--load-processes auto|N] [--apart] [--soft-ttl ms] [--g2g-version 1|2]
 *
 * --g2g: the gateways embedded (in-memory DHT, G2G over TCP with Noise; the default), distributed
 * (the directory on a hyperdht network in a process of its own, G2G over hyperdht's streams), or
 * both: the latency matrix is measured for each, side by side, in one run (dante and saturation
 * run on the first). --steps none skips saturation. --apart: each gateway in a process of its own
 * (with its hyperdht node when distributed), as on hosts of their own.
 *
 * --pin: the proxy under test (our gateway process, or dante) runs alone on CPU 1 and everything
 * else (load, mock servers, prosody) on CPU 0, so that the proxy's delay is its own and not a wait
 * for a core the load generator holds (needs taskset and at least 2 cores).
 *
 * No process here may hold more than 20,000 descriptors (`ulimit -Hn`), and an MSN client holds a
 * connection per conversation: a load whose clients need more than one process has runs as several
 * load processes (`--load-processes`, automatic by default), and --memory-only runs a step whose
 * gateways need more as a host of workers (each its own process and limit), both by the estimate
 * `descriptorsPerClient` makes from the mix.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, machineLine, publish } from '../lib/harness.js';
import { latencyChart } from './chart.js';
import { bundleChildren, child as forkChild } from './children.js';
import { type MemorySample, PROTOCOLS, type Protocol, request, type ServerInfo, usageOf } from './ipc.js';
import type { LoadPlan, PairStats } from './load-process.js';
import type { LoopReport } from './loop-watch.js';
import { type LoadProgress, Progress } from './progress.js';
import { ms, type Summary, summarize } from './stats.js';

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] ? argv[at + 1]! : fallback;
};
const quick = argv.includes('--quick');
/** With each memory sample, the live heap by kind of object (a heap snapshot: slow, large). */
const heapHistogram = argv.includes('--heap-histogram');
/** Only the gateway runs at each step, for their memory and descriptors (no direct, dante, profile). */
const memoryOnly = argv.includes('--memory-only');
const pin = argv.includes('--pin') && availableParallelism() >= 2;
/** `--load-processes N`: the load generator as N processes; `auto` (the default): as many as its descriptors need. */
const loadProcessesArg = arg('load-processes', 'auto');

/** Moves a process and all its threads to one CPU (`taskset`, util-linux). */
function pinTo(pid: number, cpu: number): void {
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}
const protocols = arg('protocols', 'oscar,ymsg,msnp,xmpp').split(',') as Protocol[];
const clients = Number(arg('clients', quick ? '40' : '520'));
const windowMs = Number(arg('window', quick ? '5' : '20')) * 1000;
/**
 * IMs per second per client (default 1, the paper's). Lower, the same conversations open more
 * slowly (the warm-up still writes to every partner once): for --memory-only on a host of workers,
 * whose connections each cross the primary's IPC channel one acknowledged handle at a time.
 */
const rate = Number(arg('rate', '1'));
/**
 * The gateway ends a conversation it plays itself (an MSN switchboard with foreign buddies only)
 * after 5 quiet minutes (`timeouts.idleConversation`'s default): a client that writes to each of its
 * 20 partners in turn must come back to each sooner, or the conversations the report counts as open
 * are gone (--rate 0.05 measured about 1 descriptor per client fewer at 2,080 clients).
 */
const IDLE_CONVERSATION_MS = 5 * 60 * 1000;
if ((20 / rate) * 1000 >= IDLE_CONVERSATION_MS)
  process.stderr.write(
    `warning: --rate ${rate} comes back to a partner every ${20 / rate} s, after the gateway ends a quiet conversation (${IDLE_CONVERSATION_MS / 1000} s): not every conversation is open when measured\n`,
  );
/** "one 150-character IM per second each", or at the --rate given. */
const rateText =
  rate === 1
    ? 'one 150-character IM per second each'
    : `one 150-character IM every ${fmt(1 / rate)} s each (--rate ${rate})`;
const stepsArg = arg('steps', quick ? '80' : '520,2080,5200,10400');
const steps = stepsArg === 'none' ? [] : stepsArg.split(',').map(Number);
type G2gMode = 'tcp' | 'hyperdht';
const g2gArg = arg('g2g', 'tcp');
/**
 * --soft-ttl: the gateways' soft TTL, ms (default theirs, 60 s; records re-signed at a third of it):
 * the directory's upkeep is a put per online user per record at every re-sign, and this says what
 * that costs on hyperdht.
 */
const softTtlArg = arg('soft-ttl', '');
const softTtl = softTtlArg ? Number(softTtlArg) : undefined;
if (softTtl !== undefined && !(Number.isInteger(softTtl) && softTtl >= 3000)) {
  process.stderr.write(`--soft-ttl takes milliseconds, at least 3000 (got "${softTtlArg}")\n`);
  process.exit(2);
}
/**
 * --g2g-version 1: the gateways speak G2G version 1 (`g2gVersion`), as gateways from before events
 * carried their sender's location record: every first-seen sender is looked up in the directory.
 * For an A/B beside the default, 2.
 */
const g2gVersionArg = arg('g2g-version', '');
const g2gVersion = g2gVersionArg ? Number(g2gVersionArg) : undefined;
if (g2gVersion !== undefined && g2gVersion !== 1 && g2gVersion !== 2) {
  process.stderr.write(`--g2g-version takes 1 or 2 (got "${g2gVersionArg}")\n`);
  process.exit(2);
}
/**
 * --apart: each of the two gateways in a process of its own (with its hyperdht node, distributed),
 * as on hosts of their own; by default both share one process (and so one core).
 */
const apartGateways = argv.includes('--apart');
// --workers 1,2: the same steps through one host of N workers behind one SOCKS address
// (`crosstalk gateway --workers N`), for each N: how far each carries with p99 ≤ 10 ms, nothing lost.
const workerCounts = arg('workers', '').split(',').filter(Boolean).map(Number);
const g2gModes: G2gMode[] =
  g2gArg === 'both' ? ['tcp', 'hyperdht'] : g2gArg === 'hyperdht' ? ['hyperdht'] : ['tcp'];
const here = fileURLToPath(new URL('.', import.meta.url));
const resultsDir = join(here, '..', 'results');
const command = `npm run bench -- ${argv.join(' ')}`.trim();

// ------------------------------------------------------------------ processes

// --child-flags passes V8/Node flags to every child (e.g. "--trace-gc"), for looking into a tail.
const childFlags = arg('child-flags', '').split(' ').filter(Boolean);
const child = (file: string): ChildProcess => forkChild(file, childFlags);

const progress = new Progress();

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

async function startDante(): Promise<{ pid: number; port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-dante-'));
  const port = await freePort();
  const config = [
    `logoutput: ${join(dir, 'danted.log')}`,
    `internal: 127.0.0.1 port = ${port}`,
    'external: 127.0.0.1',
    'clientmethod: none',
    'socksmethod: none',
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass {',
    '  from: 127.0.0.0/8 to: 0.0.0.0/0',
    '}',
    'socks pass {',
    '  from: 127.0.0.0/8 to: 127.0.0.0/8',
    '  command: connect',
    '}',
    'socks block {',
    '  from: 0.0.0.0/0 to: 0.0.0.0/0',
    '}',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'danted.conf'), config);
  // One dante process (-N 1), so its CPU is one process's to read.
  const proc = spawn('danted', ['-f', join(dir, 'danted.conf'), '-p', join(dir, 'danted.pid'), '-N', '1'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    try {
      readFileSync(join(dir, 'danted.pid'));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const p of [proc.pid!, ...childrenOf(proc.pid!)]) pinTo(p, 1);
  // dante forks helper processes; their CPU is counted through the whole process group.
  return {
    pid: proc.pid!,
    port,
    async stop() {
      try {
        process.kill(-proc.pid!, 'SIGTERM');
      } catch {
        proc.kill('SIGTERM');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface CpuTimes {
  busy: number;
  steal: number;
  total: number;
}

/** The machine's CPU time so far, from /proc/stat's first line (all CPUs, in ticks). */
function machineCpuTimes(): CpuTimes | undefined {
  try {
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq!;
    return { busy, steal: steal!, total: busy + idle! + iowait! + steal! };
  } catch {
    return undefined; // not Linux
  }
}

/**
 * Over a window, the share of all CPUs' time that processes used (busy) and that the hypervisor
 * took from this VM (steal: the vCPU was runnable and not run, which a process sees as a stall).
 */
function machineShares(start?: CpuTimes, end?: CpuTimes): { busy: number; steal: number } | undefined {
  if (!start || !end || end.total <= start.total) return undefined;
  const total = end.total - start.total;
  return { busy: (end.busy - start.busy) / total, steal: (end.steal - start.steal) / total };
}

/** The hard limit on open files a process here may raise itself to (`ulimit -Hn`). */
function openFilesLimit(): string {
  try {
    return execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function childrenOf(pid: number): number[] {
  try {
    const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter(Boolean);
  } catch {
    return []; // no children
  }
}

/** CPU of a process and all its descendants (dante forks children), µs, and the part in the kernel. */
async function treeCpu(pid: number): Promise<{ cpu: number; kernel: number }> {
  const pids = [pid, ...childrenOf(pid)];
  let cpu = 0;
  let kernel = 0;
  for (const p of pids) {
    const u = await usageOf(p).catch(() => ({ cpuMicros: 0, kernelMicros: 0 }));
    cpu += u.cpuMicros;
    kernel += u.kernelMicros;
  }
  return { cpu, kernel };
}

// ------------------------------------------------------------------ phases

interface Servers {
  infos: ServerInfo[];
  /** The mock servers' process, watched over each window. */
  proc: ChildProcess;
  stop(): Promise<void>;
}

async function startServers(perProtocol: number): Promise<Servers> {
  const proc = child('servers-process.ts');
  const mock = protocols.filter((p) => p !== 'xmpp');
  const { servers } = await request<{ servers: ServerInfo[] }>(
    proc,
    { type: 'start', protocols: mock, count: perProtocol },
    'started',
  );
  const stops: (() => Promise<void>)[] = [
    async () => void (await request(proc, { type: 'stop' }, 'stopped').catch(() => proc.kill())),
  ];
  if (protocols.includes('xmpp')) {
    const { startBenchProsody } = await import('./prosody.js');
    const prosody = await startBenchProsody(perProtocol);
    servers.push(prosody.info);
    stops.push(prosody.stop);
  }
  return { infos: servers, proc, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

/**
 * Descriptors one client of `protocol` holds at the height of a load (every conversation open), in
 * the load generator (one per connection) and in a gateway that carries it (both ends of each
 * connection it relays, one end of a conversation it plays itself: an MSN conversation with a
 * foreign buddy). An MSN client holds its notification connection and one per conversation, those
 * it opened and those opened to it (`partnersPerClient` each); every other client one connection.
 */
function descriptorsPerClient(plan: LoadPlan, protocol: Protocol): { load: number; gateway: number } {
  if (protocol !== 'msnp') return { load: 1, gateway: 2 };
  const conversations = 2 * plan.partnersPerClient;
  const native = plan.partners === 'same' ? 1 : 1 / plan.protocols.length;
  return {
    load: 1 + conversations,
    gateway: 2 + Math.ceil(conversations * (2 * native + (1 - native))),
  };
}

/** What a process may hold, with room to spare for what the estimate leaves out (listeners, files). */
const descriptorBudget = () => {
  const limit = Number(openFilesLimit());
  return Number.isFinite(limit) ? Math.floor(limit * 0.8) : 16_000;
};

/** Descriptors a load needs in all, in the load generator and in the gateways (`descriptorsPerClient`). */
function descriptorsOfLoad(plan: LoadPlan): { load: number; gateway: number } {
  let load = 0;
  let gateway = 0;
  for (const p of plan.protocols) {
    const per = descriptorsPerClient(plan, p);
    load += per.load * plan.perProtocol;
    gateway += per.gateway * plan.perProtocol;
  }
  return { load, gateway };
}

/**
 * How many gateway processes a load's descriptors need (`descriptorsPerClient`): 1 while they fit
 * one process; `--memory-only` then runs a host of that many workers.
 */
function gatewayProcessesFor(plan: LoadPlan): number {
  return Math.max(1, Math.ceil(descriptorsOfLoad(plan).gateway / descriptorBudget()));
}

/** How many processes the load generator runs as: `--load-processes`, or as many as its descriptors need. */
function loadProcessesFor(plan: LoadPlan): number {
  if (loadProcessesArg !== 'auto') return Math.max(1, Number(loadProcessesArg));
  return Math.max(1, Math.ceil(descriptorsOfLoad(plan).load / descriptorBudget()));
}

/** The bench processes of the load that runs now (for the descriptor high-water marks). */
let loadPids: number[] = [];

/**
 * Runs one load and, over its measurement window, watches the event loops of `watched` (the
 * servers, the proxy under test) as the load process watches its own: the report names the
 * process a latency tail comes from. A load whose clients need more descriptors than one process
 * has (`loadProcessesFor`) runs in several load processes, each driving every n-th client: they
 * log in, begin at one instant, and their figures are added up.
 */
async function runLoad(
  plan: LoadPlan,
  label: string,
  watched: Record<string, ChildProcess>,
  onWindow?: (edge: 'start' | 'end') => void,
  onDrained?: () => Promise<unknown>,
) {
  const count = loadProcessesFor(plan);
  const procs = Array.from({ length: count }, () => child('load-process.ts'));
  loadPids = procs.map((p) => p.pid ?? 0).filter(Boolean);
  const loops: Record<string, Promise<LoopReport>> = {};
  const cpuTimes: { start?: CpuTimes; end?: CpuTimes } = {};
  progress.start(count > 1 ? `${label} (${count} load processes)` : label);
  // Each process's latest progress, added up into one line.
  const latest: (LoadProgress | undefined)[] = procs.map(() => undefined);
  const sum = (f: (p: LoadProgress) => number | undefined) =>
    latest.reduce((n, p) => n + (p ? (f(p) ?? 0) : 0), 0);
  let loggedIn = 0;
  let drained = 0;
  procs.forEach((proc, i) => {
    proc.on('message', (m: { type?: string; edge?: 'start' | 'end' | 'drained' } & Partial<LoadProgress>) => {
      if (m.type === 'progress') {
        latest[i] = m as LoadProgress;
        const stage = latest.some((p) => p?.stage === 'login') ? 'login' : 'messages';
        const first = latest[0]!;
        progress.update(
          stage === 'login'
            ? {
                stage,
                done: sum((p) => (p.stage === 'login' ? p.done : p.total)),
                total: plan.perProtocol * plan.protocols.length,
              }
            : {
                stage,
                done: first.stage === 'messages' ? first.done : 0,
                total: first.total,
                sent: sum((p) => p.sent),
                received: sum((p) => p.received),
                lost: sum((p) => p.lost),
                failed: sum((p) => p.failed),
                twice: sum((p) => p.twice ?? 0),
              },
        );
      }
      // Every process logged in: all begin together, shortly (each schedules from this instant).
      if (m.type === 'logged-in' && ++loggedIn === count) {
        const begin = performance.timeOrigin + performance.now() + 100;
        for (const p of procs) p.send({ type: 'go', begin });
      }
      if (m.type !== 'window') return;
      if (m.edge === 'drained') {
        if (++drained < count) return;
        const measured = onDrained?.() ?? Promise.resolve();
        measured
          .catch(() => {})
          .then(() => {
            for (const p of procs) p.send({ type: 'resume' });
          });
        return;
      }
      cpuTimes[m.edge!] = machineCpuTimes();
      onWindow?.(m.edge!);
      for (const [name, p] of Object.entries(watched)) {
        if (m.edge === 'start') request(p, { type: 'watch-start' }, 'watching').catch(() => {});
        else {
          loops[name] = request<{ loop: LoopReport }>(p, { type: 'watch-stop' }, 'watched').then(
            (r) => r.loop,
          );
          loops[name].catch(() => {}); // awaited below
        }
      }
    });
  });
  type LoadResult = {
    pairs: PairStats[];
    clients: number;
    sendErrors: number;
    loop?: LoopReport;
    windowStart: number;
  };
  const results = await Promise.all(
    procs.map((proc, index) =>
      request<LoadResult>(proc, { type: 'run', plan: { ...plan, shard: { index, count } } }, 'result'),
    ),
  );
  progress.finish();
  for (const proc of procs) proc.kill();
  loadPids = [];
  const watchedLoops: Record<string, LoopReport> = {};
  results.forEach((r, i) => {
    if (r.loop) watchedLoops[i === 0 ? 'load' : `load ${i + 1}`] = r.loop;
  });
  for (const [name, loop] of Object.entries(loops)) {
    const report = await loop.catch(() => undefined);
    if (report) watchedLoops[name] = report;
  }
  const result = { ...mergeLoads(results), loadProcesses: count };
  return { ...result, loops: watchedLoops, machine: machineShares(cpuTimes.start, cpuTimes.end) };
}

/** One load's figures from its processes': a pair's sends are counted by the sender's, its arrivals by the receiver's. */
function mergeLoads<
  R extends { pairs: PairStats[]; clients: number; sendErrors: number; windowStart: number },
>(results: R[]): { pairs: PairStats[]; clients: number; sendErrors: number; windowStart: number } {
  const pairs = new Map<string, PairStats>();
  for (const r of results) {
    for (const p of r.pairs) {
      const key = `${p.from}>${p.to}`;
      const into = pairs.get(key);
      if (!into) {
        pairs.set(key, { ...p });
        continue;
      }
      into.sent += p.sent;
      into.received += p.received;
      into.twice += p.twice;
      into.latencies = into.latencies.concat(p.latencies);
      into.sentAt = into.sentAt.concat(p.sentAt);
      into.sender = into.sender.concat(p.sender);
      into.receiver = into.receiver.concat(p.receiver);
    }
  }
  return {
    pairs: [...pairs.values()],
    clients: results.reduce((n, r) => n + r.clients, 0),
    sendErrors: results.reduce((n, r) => n + r.sendErrors, 0),
    windowStart: results[0]!.windowStart,
  };
}

const basePlan = (servers: ServerInfo[], perProtocol: number): LoadPlan => ({
  servers,
  perProtocol,
  protocols,
  proxies: [],
  partners: 'mixed',
  partnersPerClient: 20,
  ratePerClient: rate,
  // Long enough for every client to have written to each partner once: the window then measures
  // conversations in progress (an MSN conversation's first message also opens a switchboard).
  warmupMs: (20 / rate + 2) * 1000,
  windowMs,
  drainMs: 3000,
  loginConcurrency: 32,
});

/** One step of a saturation climb. */
interface SaturationRow {
  clients: number;
  p99: number;
  lost: number;
  cpuPerMessage: number;
  /** CPU per message of the window, translated or relayed (dante's figure's denominator). */
  cpuPerCarried: number;
  /** Peak RSS over the run minus idle, per client (a host: the primary and every worker). */
  memoryPerClient: number;
  /** Open file descriptors per client after the traffic (a host: the primary and every worker). */
  descriptorsPerClient: number;
  /** After a full collection, loaded minus idle, per client (a host: summed over its processes). */
  memory?: ReturnType<typeof memoryPerUser>;
  rate: number;
  acceptErrors: number;
}

interface PairRow {
  from: Protocol;
  to: Protocol;
  sent: number;
  lost: number;
  through: Summary;
  added: Summary;
}

/** Arrivals of a message that had arrived already, summed over the pairs. */
const twice = (pairs: PairStats[]) => pairs.reduce((n, p) => n + p.twice, 0);

/** Added delay = latency through the proxy minus the mean direct latency on the sender's network. */
function addedDelays(pairs: PairStats[], direct: Map<Protocol, Summary>): number[] {
  return pairs.flatMap((p) => {
    const base = direct.get(p.from)?.mean ?? 0;
    return p.latencies.map((l) => l - base);
  });
}

function matrix(pairs: PairStats[], direct: Map<Protocol, Summary>): PairRow[] {
  return pairs
    .map((p) => ({
      from: p.from,
      to: p.to,
      sent: p.sent,
      lost: Math.max(0, p.sent - p.received),
      through: summarize(p.latencies),
      added: summarize(addedDelays([p], direct)),
    }))
    .sort(
      (a, b) =>
        PROTOCOLS.indexOf(a.from) - PROTOCOLS.indexOf(b.from) ||
        PROTOCOLS.indexOf(a.to) - PROTOCOLS.indexOf(b.to),
    );
}

/** The hyperdht network the distributed gateways join (started once, for every run that needs it). */
let dhtNetwork: { proc: ChildProcess; bootstrap: { host: string; port: number }[] } | undefined;

async function hyperdhtNetwork() {
  if (!dhtNetwork) {
    const proc = child('dht-process.ts');
    const { bootstrap } = await request<{ bootstrap: { host: string; port: number }[] }>(
      proc,
      { type: 'start', size: 20 },
      'started',
    );
    dhtNetwork = { proc, bootstrap };
  }
  return dhtNetwork;
}

async function gatewayRun(
  servers: Servers,
  perProtocol: number,
  label: string,
  profile = false,
  g2g: G2gMode = g2gModes[0]!,
  /** A host of this many workers at one SOCKS address, instead of two gateways in one process. */
  workers?: number,
) {
  const profileDir = join(resultsDir, 'profile');
  mkdirSync(profileDir, { recursive: true });
  const profileFile = join(profileDir, `gateway-${Date.now()}.cpuprofile`);
  const workerProfile = (index: number) => profileFile.replace(/\.cpuprofile$/, `.worker${index}.cpuprofile`);
  const dht = g2g === 'hyperdht' ? await hyperdhtNetwork() : undefined;
  const proc = child('gateway-process.ts');
  const { socks, pid, pids } = await request<{
    socks: { host: string; port: number }[];
    pid: number;
    pids?: number[];
  }>(
    proc,
    {
      type: 'start',
      count: 2,
      g2g,
      ...(softTtl ? { softTtl } : {}),
      ...(g2gVersion ? { g2gVersion } : {}),
      ...(dht ? { bootstrap: dht.bootstrap } : {}),
      ...(workers ? { workers } : apartGateways ? { apart: true } : {}),
    },
    'started',
  );
  // A host's workers are left to the scheduler (pinned to one CPU, more workers could not help).
  if (!workers) pinTo(pid, 1);
  const processes = pids ?? [pid];
  const rss = async () => {
    let sum = 0;
    for (const p of processes) sum += (await usageOf(p).catch(() => ({ rssBytes: 0 }))).rssBytes;
    return sum;
  };
  /** Descriptors the host's processes hold (Linux; 0 elsewhere). */
  const descriptors = () =>
    processes.reduce((sum, p) => {
      try {
        return sum + readdirSync(`/proc/${p}/fd`).length;
      } catch {
        return sum; // not Linux, or gone
      }
    }, 0);
  const idle = { rssBytes: await rss(), descriptors: descriptors() };
  // A host: the primary and each worker after a collection of its own, summed (gateway-process.ts).
  const idleMemory = await request<MemorySample>(
    proc,
    { type: 'memory', histogram: heapHistogram },
    'memory',
  );
  let loaded: Promise<MemorySample> | undefined;
  const plan = { ...basePlan(servers.infos, perProtocol), proxies: socks };
  type Stats = {
    cpuMicros: number;
    translated: number;
    verified: number;
    /** IMs resent over G2G and shown once, since the gateways started (absent from older hosts). */
    resent?: number;
    /** G2G events that waited past the ACK timeout on a link kept up, since the gateways started. */
    lateAcks?: number;
    /** Of them, those that failed alone. */
    lateAcksFailed?: number;
    acceptErrors: number;
    /** The gateways' own hyperdht nodes (distributed runs): requests sent, queries, persistent nodes. */
    dhtRequests?: number;
    dhtQueries?: number;
    dhtPersistent?: number;
    dhtNodes?: number;
    /** What the gateways asked of their stores and transports, by kind (gateway-process.ts `DhtOperations`). */
    dhtOperations?: Record<string, number>;
  };
  let before: Promise<Stats> | undefined;
  let after: Promise<Stats> | undefined;
  let profiling: Promise<unknown> = Promise.resolve();
  const watched: Record<string, ChildProcess> = { servers: servers.proc, gateways: proc };
  if (dht) watched.dht = dht.proc;
  // Each process's most descriptors, against its limit: the gateway's (or the host's primary and
  // workers), the load generator's and the mock servers' (prosody, a program of its own, is not read).
  const highWater = new Map<number, DescriptorMark>();
  const roles = (): [number, string][] => [
    ...processes.map((p, i): [number, string] =>
      workers ? [p, i === 0 ? 'gateway host: primary' : `gateway host: worker ${i - 1}`] : [p, 'gateways'],
    ),
    ...loadPids.map((p, i): [number, string] => [p, `load generator ${i + 1}`]),
    [servers.proc.pid ?? 0, 'mock servers'],
  ];
  const markDescriptors = () => {
    for (const [pid, role] of roles()) {
      const open = descriptorsOf(pid);
      if (open === undefined) continue;
      const mark = highWater.get(pid);
      if (!mark) highWater.set(pid, { role, open, limit: descriptorLimitOf(pid) });
      else mark.open = Math.max(mark.open, open);
    }
  };
  const loadPromise = runLoad(
    plan,
    label,
    watched,
    (edge) => {
      const sample = request<Stats>(proc, { type: 'stats' }, 'stats');
      sample.catch(() => {}); // awaited below, after the load: a failure is reported there
      if (edge === 'start') before = sample;
      else after = sample;
      if (profile) {
        const step = () =>
          edge === 'start'
            ? request(proc, { type: 'profile-start' }, 'profiling')
            : request<{ profile: string; workers?: string[] }>(
                proc,
                { type: 'profile-stop' },
                'profiled',
              ).then((r) => {
                writeFileSync(profileFile, r.profile);
                // A host: the primary's profile, and each worker's beside it.
                for (const [i, w] of (r.workers ?? []).entries()) writeFileSync(workerProfile(i), w);
              });
        profiling = profiling.then(step);
        profiling.catch(() => {}); // awaited after the load: a failure is reported there
      }
    },
    () => {
      markDescriptors(); // every conversation open: the height of the run
      // With the profiled run, a heap snapshot beside the CPU profile too.
      const file = profile ? profileFile.replace(/\.cpuprofile$/, '.heapsnapshot') : undefined;
      loaded = request<MemorySample>(
        proc,
        { type: 'memory', histogram: heapHistogram, ...(file ? { file } : {}) },
        'memory',
        120_000,
      );
      return loaded;
    },
  );
  // Memory and CPU measured while the clients are connected and the load runs.
  let peakRss = 0;
  const sampler = setInterval(async () => {
    peakRss = Math.max(peakRss, await rss());
  }, 500);
  const descriptorSampler = setInterval(markDescriptors, 1000);
  let result: Awaited<typeof loadPromise>;
  let memory: ReturnType<typeof memoryPerUser> | undefined;
  let b: Stats;
  let a: Stats;
  try {
    result = await loadPromise;
    [b, a] = [await before!, await after!];
    await profiling;
    if (idleMemory && loaded) memory = memoryPerUser(idleMemory, await loaded, result.clients);
  } finally {
    clearInterval(sampler);
    clearInterval(descriptorSampler);
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = once(proc, 'exit');
      await request(proc, { type: 'stop' }, 'stopped', 60_000).catch(() => proc.kill());
      await exited;
    }
  }
  const translated = a.translated - b.translated;
  // Every message of the window went through the gateways, translated or (same network) relayed:
  // the count dante's figure divides by.
  const carried = result.pairs.reduce((n, p) => n + p.sent, 0);
  return {
    result,
    cpuPerMessage: translated ? (a.cpuMicros - b.cpuMicros) / translated : Number.NaN,
    cpuPerCarried: carried ? (a.cpuMicros - b.cpuMicros) / carried : Number.NaN,
    translated,
    /** IMs another gateway resent after a missed ACK and the receiver showed once, warm-up included. */
    resent: a.resent ?? 0,
    /** G2G events a peer acknowledged later than the ACK timeout, on a link kept up, warm-up included. */
    lateAcks: a.lateAcks ?? 0,
    /** Of them, those that failed alone after every round (their senders look up and send again). */
    lateAcksFailed: a.lateAcksFailed ?? 0,
    /** Directory signatures checked per translated message. */
    verifiedPerMessage: translated ? (a.verified - b.verified) / translated : Number.NaN,
    /** On hyperdht: what the gateways' own DHT nodes sent per message carried, and how many were persistent. */
    dht:
      a.dhtNodes && b.dhtRequests !== undefined && carried
        ? {
            requestsPerMessage: (a.dhtRequests! - b.dhtRequests) / carried,
            queriesPerMessage: (a.dhtQueries! - b.dhtQueries!) / carried,
            /** Store operations (get, put, remove), G2G dials, relayed connections and punches, per message carried. */
            operationsPerMessage: Object.fromEntries(
              Object.entries(a.dhtOperations ?? {}).map(([k, n]) => [
                k,
                (n - (b.dhtOperations?.[k] ?? 0)) / carried,
              ]),
            ),
            persistent: a.dhtPersistent!,
            nodes: a.dhtNodes,
          }
        : undefined,
    /** Connections the gateways' listeners could not accept since they started (EMFILE; most
     * connections open in the warm-up, when each MSN conversation opens its switchboard). */
    acceptErrors: a.acceptErrors,
    memoryPerClient: (peakRss - idle.rssBytes) / result.clients,
    /** After the traffic, every client connected, after a full collection (a host: all its processes). */
    memory,
    /** Descriptors held per client after the traffic (the gateway process, or the whole host). */
    descriptorsPerClient: memory ? memory.descriptors : Number.NaN,
    /** Each process's most descriptors over the run (sampled every second), against its limit. */
    descriptorHighWater: [...highWater.values()],
    workers,
    /** The profiled run's CPU profile: the gateway process's, or a host's first worker's. */
    profileFile: profile ? (workers ? workerProfile(0) : profileFile) : undefined,
  };
}

/** A process's most open descriptors over a run, and its limit. */
interface DescriptorMark {
  role: string;
  open: number;
  limit: number;
}

/** Descriptors a process holds (`/proc/<pid>/fd`; undefined when it is gone or not Linux). */
function descriptorsOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** A process's limit on open files (its soft limit, which Node raises to the hard one at start). */
function descriptorLimitOf(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
  } catch {
    return Number.NaN;
  }
}

/**
 * Per connected client, loaded minus idle, both after a full collection: the V8 heap, the memory
 * outside it (buffers, socket state), RSS, and descriptors; with `--heap-histogram`, the kinds of
 * object that grew most.
 */
function memoryPerUser(idle: MemorySample, loaded: MemorySample, clients: number) {
  const per = (a: number, b: number) => (b - a) / clients;
  const kinds = loaded.histogram
    ? Object.entries(loaded.histogram)
        .map(([kind, v]) => ({
          kind,
          count: per(idle.histogram?.[kind]?.count ?? 0, v.count),
          bytes: per(idle.histogram?.[kind]?.bytes ?? 0, v.bytes),
        }))
        .sort((a, b) => b.bytes - a.bytes)
        .slice(0, 30)
    : undefined;
  return {
    clients,
    usersLoggedIn: loaded.users,
    heap: per(idle.heapUsed, loaded.heapUsed),
    external: per(idle.external, loaded.external),
    rss: per(idle.rss, loaded.rss),
    descriptors: per(idle.descriptors, loaded.descriptors),
    descriptorsTotal: loaded.descriptors,
    /** A host: each process's share, loaded minus idle (descriptors: loaded). */
    processes: loaded.processes?.map((p) => {
      const before = idle.processes?.find((q) => q.role === p.role);
      return {
        role: p.role,
        users: p.users,
        heapExternal: p.heapUsed + p.external - (before ? before.heapUsed + before.external : 0),
        rss: p.rss - (before?.rss ?? 0),
        descriptors: p.descriptors,
      };
    }),
    ...(kinds ? { kinds } : {}),
  };
}

/** The hottest functions of a CPU profile (self time), to name the bottleneck. */
function hottest(file: string, count = 8): { name: string; share: number }[] {
  if (!existsSync(file)) return [];
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const f = byId.get(id)!.callFrame;
    // Idle time is waiting for the network, not work: rank shares of the busy samples only.
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    busy++;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, n]) => ({ name, share: n / Math.max(busy, 1) }));
}

/** With more than one G2G transport: each pair's added delay under each, side by side. */
function transportsSection(
  rowsByMode: Map<G2gMode, PairRow[]>,
  byMode: Map<G2gMode, Awaited<ReturnType<typeof gatewayRun>>>,
  direct: Map<Protocol, Summary>,
): string[] {
  if (rowsByMode.size < 2) return [];
  const modes = [...rowsByMode.keys()];
  const first = rowsByMode.get(modes[0]!)!;
  const cell = (r: PairRow | undefined) =>
    r ? `${r.lost} | ${ms(r.added.mean)} | ${ms(r.added.p50)} | ${ms(r.added.p99)}` : '– | – | – | –';
  return [
    '### G2G over each transport, side by side',
    '',
    `| sender → receiver | ${modes.map((m) => `${m}: lost | mean added (ms) | p50 | p99`).join(' | ')} |`,
    `|---|${modes.map(() => '---:|---:|---:|---:').join('|')}|`,
    ...first.map(
      (r) =>
        `| ${r.from} → ${r.to} | ${modes
          .map((m) => cell(rowsByMode.get(m)!.find((x) => x.from === r.from && x.to === r.to)))
          .join(' | ')} |`,
    ),
    '',
    ...modes.map((m) => {
      const run = byMode.get(m)!;
      const all = summarize(addedDelays(run.result.pairs, direct));
      return `${m}: added delay over all pairs mean ${ms(all.mean)} ms, p50 ${ms(all.p50)}, p99 ${ms(all.p99)}, p99.9 ${ms(all.p999)}; gateway process ${fmt(run.cpuPerMessage)} µs CPU per translated message, ${run.verifiedPerMessage.toFixed(3)} directory signature checks per message.`;
    }),
    '',
  ];
}

// ------------------------------------------------------------------ memory

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const MEMORY_NOTE =
  "Peak RSS per client is the process's largest RSS over the run minus its idle RSS (garbage not yet collected included). The next three are measured with every client still connected and every conversation open, after the traffic, after a full collection, minus the same idle process: the V8 heap plus the memory outside it (buffers), the RSS, and the open descriptors.";

/** `--memory-only`: the gateway run at each step, reported for its memory and descriptors. */
async function memoryReport(servers: Servers, started: Date) {
  const rows: { n: number; run: Awaited<ReturnType<typeof gatewayRun>> }[] = [];
  for (const n of steps.length ? steps : [clients]) {
    const per = Math.ceil(n / protocols.length);
    // --workers N: a host of N workers at every step; otherwise two gateways in one process while
    // their descriptors fit one process, and a host of as many workers as they need beyond that.
    const counts = workerCounts.length ? workerCounts : [gatewayProcessesFor(basePlan(servers.infos, per))];
    for (const w of counts) {
      const workers = workerCounts.length || w > 1 ? w : undefined;
      const label = `${n} clients (memory${workers ? `, ${workers} worker${workers > 1 ? 's' : ''}` : ''})`;
      rows.push({ n, run: await gatewayRun(servers, per, label, false, 'tcp', workers) });
    }
  }
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  writeFileSync(
    join(resultsDir, `memory-${stamp}.json`),
    `${JSON.stringify({ date: started.toISOString(), command, protocols, descriptorLimit: openFilesLimit(), steps: rows.map((r) => ({ clients: r.n, workers: r.run.workers, loadProcesses: r.run.result.loadProcesses, memory: r.run.memory, peakRssPerClient: r.run.memoryPerClient, acceptErrors: r.run.acceptErrors, descriptorHighWater: r.run.descriptorHighWater })) }, null, 1)}\n`,
  );
  const hosts = rows.filter((r) => r.run.workers);
  const gatewayOf = (run: (typeof rows)[number]['run']) =>
    run.workers ? `host of ${run.workers} worker${run.workers > 1 ? 's' : ''}` : 'two gateways, one process';
  const lines = [
    '',
    `## Memory and descriptors per user (${started.toISOString().slice(0, 10)})`,
    '',
    `- machine: ${machineLine('all used: gateways, servers and load share them')}`,
    `- command: \`${command}\``,
    `- load: ${protocols.join(', ')}, 20 conversation partners each (${protocols.length > 1 ? 'mixed networks' : 'one network'}), ${rateText}, through ${hosts.length ? 'the gateway each row names' : 'two gateways in one process'}`,
    `- descriptors: a process here may hold ${openFilesLimit()} (\`ulimit -Hn\`, which a process cannot raise); the load generator runs as many processes as its clients' connections need (each drives every n-th client)${hosts.length ? ", and where the gateways' descriptors do not fit one process the gateway runs as a host of workers (`crosstalk gateway --workers N`: every worker accepting on the one address the primary holds, each worker a gateway with its own users and its own descriptor limit; users of different workers talk over G2G between them, as the two gateways of one process do). A host's figures are sums over its primary and its workers, each measured after a full collection of its own" : ''}`,
    '',
    '| clients | gateway | load processes | logged in | live heap per client | external per client | heap + external per client | each client more (since the step before) | RSS after GC per client | peak RSS per client | descriptors per client | descriptors in all | lost |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(({ n, run }, i) => {
      const m = run.memory!;
      const lost = run.result.pairs.reduce((s, p) => s + Math.max(0, p.sent - p.received), 0);
      const before = i > 0 ? rows[i - 1]! : undefined;
      const bm = before?.run.memory;
      // What one more client costs: the growth between two steps, the process's fixed costs (code
      // compiled under load, caches) left out. Only where both steps lost nothing.
      const lostBefore = before?.run.result.pairs.reduce((s, p) => s + Math.max(0, p.sent - p.received), 0);
      const more =
        before && bm && lost === 0 && lostBefore === 0
          ? kib(((m.heap + m.external) * n - (bm.heap + bm.external) * before.n) / (n - before.n))
          : '–';
      return `| ${n} | ${gatewayOf(run)} | ${run.result.loadProcesses} | ${m.usersLoggedIn} | ${kib(m.heap)} | ${kib(m.external)} | ${kib(m.heap + m.external)} | ${more} | ${kib(m.rss)} | ${kib(run.memoryPerClient)} | ${m.descriptors.toFixed(1)} | ${m.descriptorsTotal} | ${lost} |`;
    }),
    '',
    MEMORY_NOTE,
    '',
    '"Each client more" is the growth of heap + external from the step before, per client added: what one more connected user costs, without what the process holds whatever the number of users (code compiled under load, module sources, caches), which "per client" spreads over the clients of the step.',
    '',
    ...hosts.flatMap(({ n, run }) => [
      `The host at ${n} clients, process by process (loaded minus idle, each after its own collection; descriptors loaded):`,
      '',
      '| process | users | heap + external | RSS after GC | descriptors |',
      '|---|---:|---:|---:|---:|',
      ...(run.memory?.processes ?? []).map(
        (p) =>
          `| ${p.role} | ${p.users} | ${(p.heapExternal / 1024 / 1024).toFixed(1)} MiB | ${(p.rss / 1024 / 1024).toFixed(1)} MiB | ${p.descriptors} |`,
      ),
      '',
    ]),
    "Each process's most open descriptors over the run (`/proc/<pid>/fd`, read every second and when the traffic has drained), against its limit:",
    '',
    '| clients | process | most descriptors | limit | share |',
    '|---:|---|---:|---:|---:|',
    ...rows.flatMap(({ n, run }) =>
      run.descriptorHighWater.map(
        (d) => `| ${n} | ${d.role} | ${d.open} | ${d.limit} | ${((d.open / d.limit) * 100).toFixed(0)}% |`,
      ),
    ),
    '',
  ];
  const last = rows.at(-1)?.run.memory?.kinds;
  if (last) {
    lines.push(
      `What grew per client at ${rows.at(-1)!.n} clients (heap snapshot after a full collection, loaded minus idle, by kind of object; the largest 30):`,
      '',
      '| kind | objects per client | bytes per client |',
      '|---|---:|---:|',
      ...last.map(
        (k) => `| \`${k.kind.replace(/\|/g, '\\|')}\` | ${k.count.toFixed(2)} | ${k.bytes.toFixed(0)} |`,
      ),
      '',
    );
  }
  publish(lines.join('\n'));
}

/** The saturation table: each step's load, tail, loss, and what the gateway process spent on it. */
function saturationTable(rows: SaturationRow[], dantePerMessage: number): string[] {
  const dash = (m: SaturationRow['memory'], f: (m: NonNullable<SaturationRow['memory']>) => string) =>
    m ? f(m) : '–';
  return [
    '| clients | messages/s | p99 added (ms) | lost | gateway CPU µs per translated message | per message carried | vs dante (per message) | gateway peak RSS per client | live heap + external per client | RSS after GC per client | descriptors per client |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (s) =>
        `| ${s.clients} | ${fmt(s.rate)} | ${ms(s.p99)} | ${s.lost} | ${fmt(s.cpuPerMessage)} | ${fmt(s.cpuPerCarried)} | ${(s.cpuPerCarried / dantePerMessage).toFixed(2)}× | ${kib(s.memoryPerClient)} | ${dash(s.memory, (m) => kib(m.heap + m.external))} | ${dash(s.memory, (m) => kib(m.rss))} | ${Number.isNaN(s.descriptorsPerClient) ? '–' : s.descriptorsPerClient.toFixed(1)} |`,
    ),
    '',
  ];
}

/** With --workers: the climb for each host size, then how far each carried and the ratio to one worker. */
function workersSection(
  hosts: Map<number, { rows: SaturationRow[]; failed?: { clients: number; reason: string } }>,
  dantePerMessage: number,
): string[] {
  if (hosts.size === 0) return [];
  const sustained = (rows: SaturationRow[]) => rows.filter((r) => r.p99 <= 10 && r.lost === 0).at(-1);
  const lossless = (rows: SaturationRow[]) => rows.filter((r) => r.lost === 0).at(-1);
  const lines: string[] = [
    '### One host, several workers (`crosstalk gateway --workers N`)',
    '',
    "Each N: one host of N worker gateways behind one SOCKS address (the primary hands connections to the workers in turn; each user is served by one worker, so two users on different workers talk over G2G between them). The CPU, peak RSS, descriptors, heap and RSS after a collection are the whole host's: the primary and every worker (each collected on its own, then summed).",
    '',
  ];
  for (const [n, h] of hosts) {
    lines.push(`${n} worker${n > 1 ? 's' : ''}:`, '', ...saturationTable(h.rows, dantePerMessage));
    if (h.failed) lines.push(`The ${h.failed.clients}-client step did not finish: ${h.failed.reason}.`, '');
  }
  const one = hosts.get(1);
  for (const [n, h] of hosts) {
    const best = sustained(h.rows);
    const most = lossless(h.rows);
    const ratio = (a?: SaturationRow, b?: SaturationRow) =>
      a && b ? ` (${(a.rate / b.rate).toFixed(2)}× one worker)` : '';
    lines.push(
      `- ${n} worker${n > 1 ? 's' : ''}: highest load with p99 ≤ 10 ms and nothing lost ${best ? `${fmt(best.rate)} messages/s${n > 1 ? ratio(best, one && sustained(one.rows)) : ''}` : 'none of the steps'}; highest with nothing lost ${most ? `${fmt(most.rate)} messages/s${n > 1 ? ratio(most, one && lossless(one.rows)) : ''}` : 'none'}.`,
    );
  }
  lines.push('');
  return lines;
}

// ------------------------------------------------------------------ main

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  bundleChildren();
  const started = new Date();
  // Children (load, servers, prosody) inherit CPU 0; the proxies are moved to CPU 1 as they start.
  pinTo(process.pid, 0);
  process.stderr.write(
    `CrossTalk benchmark: ${clients} clients (${protocols.join(', ')}), window ${windowMs / 1000} s\n`,
  );
  const perProtocol = Math.ceil(clients / protocols.length);
  const maxPer = Math.ceil(Math.max(clients, ...steps) / protocols.length);
  const servers = await startServers(maxPer);
  if (memoryOnly) {
    try {
      await memoryReport(servers, started);
    } finally {
      await servers.stop();
    }
    return;
  }
  try {
    // 1. direct: same-network only, straight to the servers
    const direct = await runLoad({ ...basePlan(servers.infos, perProtocol), partners: 'same' }, 'direct', {
      servers: servers.proc,
    });
    const directByProtocol = new Map<Protocol, Summary>();
    for (const p of protocols) {
      directByProtocol.set(
        p,
        summarize(direct.pairs.filter((x) => x.from === p).flatMap((x) => x.latencies)),
      );
    }
    // 2. gateways: mixed networks (the latency matrix), for each G2G transport asked for
    const byMode = new Map<G2gMode, Awaited<ReturnType<typeof gatewayRun>>>();
    for (const mode of g2gModes)
      byMode.set(
        mode,
        await gatewayRun(
          servers,
          perProtocol,
          g2gModes.length > 1 ? `gateways (${mode})` : 'gateways',
          false,
          mode,
        ),
      );
    const enterprise = byMode.get(g2gModes[0]!)!;
    const rows = matrix(enterprise.result.pairs, directByProtocol);
    const rowsByMode = new Map(
      [...byMode].map(([mode, run]) => [mode, matrix(run.result.pairs, directByProtocol)]),
    );
    // 3. dante: the same same-network load through a relay that translates nothing
    const dante = await startDante();
    let danteBefore: Promise<{ cpu: number; kernel: number }> | undefined;
    let danteAfter: Promise<{ cpu: number; kernel: number }> | undefined;
    const relayed = await runLoad(
      {
        ...basePlan(servers.infos, perProtocol),
        partners: 'same',
        proxies: [{ host: '127.0.0.1', port: dante.port }],
      },
      'dante',
      { servers: servers.proc },
      (edge) => {
        if (edge === 'start') danteBefore = treeCpu(dante.pid);
        else danteAfter = treeCpu(dante.pid);
      },
    );
    const [danteStart, danteEnd] = [await danteBefore!, await danteAfter!];
    const danteCpu = danteEnd.cpu - danteStart.cpu;
    const danteKernelShare = danteCpu > 0 ? (danteEnd.kernel - danteStart.kernel) / danteCpu : Number.NaN;
    await dante.stop();
    // Messages sent inside the window (the CPU was sampled at its edges).
    const danteMessages = relayed.pairs.reduce((n, p) => n + p.sent, 0);
    const dantePerMessage = danteMessages ? danteCpu / danteMessages : Number.NaN;
    const danteSummary = summarize(addedDelays(relayed.pairs, directByProtocol));
    // 4. saturation: the two gateways, or with --workers a host of each worker count
    /** Climbs the steps; the step that could not finish ends it (with why; what came before is kept). */
    const climb = async (workers?: number) => {
      const rows: SaturationRow[] = [];
      let failed: { clients: number; reason: string } | undefined;
      let last = 0;
      for (const n of steps) {
        const per = Math.ceil(n / protocols.length);
        let run: Awaited<ReturnType<typeof gatewayRun>>;
        try {
          const label = workers ? `${workers} worker${workers > 1 ? 's' : ''}, ${n} clients` : `${n} clients`;
          run = await gatewayRun(servers, per, label, false, 'tcp', workers);
        } catch (error) {
          failed = {
            clients: n,
            reason: error instanceof Error ? error.message.split('\n')[0]! : String(error),
          };
          break;
        }
        last = n;
        const all = matrix(run.result.pairs, directByProtocol);
        const p99 = summarize(addedDelays(run.result.pairs, directByProtocol)).p99;
        const lost = all.reduce((s, r) => s + r.lost, 0);
        const sent = all.reduce((s, r) => s + r.sent, 0);
        rows.push({
          clients: run.result.clients,
          p99,
          lost,
          cpuPerMessage: run.cpuPerMessage,
          cpuPerCarried: run.cpuPerCarried,
          memoryPerClient: run.memoryPerClient,
          descriptorsPerClient: run.descriptorsPerClient,
          ...(run.memory ? { memory: run.memory } : {}),
          rate: sent / (windowMs / 1000),
          acceptErrors: run.acceptErrors,
        });
        // The table shows where the targets stop holding; only heavy loss ends the climb early.
        if (lost > sent * 0.01) break;
      }
      return { rows, failed, last };
    };
    const hosts = new Map<number, Awaited<ReturnType<typeof climb>>>();
    for (const n of workerCounts) hosts.set(n, await climb(n));
    const plain = workerCounts.length ? { rows: [], failed: undefined, last: 0 } : await climb();
    const saturation = plain.rows;
    let failed = plain.failed;
    let profile: { name: string; share: number }[] = [];
    // Every step is measured without the profiler (it costs the gateway CPU and adds to the delay
    // measured); the profile comes from a re-run of the last step, reported apart.
    // With --workers, the largest host's last step: every worker profiled (files beside the primary's).
    const profiledWorkers = workerCounts.length ? Math.max(...workerCounts) : undefined;
    const profiledClients = profiledWorkers ? (hosts.get(profiledWorkers)?.last ?? 0) : plain.last;
    if (profiledClients) {
      try {
        const again = await gatewayRun(
          servers,
          Math.ceil(profiledClients / protocols.length),
          `${profiledClients} (profiled)`,
          true,
          'tcp',
          profiledWorkers,
        );
        profile = hottest(again.profileFile!);
      } catch (error) {
        failed ??= {
          clients: profiledClients,
          reason: `profiled re-run: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        };
      }
    }

    // ------------------------------------------------------------ report
    const date = started.toISOString().slice(0, 10);
    const json = {
      date: started.toISOString(),
      machine: machineLine(
        pin
          ? 'the proxy under test pinned to CPU 1, load, servers and prosody to CPU 0'
          : 'all used: gateways, servers and load share them',
      ),
      command,
      clients,
      protocols,
      windowMs,
      g2g: g2gModes,
      transports: Object.fromEntries(
        [...byMode].map(([mode, run]) => [
          mode,
          {
            matrix: rowsByMode.get(mode),
            cpuPerTranslatedMessageMicros: run.cpuPerMessage,
            directoryVerificationsPerMessage: run.verifiedPerMessage,
            added: summarize(addedDelays(run.result.pairs, directByProtocol)),
            loops: run.result.loops,
          },
        ]),
      ),
      direct: Object.fromEntries(directByProtocol),
      matrix: rows,
      cpuPerTranslatedMessageMicros: enterprise.cpuPerMessage,
      cpuPerMessageCarriedMicros: enterprise.cpuPerCarried,
      directoryVerificationsPerMessage: enterprise.verifiedPerMessage,
      ...(enterprise.dht ? { gatewayDht: enterprise.dht } : {}),
      deliveredTwice: {
        gateways: twice(enterprise.result.pairs),
        dante: twice(relayed.pairs),
        resentOverG2gShownOnce: enterprise.resent,
        lateG2gAcksOnLinksKept: enterprise.lateAcks,
        lateG2gAcksFailedAlone: enterprise.lateAcksFailed,
      },
      dante: { cpuPerMessageMicros: dantePerMessage, kernelShare: danteKernelShare, added: danteSummary },
      saturation,
      workers: Object.fromEntries([...hosts].map(([n, h]) => [n, h])),
      failed,
      profile,
      loops: { direct: direct.loops, gateways: enterprise.result.loops, dante: relayed.loops },
      machineShares: { direct: direct.machine, gateways: enterprise.result.machine, dante: relayed.machine },
    };
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    writeFileSync(join(resultsDir, `paper-${stamp}.json`), `${JSON.stringify(json, null, 1)}\n`);
    // Every message's send time and latency (large; not committed): for finding when a tail happened.
    writeFileSync(
      join(resultsDir, `paper-${stamp}.samples.json`),
      JSON.stringify({ direct, gateways: enterprise.result, dante: relayed }),
    );
    const svg = latencyChart(
      `Added delay per pair, ${clients} clients at 1 msg/s (${date})`,
      rows.map((r) => ({ label: `${r.from}→${r.to}`, mean: r.added.mean, p99: r.added.p99 })),
    );
    // One chart per run, beside its JSON and named in its section of docs/benchmarks.md.
    const chartName = `benchmarks-paper-latency-${stamp}.svg`;
    writeFileSync(join(resultsDir, `paper-${stamp}.svg`), svg);
    // Into docs/ only with the section that names it (--append); otherwise beside the JSON.
    if (argv.includes('--append')) writeFileSync(join(here, '..', '..', 'docs', chartName), svg);
    const okPairs = rows.filter((r) => r.added.p99 <= 2 && r.lost === 0).length;
    // All pairs together, beside dante's same-network relay of the same load.
    const oursAdded = summarize(addedDelays(enterprise.result.pairs, directByProtocol));
    const best = saturation.filter((s) => s.p99 <= 10 && s.lost === 0).at(-1);
    const lines = [
      '',
      `## The paper's evaluation (${date})`,
      '',
      `- machine: ${json.machine}`,
      `- command: \`${command}\``,
      `- load: ${clients} clients over ${protocols.join(', ')}, 20 conversation partners each (mixed networks through the gateways), ${rateText}; ${json.windowMs / 1000} s window after warm-up; servers, two gateways (${apartGateways ? 'a process each' : 'one process'}) and the load generator are separate processes on this machine`,
      `- G2G: ${g2gModes.map((m) => (m === 'tcp' ? 'over TCP with Noise, directory in memory (embedded)' : 'over hyperdht streams, directory on a 20-node hyperdht network in a process of its own (distributed)')).join('; then ')}${g2gModes.length > 1 ? '; the first table, dante and saturation are the first' : ''}${softTtl ? `; soft TTL ${softTtl / 1000} s (re-signed every ${fmt(softTtl / 3000)} s)` : ''}${g2gVersion ? `; G2G version ${g2gVersion}` : ''}`,
      "- added delay = latency through the gateways minus the mean direct latency on the sender's own network (same load, straight to the same mock servers)",
      '',
      '| sender → receiver | sent | lost | mean added (ms) | p50 | p99 | p99.9 | p99 through − p99 direct |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.from} → ${r.to} | ${r.sent} | ${r.lost} | ${ms(r.added.mean)} | ${ms(r.added.p50)} | ${ms(r.added.p99)} | ${ms(r.added.p999)} | ${ms(r.through.p99 - directByProtocol.get(r.from)!.p99)} |`,
      ),
      '',
      "The target is checked against the p99 column (each message's latency minus the direct run's mean), which carries the machine's own tail: a gateway that added nothing would show the direct run's p99 minus its mean there. The last column compares the two runs' 99th percentiles instead: how far the gateways move the tail.",
      '',
      ...transportsSection(rowsByMode, byMode, directByProtocol),
      `Direct latency (baseline): ${protocols.map((p) => `${p} ${ms(directByProtocol.get(p)!.mean)} ms mean, p99 ${ms(directByProtocol.get(p)!.p99)}`).join('; ')}.`,
      `Target "p99 added ≤ 2 ms for every pair, 0 lost": ${okPairs}/${rows.length} pairs meet it.`,
      `Delivered twice (a message of the window that arrived again after its first arrival): ${twice(enterprise.result.pairs)} through the gateways, ${twice(relayed.pairs)} through dante, ${twice(direct.pairs)} direct; the gateways took ${enterprise.resent} IMs resent over G2G after a missed acknowledgement (warm-up included) and showed each once, and kept their links through ${enterprise.lateAcks} events a peer answering others acknowledged later than the timeout (${enterprise.lateAcksFailed} of them never, failing alone).`,
      '',
      'Where a message can wait, per process over each window (event-loop delay: how late a 10 ms timer fired; GC: pauses of the garbage collector):',
      '',
      '| run | process | CPU (cores) | of it in the kernel | loop delay p50 (ms) | p99 | max | GC pauses | GC total (ms) | longest GC (ms) |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...Object.entries(json.loops).flatMap(([run, loops]) =>
        Object.entries(loops).map(
          ([name, l]) =>
            `| ${run} | ${name} | ${l.cpu.toFixed(2)} | ${l.cpuKernel.toFixed(2)} | ${ms(l.delayP50)} | ${ms(l.delayP99)} | ${ms(l.delayMax)} | ${l.gcPauses} | ${ms(l.gcTotalMs)} | ${ms(l.gcMaxMs)} |`,
        ),
      ),
      '',
      `The whole machine over each window (/proc/stat, all ${cpus().length} CPUs): ${Object.entries(
        json.machineShares,
      )
        .map(([run, m]) =>
          m
            ? `${run} ${(m.busy * 100).toFixed(0)}% busy, ${(m.steal * 100).toFixed(1)}% stolen by the hypervisor`
            : `${run} unknown`,
        )
        .join('; ')}. Stolen time is time a vCPU was ready and not run: every process on it stalls at once.`,
      '',
      `Relay baseline (dante, same-network load): ${fmt(dantePerMessage)} µs CPU per relayed message (${(danteKernelShare * 100).toFixed(0)}% of it in the kernel), added delay mean ${ms(danteSummary.mean)} ms, p99 ${ms(danteSummary.p99)} ms. CrossTalk gateways: ${fmt(enterprise.cpuPerMessage)} µs CPU per translated message = ${(enterprise.cpuPerMessage / dantePerMessage).toFixed(2)}× dante (target ≤ 3×), ${enterprise.verifiedPerMessage.toFixed(3)} directory signature checks per message; per message carried (translated or relayed: every message of the window, as dante's figure counts them) ${fmt(enterprise.cpuPerCarried)} µs = ${(enterprise.cpuPerCarried / dantePerMessage).toFixed(2)}× dante (target ≤ 2×).${
        enterprise.dht
          ? ` The gateways' own hyperdht nodes sent ${enterprise.dht.requestsPerMessage.toFixed(2)} DHT requests and started ${enterprise.dht.queriesPerMessage.toFixed(3)} queries per message carried (${Object.entries(
              enterprise.dht.operationsPerMessage,
            )
              .map(([k, n]) => `${k} ${n.toFixed(3)}`)
              .join(
                ', ',
              )}); ${enterprise.dht.persistent} of ${enterprise.dht.nodes} were persistent (routing and storing for others) at the window's end.`
          : ''
      } Added delay over all pairs: mean ${ms(oursAdded.mean)} ms (${(oursAdded.mean / danteSummary.mean).toFixed(2)}× dante's), p99 ${ms(oursAdded.p99)} ms (${(oursAdded.p99 / danteSummary.p99).toFixed(2)}× dante's).`,
      '',
      ...(saturation.length ? saturationTable(saturation, dantePerMessage) : []),
      ...workersSection(hosts, dantePerMessage),
      ...(saturation.length || hosts.size ? [MEMORY_NOTE, ''] : []),
      !saturation.length
        ? ''
        : best
          ? `Highest sustained load with p99 ≤ 10 ms and nothing lost: ${best.clients} clients (${fmt(best.rate)} messages/s); the paper's load was 520 clients.`
          : 'No step sustained p99 ≤ 10 ms with nothing lost.',
      failed ? `The ${failed.clients}-client step did not finish: ${failed.reason}.` : '',
      ...saturation
        .filter((s) => s.acceptErrors > 0)
        .map(
          (s) =>
            `At ${s.clients} clients the gateways could not accept ${s.acceptErrors} connections (out of file descriptors: a process here may hold ${openFilesLimit()}); the lost messages are conversations that could not open.`,
        ),
      profile.length
        ? `Where ${profiledWorkers ? `the first worker of the host of ${profiledWorkers}` : 'the gateway process'} spends its busy time at ${profiledClients} clients (a profiled re-run of the last step, not in the table; CPU profile, self time, idle excluded${profiledWorkers ? "; every worker's and the primary's profile are in bench/results/profile" : ''}): ${profile.map((p) => `${p.name} ${(p.share * 100).toFixed(1)}%`).join('; ')}.`
        : '',
      '',
      `![Added delay per pair](${chartName})`,
      '',
    ];
    publish(lines.join('\n'));
  } finally {
    await servers.stop();
    if (dhtNetwork)
      await request(dhtNetwork.proc, { type: 'stop' }, 'stopped', 60_000).catch(() =>
        dhtNetwork?.proc.kill(),
      );
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`\n${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
