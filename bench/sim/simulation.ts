import { stanza } from '@crosstalk/codec-xmpp';
import { type Design, SimNetwork } from './gateway-model.js';
import { KademliaNetwork } from './kademlia.js';
import { Meter, mean, type OpStats, percentile } from './meter.js';
import { Population } from './population.js';
import { EventQueue } from './queue.js';
import { Rng } from './rng.js';
import { hash32, QueryPools, SimDhtWorld, WIRE } from './sim-dht.js';

/**
 * One run of the model: a population, a DHT, gateways of one design, and a workload in virtual time.
 * The parameters' sources are in docs/benchmarks.md ("The model of internet scale").
 */
export interface SimParams {
  /** The population the results are scaled to. */
  nominalUsers: number;
  gateways: number;
  /** Storing nodes of the DHT. */
  dhtNodes: number;
  /** Users simulated per gateway (the nominal population is nominalUsers / gateways per gateway). */
  usersPerGateway: number;
  meanBuddies: number;
  buddySigma: number;
  maxBuddies: number;
  /** Share of each buddy list within the user's cluster of `clusterGateways` gateways. */
  locality: number;
  clusterGateways: number;
  /** Share of users online at any moment. */
  onlineShare: number;
  sessionMinutes: number;
  /** Presence changes (away, back, status text) per online hour. */
  presencePerHour: number;
  /** Conversations a user starts per online hour. */
  conversationsPerHour: number;
  messagesPerConversation: number;
  messageGapSeconds: number;
  imChars: number;
  warmupSeconds: number;
  settleSeconds: number;
  windowSeconds: number;
  seed: number;
}

export const DEFAULT_PARAMS: SimParams = {
  nominalUsers: 1_000_000,
  gateways: 1000,
  dhtNodes: 1000,
  usersPerGateway: 100,
  meanBuddies: 50,
  buddySigma: 1,
  maxBuddies: 600,
  locality: 0.5,
  clusterGateways: 10,
  // 90 M of 240 M accounts a day (Leskovec and Horvitz), online 8 h of the 24 on such a day.
  onlineShare: (90 / 240) * (8 / 24),
  sessionMinutes: 120,
  presencePerHour: 3,
  // About 11 conversations a day per active account (1 billion a day over 90 M), over 8 online
  // hours, each started by one of its two people.
  conversationsPerHour: 1e9 / 90e6 / 8 / 2,
  // About 7 messages per conversation (7 billion a day over 1 billion conversations).
  messagesPerConversation: 7,
  messageGapSeconds: 15,
  imChars: 50,
  warmupSeconds: 120,
  settleSeconds: 60,
  windowSeconds: 1800,
  seed: 1,
};

/** What the gateway does whatever its users: not scaled up with them. */
export const PER_GATEWAY: readonly string[] = ['capabilities', 'lease', 'store refresh (gateway)'];

/** The modelled DHT, shared by the designs of one run (the same nodes, tables and query traces). */
export interface SharedModel {
  population: Population;
  network: KademliaNetwork;
}

export function buildShared(p: SimParams): SharedModel {
  const rng = new Rng(p.seed);
  const population = new Population({
    users: p.gateways * p.usersPerGateway,
    gateways: p.gateways,
    meanBuddies: p.meanBuddies,
    sigma: p.buddySigma,
    maxBuddies: p.maxBuddies,
    locality: p.locality,
    clusterGateways: p.clusterGateways,
    rng: rng.fork(),
  });
  const network = new KademliaNetwork({ nodes: p.dhtNodes, clients: p.gateways, rng: rng.fork() });
  return { population, network };
}

/** Per-host load, per second, scaled to the nominal population. */
export interface Load {
  mean: number;
  p99: number;
  max: number;
}

export interface DesignResult {
  design: Design;
  ops: Map<string, OpStats>;
  /** Online user-hours in the window (simulated). */
  onlineHours: number;
  /** Nominal users per simulated user. */
  scale: number;
  gatewayDht: Load;
  gatewayG2g: Load;
  nodeDht: Load;
  links: number;
  /** Messages an IM could not be delivered (the recipient had left meanwhile). */
  imsLost: number;
  /** Real seconds the run took. */
  seconds: number;
}

