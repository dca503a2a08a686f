/**
 * The CPU one user's directory refresh costs the gateway's process (the location record, which
 * carries the presence, re-published as `Publisher.publishUser` does every third of the soft TTL:
 * on hyperdht re-signed in place, a put into its slot), on a hyperdht testnet
 * either in a process of its own (`--testnet apart`, the paper bench's layout: only the gateway's
 * own CPU is counted) or in this one (`--testnet here`: the nodes' CPU counted as the gateway's).
 * CPU per refresh does not depend much on the machine's load, unlike wall-clock latency.
 *
 * Then the wall time of a login's read of 45 buddies' presence (the internet-scale model's mean
 * list) from another node: one lookup after another (the engine before) against `--lanes` at a
 * time (4, the engine's `LOGIN_PRESENCE_READS`), alternating, `--rounds` each.
 *
 *   npx tsx --conditions=@crosstalk/source bench/directory-refresh.ts [--users 50] [--rounds 5] [--size 20] [--testnet apart|here] [--lanes 4]
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type Address, address } from '@crosstalk/core';
import { Directory, generateIdentity } from '@crosstalk/gateway';
import { HyperDhtStore, type NodeAddress, startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import HyperDHT, { type HyperDhtNodeAddress } from 'hyperdht';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '5' },
    size: { type: 'string', default: '20' },
    testnet: { type: 'string', default: 'apart' },
    lanes: { type: 'string', default: '4' },
    child: { type: 'boolean', default: false },
  },
});

if (values.child) {
  const testnet = await startTestnet({ size: Number(values.size) });
  process.send!({ bootstrap: testnet.bootstrap });
  process.on('message', async () => {
    await testnet.destroy();
    process.exit(0);
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const users = Number(values.users);
  const rounds = Number(values.rounds);
  let testnet: Testnet | undefined;
  let child: ReturnType<typeof fork> | undefined;
  let bootstrap: NodeAddress[];
  if (values.testnet === 'here') {
    testnet = await startTestnet({ size: Number(values.size) });
    bootstrap = testnet.bootstrap;
  } else {
    child = fork(process.argv[1]!, ['--child', '--size', values.size!], { stdio: 'inherit' });
    bootstrap = await new Promise((resolve) =>
      child!.once('message', (m: { bootstrap: NodeAddress[] }) => resolve(m.bootstrap)),
    );
  }
  const store = new HyperDhtStore({ bootstrap });
  await store.ready();
  const directory = new Directory({ dht: store, identity: generateIdentity() });
  const addresses = Array.from({ length: users }, (_, i) => address(`user${i}`, 'aim'));
  const contact = { transport: 'hyperdht' } as const;
  // The location record carries the presence: a refresh is one record re-signed.
  const refresh = (a: Address) =>
    directory.publishLocation(a, contact, { kind: 'presence', from: a, status: 'online' });
  const measure = async (name: string, work: (a: Address) => Promise<unknown>) => {
    const per: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const before = process.cpuUsage();
      const started = performance.now();
      await Promise.all(addresses.map(work));
      const cpu = process.cpuUsage(before);
      per.push((cpu.user + cpu.system) / 1000 / users);
      const wall = performance.now() - started;
      if (r === rounds - 1)
        console.log(
          `${name}: ${per.map((p) => p.toFixed(1)).join(', ')} ms CPU per user (last round ${wall.toFixed(0)} ms wall)`,
        );
      // Records are signed with ms dates: a new round signs new bytes.
      await new Promise((r) => setTimeout(r, 5));
    }
    per.sort((a, b) => a - b);
    return per[Math.floor(per.length / 2)]!;
  };
  console.log(`testnet ${values.testnet} (${values.size} nodes), ${users} users at once, ${rounds} rounds`);
  await measure('first publish', refresh);
  const median = await measure('refresh (location with presence)', refresh);
  if (!process.env.SKIP_LOOKUPS) {
    await measure('lookup location', (a) => directory.lookupLocation(a));
    await measure('lookup presence', (a) => directory.lookupPresence(a));
  }
  console.log(`median refresh: ${median.toFixed(1)} ms CPU per user`);
  await loginReads(bootstrap, addresses.slice(0, 45), rounds);
  // The floor of a re-sign in place: one signed mutable put for the user's one record, from the
  // nodes the last one reached, no read, no removal, no announcement (what the store would still
  // have to send).
  const pairs = addresses.map(() => [HyperDHT.keyPair()] as const);
  const nodes = new Map<unknown, HyperDhtNodeAddress[]>();
  const value = new Uint8Array(400);
  let seq = Date.now();
  const resign = async (_a: unknown, i: number) => {
    for (const pair of pairs[i]!) {
      const put = await store.node.mutablePut(pair, value, { seq: ++seq, nodes: nodes.get(pair) });
      nodes.set(pair, put.closestNodes);
    }
  };
  await measure('one raw mutable put (first)', (a) => resign(a, addresses.indexOf(a)));
  const floor = await measure('one raw mutable put (re-sign in place)', (a) =>
    resign(a, addresses.indexOf(a)),
  );
  console.log(`median re-sign in place floor: ${floor.toFixed(1)} ms CPU per user`);
  if (process.env.BREAKDOWN) {
    // One record's replacement, step by step, through the store the directory uses.
    const secret = 'bench';
    const key = (a: Address) => `bench:${a.user}`;
    const bytes = (n: number) => new TextEncoder().encode(`value ${n} `.repeat(30));
    let n = 0;
    const held = new Map<Address, Uint8Array>();
    await measure('store.get (the read before a write)', (a) => store.get(key(a)));
    await measure('store.put of a new value (read, mutable put, announce)', async (a) => {
      const value = bytes(++n);
      await store.put(key(a), value, { secret, ttl: 60_000 });
      held.set(a, value);
    });
    await measure('store.remove (read, tombstone put, unannounce)', (a) =>
      store.remove(key(a), held.get(a)!, secret),
    );
    // A slot: the first put reads the key (as any put); a re-sign after it is one mutable put.
    await measure('store.put into a slot (first: read, mutable put, announce)', (a) =>
      store.put(`slot:${a.user}`, bytes(++n), { secret, ttl: 60_000, slot: 'bench' }),
    );
    await measure('store.put into a slot again (re-sign in place: one mutable put)', (a) =>
      store.put(`slot:${a.user}`, bytes(++n), { secret, ttl: 60_000, slot: 'bench' }),
    );
  }
  await store.close();
  await testnet?.destroy();
  child?.send('stop');
}

/** A login's read of its buddies' presence from a node of its own: in a row, then `lanes` at a time. */
async function loginReads(bootstrap: NodeAddress[], buddies: Address[], rounds: number): Promise<void> {
  const store = new HyperDhtStore({ bootstrap });
  await store.ready();
  const reader = new Directory({ dht: store, identity: generateIdentity() });
  const read = (a: Address) => reader.lookupPresence(a);
  const lanes = Number(values.lanes);
  const ways = {
    'in a row': async () => {
      for (const a of buddies) await read(a);
    },
    [`${lanes} at a time`]: async () => {
      const next = buddies[Symbol.iterator]();
      const lane = async () => {
        for (let step = next.next(); !step.done; step = next.next()) await read(step.value);
      };
      await Promise.all(Array.from({ length: lanes }, lane));
    },
  };
  const walls: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++)
    for (const [name, way] of Object.entries(ways)) {
      const started = performance.now();
      await way();
      walls[name]!.push(performance.now() - started);
    }
  for (const [name, wall] of Object.entries(walls)) {
    const sorted = [...wall].sort((a, b) => a - b);
    console.log(
      `login read of ${buddies.length} buddies' presence, ${name}: ${wall.map((w) => w.toFixed(0)).join(', ')} ms wall (median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)})`,
    );
  }
  await store.close();
}
