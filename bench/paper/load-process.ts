/**
 * The benchmark's load generator: scripted clients of every protocol, each sending one
 * 150-character IM per second to its conversation partners in turn (the Xiao/Guo enterprise model
 * the paper used: 20 partners each), and timing every delivery. Senders and receivers share this
 * process's clock, so a latency is one subtraction. Connections go directly to the servers, through
 * gateways, or through a plain SOCKS relay (dante), as run.ts asks.
 *
 * A load too large for one process's descriptors (each MSN conversation is a connection) is spread
 * over several of these (`shard`): each drives every `count`-th client and counts what its own
 * clients send and receive, and run.ts starts them together (`go`) and adds their figures up. A
 * latency is then a subtraction of two processes' clocks (`performance.timeOrigin`, the same system
 * clock on this one machine).
 */
import { type ConnectUser, connectors } from './connectors.js';
import { exitWithParent, type Protocol, type ServerInfo } from './ipc.js';
import { loopWatch } from './loop-watch.js';
import type { LoadProgress } from './progress.js';
import { socksVia } from './socks-dial.js';

export interface LoadPlan {
  servers: ServerInfo[];
  /** Clients per protocol. */
  perProtocol: number;
  protocols: Protocol[];
  /** `direct`: to the servers; otherwise through these SOCKS proxies (client i uses proxy i % n). */
  proxies: { host: string; port: number }[];
  /** `mixed`: partners on every network; `same`: only on the client's own network. */
  partners: 'mixed' | 'same';
  partnersPerClient: number;
  ratePerClient: number;
  warmupMs: number;
  windowMs: number;
  drainMs: number;
  loginConcurrency: number;
  /** This process drives clients `index`, `index + count`, ... of the load (default: all of them). */
  shard?: { index: number; count: number };
}

interface Client {
  protocol: Protocol;
  index: number;
  driver: ReturnType<ConnectUser>;
  partners: number[];
}

export interface PairStats {
  from: Protocol;
  to: Protocol;
  sent: number;
  received: number;
  /** Messages sent inside the window that arrived more than once (each extra arrival counted). */
  twice: number;
  /** Latencies in ms of messages sent inside the window. */
  latencies: number[];
  /** When each of those was sent, ms after the window opened (a tail that clusters in time is a pause). */
  sentAt: number[];
  /** And which clients sent and received it (indexes into the load's client list). */
  sender: number[];
  receiver: number[];
}

const now = () => performance.timeOrigin + performance.now();

function pad(text: string): string {
  return text.length >= 150
    ? text.slice(0, 150)
    : text + ' lorem ipsum dolor sit amet consectetur'.repeat(5).slice(0, 150 - text.length);
}

/**
 * Tells run.ts this process's clients are logged in and waits for its `go`: when the load begins
 * (epoch ms), the same instant for every process of a sharded load.
 */
function loggedIn(): Promise<number> {
  if (!process.send) return Promise.resolve(now());
  return new Promise((resolve) => {
    const onMessage = (m: { type?: string; begin?: number }) => {
      if (m?.type !== 'go') return;
      process.off('message', onMessage);
      resolve(m.begin ?? now());
    };
    process.on('message', onMessage);
    process.send!({ type: 'logged-in' });
  });
}

