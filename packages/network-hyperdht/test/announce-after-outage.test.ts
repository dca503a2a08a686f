import HyperDHT, { type HyperDhtServer } from 'hyperdht';
import { afterEach, describe, expect, it } from 'vitest';
import { type DhtNode, HyperDhtTransport, type NodeAddress, startDhtNode } from '../src/index.js';

// A gateway must be dialable again soon after the whole DHT went down and came back. hyperdht's
// announcer announces again when the nodes holding its announcement stop answering; but if that
// announce finds no node at all, it has nothing left to watch and waits for its 5-minute refresh.

const host = '127.0.0.1';
const SIZE = 8;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function startNodes(ports?: readonly number[]): Promise<DhtNode[]> {
  const first = await startDhtNode({ host, ...(ports ? { port: ports[0] } : {}) });
  const nodes = [first];
  for (let i = 1; i < SIZE; i++)
    nodes.push(
      await startDhtNode({ host, bootstrap: [first.address], ...(ports ? { port: ports[i] } : {}) }),
    );
  return nodes;
}

/** A transport on a DHT node of its own, as each gateway has. */
async function transport(bootstrap: readonly NodeAddress[], announceLookupInterval = 0) {
  const node = new HyperDHT({ bootstrap: bootstrap.map((a) => ({ ...a })), host });
  await node.ready();
  const t = new HyperDhtTransport({
    node,
    keyPair: HyperDHT.keyPair(),
    connectTimeout: 5_000,
    announceCheckInterval: 1_000,
    announceLookupInterval,
  });
  cleanup.push(
    () => node.destroy(),
    () => t.close(),
  );
  return { node, t };
}

async function dials(from: HyperDhtTransport, to: HyperDhtTransport): Promise<boolean> {
  try {
    (await from.connect(to.localId, { transport: 'hyperdht' })).destroy();
    return true;
  } catch {
    return false;
  }
}

describe('a listener after the whole DHT went down', () => {
  it("announces itself again once the DHT is back, without waiting for hyperdht's refresh", async () => {
    let nodes = await startNodes();
    cleanup.push(() => Promise.all(nodes.map((n) => n.close())));
    const ports = nodes.map((n) => n.address.port);
    const bootstrap = nodes.slice(0, 3).map((n) => n.address);
    const listener = await transport(bootstrap);
    await listener.t.listen({ onConnection: (stream) => stream.destroy() });
    const dialer = await transport(bootstrap);
    expect(await dials(dialer.t, listener.t)).toBe(true);

    await Promise.all(nodes.map((n) => n.close()));
    // hyperdht's own reaction: its relays stopped answering, it announced again, and reached none.
    const server = [...(listener.node as unknown as { listening: Set<HyperDhtServer> }).listening][0]!;
    const own = listener.node.remoteAddress();
    await until(
      () => !server.relayAddresses.some((a) => !own || a.host !== own.host || a.port !== own.port),
      'the announcement held by no node',
      60_000,
    );
    nodes = await startNodes(ports);

    const fresh = await transport(bootstrap);
    await until(() => dials(fresh.t, listener.t), 'the listener dialable again', 20_000);
  }, 120_000);
});

// Nodes that restart on the same addresses (so with the same ids) between two of hyperdht's 3-second
// pings forget the announcement, yet answer the pings: neither hyperdht nor the check above notice.
// Simulated here by having every node forget it (a restart's effect, without the race against the
// pings); the listener's own lookup finds it gone and announces again.
describe('a listener whose announcement every node forgot', () => {
  const forget = (nodes: readonly DhtNode[], listener: HyperDhtTransport) => {
    const target = HyperDHT.hash(Buffer.from(listener.localId, 'hex'));
    for (const n of nodes)
      (n.node as unknown as { _router: { delete(k: Buffer): void } })._router.delete(target);
  };

  async function setUp(announceLookupInterval: number) {
    const nodes = await startNodes();
    cleanup.push(() => Promise.all(nodes.map((n) => n.close())));
    const bootstrap = nodes.slice(0, 3).map((n) => n.address);
    const listener = await transport(bootstrap, announceLookupInterval);
    await listener.t.listen({ onConnection: (stream) => stream.destroy() });
    const dialer = await transport(bootstrap);
    expect(await dials(dialer.t, listener.t)).toBe(true);
    forget(nodes, listener.t);
    return { listener, bootstrap };
  }

  it('looks itself up, finds nothing, and announces again', async () => {
    const { listener, bootstrap } = await setUp(1_000);
    const fresh = await transport(bootstrap);
    await until(() => dials(fresh.t, listener.t), 'the listener dialable again', 20_000);
  }, 60_000);

  it('without the lookup it stays undialable (hyperdht waits for its 5-minute refresh)', async () => {
    const { listener, bootstrap } = await setUp(0);
    await sleep(4_000);
    const fresh = await transport(bootstrap);
    expect(await dials(fresh.t, listener.t)).toBe(false);
  }, 60_000);
});