/** Runs one design over the shared model; `progress` hears now and then how far virtual time got. */
export async function simulate(
  p: SimParams,
  design: Design,
  shared: SharedModel,
  progress: (line: string) => void = () => {},
): Promise<DesignResult> {
  const started = performance.now();
  const rng = new Rng(p.seed ^ 0x51ed);
  const { population, network } = shared;
  const queue = new EventQueue();
  const meter = new Meter(p.gateways, p.dhtNodes, rng.fork());
  for (const label of PER_GATEWAY) meter.perGateway.add(label);
  const pools = new QueryPools(network, rng.fork());
  const world = new SimDhtWorld(pools, meter, () => queue.now, design.slots);
  const stores = Array.from({ length: p.gateways }, (_, g) => world.view(g));
  const net = new SimNetwork({
    population,
    queue,
    meter,
    design,
    canonical: stanza,
    dhtFor: (g) => stores[g]!,
    linkCost: (from, to) => {
      // hyperdht `connect`: a find-peer query toward the peer's key, then the handshake relayed by
      // the node holding its announcement (request and reply each way: four datagrams).
      const closest = world.closest(hash32(`gateway:${to}`));
      world.query(
        from,
        'plain',
        closest,
        WIRE.lookupRequest,
        WIRE.lookupReply + WIRE.perPeer,
        WIRE.lookupReply,
      );
      meter.request(from, closest[0]!, 2 * WIRE.handshake);
      meter.request(from, closest[0]!, 2 * WIRE.handshake);
    },
    storeRefresh: (g, which) => stores[g]!.refreshOwn(which),
    rng: rng.fork(),
  });
  for (const gateway of net.gateways) gateway.start();

  const users = population.users;
  const epoch = new Int32Array(users);
  const away = new Uint8Array(users);
  const homeSince = new Float64Array(users);
  const session = p.sessionMinutes * 60_000;
  const offline = (session * (1 - p.onlineShare)) / p.onlineShare;
  const warmup = p.warmupSeconds * 1000;
  const windowStart = warmup + p.settleSeconds * 1000;
  const windowEnd = windowStart + p.windowSeconds * 1000;
  const text = 'x'.repeat(p.imChars);
  let imsLost = 0;
  let imIds = 0;

  const login = (u: number) => {
    if (net.online[u]) return;
    net.online[u] = 1;
    const e = ++epoch[u]!;
    queue.after(rng.exponential(session), () => logout(u, e));
    queue.after(rng.exponential(3_600_000 / p.presencePerHour), () => presence(u, e));
    queue.after(rng.exponential(3_600_000 / p.conversationsPerHour), () => converse(u, e));
    return net.home(u).login(u);
  };
  const logout = (u: number, e: number) => {
    if (epoch[u] !== e) return;
    net.online[u] = 0;
    epoch[u]!++;
    queue.after(rng.exponential(offline), () => login(u));
    return meter.measure('logout', () => net.home(u).logout(u));
  };
  const presence = (u: number, e: number) => {
    if (epoch[u] !== e) return;
    queue.after(rng.exponential(3_600_000 / p.presencePerHour), () => presence(u, e));
    away[u] = away[u] ? 0 : 1;
    const status = away[u] ? 'away' : 'online';
    return meter.measure('presence', () =>
      net.home(u).setPresence(u, status, away[u] ? 'back soon' : undefined),
    );
  };
  const converse = (u: number, e: number) => {
    if (epoch[u] !== e) return;
    queue.after(rng.exponential(3_600_000 / p.conversationsPerHour), () => converse(u, e));
    const buddies = population.buddiesOf(u).filter((b) => net.online[b] === 1);
    if (buddies.length === 0) return;
    const partner = buddies[rng.int(buddies.length)]!;
    // Geometric number of messages with the given mean, alternating sides.
    let left = 1;
    while (rng.next() > 1 / p.messagesPerConversation) left++;
    const send = (from: number, to: number) => {
      if (!net.online[from] || !net.online[to]) return;
      if (--left > 0) queue.after(rng.exponential(p.messageGapSeconds * 1000), () => send(to, from));
      return meter.measure('im', async () => {
        if (!(await net.home(from).im(from, to, text, `m${++imIds}`))) imsLost++;
      });
    };
    return send(u, partner);
  };

  // Warm-up: every user's home record (they have all logged in before), the users online now
  // logging in, the rest at their next login.
  for (let u = 0; u < users; u++) {
    const at = rng.next() * warmup;
    homeSince[u] = -rng.next() * 86_400_000;
    queue.at(at, () => meter.measure('home (warm-up)', () => net.home(u).republishHome(u, homeSince[u]!)));
    if (rng.next() < p.onlineShare) queue.at(rng.next() * warmup, () => login(u));
    else queue.at(rng.exponential(offline), () => login(u));
  }
  // Hard state: each gateway re-signs all its users' home records every 8 hours.
  for (const gateway of net.gateways) {
    const tick = () => {
      queue.after(8 * 3_600_000, tick);
      return meter.measure('hard state', async () => {
        for (let u = gateway.index; u < users; u += p.gateways) await gateway.republishHome(u, homeSince[u]!);
      });
    };
    queue.at(warmup + rng.next() * 8 * 3_600_000, tick);
  }
  let onlineSamples = 0;
  let onlineSum = 0;
  for (let t = windowStart; t < windowEnd; t += 10_000) {
    queue.at(t, () => {
      let n = 0;
      for (let u = 0; u < users; u++) n += net.online[u]!;
      onlineSum += n;
      onlineSamples++;
    });
  }
  queue.at(windowStart, () => {
    meter.recording = true;
  });
  for (let t = 0; t < windowEnd; t += 60_000) {
    queue.at(t, () =>
      progress(
        `${design.name}: ${Math.round(t / 60_000)} of ${Math.round(windowEnd / 60_000)} virtual minutes`,
      ),
    );
  }
  await queue.run(windowEnd);
  meter.recording = false;

  const scale = p.nominalUsers / users;
  const seconds = p.windowSeconds;
  const load = (tallies: [Float64Array, Float64Array]): Load => {
    const perSecond = Array.from(tallies[0], (v, i) => (v * scale + tallies[1][i]!) / seconds);
    return { mean: mean(perSecond), p99: percentile(perSecond, 99), max: Math.max(...perSecond) };
  };
  return {
    design,
    ops: meter.ops,
    onlineHours: (onlineSum / Math.max(1, onlineSamples)) * (seconds / 3600),
    scale,
    gatewayDht: load(meter.gatewayDht),
    gatewayG2g: load(meter.gatewayG2g),
    nodeDht: load(meter.nodeDht),
    links: net.links,
    imsLost,
    seconds: (performance.now() - started) / 1000,
  };
}