export async function runLoad(plan: LoadPlan, progress: (p: LoadProgress) => void) {
  const shard = plan.shard ?? { index: 0, count: 1 };
  /** Whether this process drives client `index` (a sharded load: every `count`-th). */
  const mine = (index: number) => index % shard.count === shard.index;
  // The first process tells run.ts when the window opens and closes (they are the same instants in all).
  const edges = shard.index === 0;
  const clients: Client[] = [];
  for (const protocol of plan.protocols) {
    const server = plan.servers.find((s) => s.protocol === protocol);
    if (!server) throw new Error(`no server for ${protocol}`);
    for (let i = 0; i < plan.perProtocol; i++) {
      const index = clients.length;
      const proxy = plan.proxies.length ? plan.proxies[index % plan.proxies.length] : undefined;
      const dial = socksVia(proxy);
      const name = server.users[i]!;
      const driver = connectors[protocol](
        { host: server.host, port: server.port, network: server.network },
        { name, password: server.passwords[i]! },
        dial,
      );
      clients.push({ protocol, index, driver, partners: [] });
    }
  }
  // Partners: deterministic and spread evenly over the networks (mixed) or within one (same):
  // partner k is on protocol k mod P, the (1 + k div P)-th user after this one there.
  const byProtocol = new Map<Protocol, Client[]>();
  for (const c of clients) byProtocol.set(c.protocol, [...(byProtocol.get(c.protocol) ?? []), c]);
  for (const c of clients) {
    const own = byProtocol.get(c.protocol)!;
    const me = own.indexOf(c);
    const nets = plan.partners === 'same' ? [c.protocol] : plan.protocols;
    for (let k = 0; c.partners.length < plan.partnersPerClient && k < plan.partnersPerClient * 4; k++) {
      const pool = byProtocol.get(nets[k % nets.length]!)!;
      const other = pool[(me + 1 + Math.floor(k / nets.length)) % pool.length]!;
      if (other !== c && !c.partners.includes(other.index)) c.partners.push(other.index);
    }
  }

  // Every process makes every client's driver (a partner's address comes from it; nothing connects
  // before login) and drives its own.
  const own = clients.filter((c) => mine(c.index));
  let logins = 0;
  const queue = [...own];
  await Promise.all(
    Array.from({ length: plan.loginConcurrency }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        await c.driver.login();
        progress({ stage: 'login', done: ++logins, total: own.length });
      }
    }),
  );
  const begin = await loggedIn();

  const pairs = new Map<string, PairStats>();
  const pair = (from: Protocol, to: Protocol) => {
    const key = `${from}>${to}`;
    let p = pairs.get(key);
    if (!p) {
      p = { from, to, sent: 0, received: 0, twice: 0, latencies: [], sentAt: [], sender: [], receiver: [] };
      pairs.set(key, p);
    }
    return p;
  };
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  // For the progress line, every message of the run (warm-up too): sent, arrived, and lost, meaning
  // not arrived within the drain time (what the report counts as lost at the window's end); one
  // that arrives later is taken back off. Counted as sent more than the drain time ago (by the
  // sender's process) minus arrived of those (by the receiver's), so that the processes of a
  // sharded load add up: lost = old sent - old received, summed over them.
  const counts = { sent: 0, received: 0, lost: 0, failed: 0, twice: 0 };
  /** Every message that arrived (warm-up too), to count those delivered again. */
  const arrived = new Set<string>();
  /** When each message this process sent left, in order; before `sentHead` they are old. */
  const sentTimes: number[] = [];
  let sentHead = 0;
  let sentOld = 0;
  /** Send times of arrivals not yet old. */
  let arrivedRecent: number[] = [];
  let arrivedOld = 0;
  const sweep = () => {
    const before = now() - plan.drainMs;
    while (sentHead < sentTimes.length && sentTimes[sentHead]! <= before) {
      sentHead++;
      sentOld++;
    }
    if (sentHead > 65_536) {
      sentTimes.splice(0, sentHead);
      sentHead = 0;
    }
    const recent: number[] = [];
    for (const t of arrivedRecent) {
      if (t <= before) arrivedOld++;
      else recent.push(t);
    }
    arrivedRecent = recent;
    counts.lost = sentOld - arrivedOld;
  };
  for (const c of own) {
    c.driver.onIm((_from, text) => {
      const at = now();
      const m = /^BENCH (\d+) (\d+) ([\d.]+) /.exec(text);
      if (!m) return;
      const id = `${m[1]}:${m[2]}`;
      const sender = clients[Number(m[1])]!;
      const sentAt = Number(m[3]);
      // Delivered again (a resend whose first copy had arrived): not an arrival, and counted.
      if (arrived.has(id)) {
        counts.twice++;
        if (sentAt >= windowStart && sentAt <= windowEnd) pair(sender.protocol, c.protocol).twice++;
        return;
      }
      arrived.add(id);
      counts.received++;
      arrivedRecent.push(sentAt);
      if (sentAt < windowStart || sentAt > windowEnd) return;
      const p = pair(sender.protocol, c.protocol);
      p.received++;
      p.latencies.push(at - sentAt);
      p.sentAt.push(sentAt - windowStart);
      p.sender.push(sender.index);
      p.receiver.push(c.index);
    });
  }

  const total = plan.warmupMs + plan.windowMs;
  windowStart = begin + plan.warmupMs;
  windowEnd = windowStart + plan.windowMs;
  const interval = 1000 / plan.ratePerClient;
  let errors = 0;
  const report = () => {
    sweep();
    progress({ stage: 'messages', done: Math.min(now() - begin, total), total, ...counts });
  };
  const ticker = setInterval(report, 250);
  // Tell run.ts when the measurement window opens and closes, so it samples the proxies' CPU then.
  const watch = loopWatch();
  let loop: ReturnType<typeof watch.stop> | undefined;
  setTimeout(
    () => {
      watch.start();
      if (edges) process.send?.({ type: 'window', edge: 'start' });
    },
    Math.max(0, windowStart - now()),
  ).unref();
  setTimeout(
    () => {
      loop = watch.stop();
      if (edges) process.send?.({ type: 'window', edge: 'end' });
    },
    Math.max(0, windowEnd - now()),
  ).unref();
  await Promise.all(
    own.map(async (c) => {
      let seq = 0;
      let next = begin + Math.random() * interval;
      while (next < begin + total) {
        const wait = next - now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const to = clients[c.partners[seq % c.partners.length]!]!;
        const sentAt = now();
        const text = pad(`BENCH ${c.index} ${seq} ${sentAt.toFixed(3)} `);
        if (sentAt >= windowStart && sentAt <= windowEnd) pair(c.protocol, to.protocol).sent++;
        seq++;
        sentTimes.push(sentAt);
        counts.sent++;
        c.driver.sendIm(to.driver.address, text).catch((error) => {
          counts.failed++;
          // The first few failures are printed: a lost message needs a cause, not only a count.
          if (errors++ < 5)
            process.stderr.write(`\n  send ${c.protocol} -> ${to.protocol} failed: ${error}\n`);
        });
        next += interval;
      }
    }),
  );
  await new Promise((r) => setTimeout(r, Math.max(0, windowEnd - now()) + plan.drainMs));
  clearInterval(ticker);
  report(); // the last figures: every message has had the drain time to arrive
  // Every client still connected and every conversation still open, the traffic over: run.ts
  // measures the proxy's memory and descriptors now (a full collection there would stall the
  // window's messages) and answers `resume`.
  if (process.send) {
    const resumed = new Promise<void>((resolve) => {
      const onMessage = (m: { type?: string }) => {
        if (m?.type !== 'resume') return;
        process.off('message', onMessage);
        resolve();
      };
      process.on('message', onMessage);
    });
    process.send({ type: 'window', edge: 'drained' });
    await resumed;
  }
  await Promise.all(own.map((c) => c.driver.logout().catch(() => c.driver.disconnect())));
  return { pairs: [...pairs.values()], clients: own.length, sendErrors: errors, loop, windowStart };
}

exitWithParent();
process.on('message', async (m: { type: string; plan?: LoadPlan }) => {
  if (m.type !== 'run' || !m.plan) return;
  try {
    const result = await runLoad(m.plan, (p) => process.send!({ type: 'progress', ...p }));
    process.send!({ type: 'result', ...result });
  } catch (error) {
    process.send!({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
  }
});
