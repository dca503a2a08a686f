import { type Address, type Dht, parseAddress } from '@crosstalk/core';
import { Directory, type GatewayIdentity, generateIdentity } from '@crosstalk/gateway';
import { HyperDhtStore, startTestnet } from '@crosstalk/network-hyperdht';
import { KademliaNetwork } from './kademlia.js';
import { Meter } from './meter.js';
import { Rng } from './rng.js';
import { QueryPools, SimDhtWorld } from './sim-dht.js';
import { countWire, tallyBytes, tallyMessages } from './wire-count.js';

/**
 * The model checked against a real hyperdht testnet: the same directory operations, by the real
 * `Directory`, once over HyperDhtStore on `startTestnet({ size })` with every datagram counted
 * (`countWire`), once over the simulation's `SimDht` on a Kademlia model of as many nodes. Returns,
 * per operation, the mean datagrams and bytes of each and their ratio.
 */

export interface CalibrationRow {
  op: string;
  measuredMessages: number;
  modelMessages: number;
  measuredBytes: number;
  modelBytes: number;
}

/** The directories of a calibration: a writer, one on the same store with its slots hidden, a reader. */
interface Parties {
  writer: Directory;
  /** The writer's store as one before slots (the Directory puts a new record and removes the old). */
  legacy: Directory;
  reader: Directory;
}

/** The directory calls a login, a refresh, a presence change, a lookup and a logout make. */
type Step = {
  name: string;
  run: (d: Parties, user: Address, i: number) => Promise<unknown>;
};

const CONTACT = { transport: 'hyperdht' };

export const STEPS: readonly Step[] = [
  { name: 'publish location (first)', run: (d, u) => d.writer.publishLocation(u, CONTACT) },
  { name: 'publish location (replace)', run: (d, u) => d.writer.publishLocation(u, CONTACT) },
  {
    name: 'publish location (presence change)',
    run: (d, u) => d.writer.publishLocation(u, CONTACT, { kind: 'presence', from: u, status: 'away' }),
  },
  { name: 'look up location (online)', run: (d, u) => d.reader.lookupLocation(u) },
  {
    name: 'look up location (offline)',
    run: (d, _u, i) => d.reader.lookupLocation(parseAddress(`nobody${i}@yahoo`)),
  },
  { name: 'look up presence', run: (d, u) => d.reader.lookupPresence(u) },
  { name: 'withdraw location', run: (d, u) => d.writer.withdrawLocation(u) },
  {
    name: 'before slots: publish location (first)',
    run: (d, _u, i) => d.legacy.publishLocation(parseAddress(`legacy${i}@yahoo`), CONTACT),
  },
  {
    name: 'before slots: publish location (replace)',
    run: (d, _u, i) => d.legacy.publishLocation(parseAddress(`legacy${i}@yahoo`), CONTACT),
  },
  {
    name: 'before slots: withdraw location',
    run: (d, _u, i) => d.legacy.withdrawLocation(parseAddress(`legacy${i}@yahoo`)),
  },
];

/** `dht` as a store written before slots: the same calls, `slots` not offered (nor the option passed). */
export function withoutSlots(dht: Dht): Dht {
  return {
    limits: dht.limits,
    put: (key, value, { slot: _slot, ...options } = {}) => dht.put(key, value, options),
    get: (key) => dht.get(key),
    remove: (key, value, secret) => dht.remove(key, value, secret),
    close: async () => {},
  };
}

export async function calibrate(
  size: number,
  rounds: number,
  seed: number,
  log: (line: string) => void = () => {},
): Promise<CalibrationRow[]> {
  const measured = await measureTestnet(size, rounds, log);
  const model = await measureModel(size, rounds, seed);
  return STEPS.map((s) => ({
    op: s.name,
    measuredMessages: measured.get(s.name)!.messages / rounds,
    modelMessages: model.get(s.name)!.messages / rounds,
    measuredBytes: measured.get(s.name)!.bytes / rounds,
    modelBytes: model.get(s.name)!.bytes / rounds,
  }));
}

type Totals = Map<string, { messages: number; bytes: number }>;

async function runSteps(
  parties: Parties,
  rounds: number,
  around: (name: string, work: () => Promise<unknown>) => Promise<{ messages: number; bytes: number }>,
): Promise<Totals> {
  const totals: Totals = new Map(STEPS.map((s) => [s.name, { messages: 0, bytes: 0 }]));
  for (let i = 0; i < rounds; i++) {
    const user = parseAddress(`user${i}@yahoo`);
    for (const step of STEPS) {
      const cost = await around(step.name, () => step.run(parties, user, i));
      const t = totals.get(step.name)!;
      t.messages += cost.messages;
      t.bytes += cost.bytes;
    }
  }
  return totals;
}

async function measureTestnet(size: number, rounds: number, log: (line: string) => void): Promise<Totals> {
  const wire = countWire();
  const testnet = await startTestnet({ size });
  const stores: HyperDhtStore[] = [];
  try {
    log(`testnet of ${size} nodes up`);
    for (let i = 0; i < 2; i++)
      stores.push(new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace: `calibration-${size}` }));
    await Promise.all(stores.map((s) => s.ready()));
    // Let the joins' own traffic die down; then each step is counted alone, with what trails it.
    await sleep(2000);
    const [writer, reader] = stores.map((dht) => new Directory({ dht, identity: generateIdentity() }));
    const legacy = new Directory({ dht: withoutSlots(stores[0]!), identity: generateIdentity() });
    return await runSteps({ writer: writer!, legacy, reader: reader! }, rounds, async (_name, work) => {
      wire.take();
      await work();
      await sleep(50);
      const t = wire.take();
      // Pings are the nodes' own upkeep, whatever the directory does.
      const pings = t.commands.get('ping');
      const upkeep = pings ? pings.requests + pings.replies : 0;
      const upkeepBytes = pings ? pings.requestBytes + pings.replyBytes : 0;
      return { messages: tallyMessages(t) - upkeep, bytes: tallyBytes(t) - upkeepBytes };
    });
  } finally {
    for (const s of stores) await s.close();
    await testnet.destroy();
    wire.stop();
  }
}

async function measureModel(size: number, rounds: number, seed: number): Promise<Totals> {
  const rng = new Rng(seed);
  const network = new KademliaNetwork({ nodes: size, clients: 2, rng: rng.fork() });
  const meter = new Meter(2, size, rng.fork());
  meter.recording = true;
  // A clock that moves a second per step, as the testnet's moves by about a tenth: each replace
  // signs a record of its own, as on the testnet (one signed in the same millisecond would be the
  // old record's bytes, which the store only refreshes).
  let clock = Date.now();
  const now = () => clock;
  const world = new SimDhtWorld(new QueryPools(network, rng.fork()), meter, now);
  const dir = (dht: Dht, identity: GatewayIdentity) => new Directory({ dht, identity, now });
  const writer = dir(world.view(0), generateIdentity());
  const legacy = dir(world.view(0, false), generateIdentity());
  const reader = dir(world.view(1), generateIdentity());
  return runSteps({ writer, legacy, reader }, rounds, async (name, work) => {
    const before = meter.ops.get(name)?.total ?? { dhtMessages: 0, dhtBytes: 0 };
    const [m0, b0] = [before.dhtMessages, before.dhtBytes];
    clock += 1000;
    await meter.measure(name, work);
    const after = meter.ops.get(name)!.total;
    return { messages: after.dhtMessages - m0, bytes: after.dhtBytes - b0 };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
