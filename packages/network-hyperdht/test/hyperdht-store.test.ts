import { randomUUID } from 'node:crypto';
import { type CrossTalkError, isCrossTalkError } from '@crosstalk/core';
import HyperDHT from 'hyperdht';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DhtBootstrapRequiredError,
  encodeRecord,
  type HyperDhtNode,
  HyperDhtStore,
  type HyperDhtStoreOptions,
  startDhtNode,
  startTestnet,
  type Testnet,
} from '../src/index.js';
import {
  anonymousPublisherKeyPair,
  certify,
  publisherKeyPair,
  randomKeyPair,
  secretKeyOf,
  slotKeyPair,
  slotTag,
  topicOf,
  valueHash,
  valueKeyPair,
} from '../src/keys/keys.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const v = (s: string) => enc.encode(s);
const strings = (values: Uint8Array[]) => values.map((x) => dec.decode(x)).sort();

let testnet: Testnet;
const open: { close(): Promise<void> }[] = [];
beforeAll(async () => {
  testnet = await startTestnet({ size: 10 });
});
afterAll(async () => {
  for (const c of open.reverse()) await c.close();
  await testnet?.destroy();
});

async function store(options: Partial<HyperDhtStoreOptions> = {}): Promise<HyperDhtStore> {
  const s = new HyperDhtStore({ bootstrap: testnet.bootstrap, namespace: randomUUID(), ...options });
  open.push(s);
  await s.ready();
  return s;
}

/** A raw hyperdht client on the testnet, for writing what no store would write. */
async function rawNode(): Promise<HyperDHT> {
  const node = new HyperDHT({
    bootstrap: testnet.bootstrap,
    host: '127.0.0.1',
    port: [0, 0],
    ephemeral: true,
  });
  open.push({ close: () => node.destroy() });
  await node.fullyBootstrapped();
  return node;
}

/** Writes a record under a fresh key pair and announces it on the key's topic, as a squatter can. */
async function plant(node: HyperDHT, topic: Uint8Array, record: Uint8Array): Promise<void> {
  const keyPair = randomKeyPair();
  await node.mutablePut(keyPair, record, { seq: 1 });
  await node.announce(topic, keyPair).finished();
}

describe('HyperDhtStore', () => {
  it('refuses to start without an explicit, private bootstrap list', async () => {
    expect(() => new HyperDhtStore({})).toThrow(DhtBootstrapRequiredError);
    expect(() => new HyperDhtStore({ bootstrap: [] })).toThrow(DhtBootstrapRequiredError);
    const [publicHost] = HyperDHT.BOOTSTRAP[0]!.split('@');
    expect(() => new HyperDhtStore({ bootstrap: [{ host: publicHost!, port: 49737 }] })).toThrow(
      /public bootstrap/,
    );
    // A node made without a bootstrap list would join the public network: refused too, unstarted.
    const fake = { bootstrapNodes: [{ host: publicHost!, port: 49737 }] } as never;
    expect(() => new HyperDhtStore({ dht: fake })).toThrow(DhtBootstrapRequiredError);
    await expect(startDhtNode({ bootstrap: [{ host: publicHost!, port: 49737 }] })).rejects.toThrow(
      DhtBootstrapRequiredError,
    );
  });

  it('refuses limits it cannot keep', () => {
    expect(
      () => new HyperDhtStore({ bootstrap: testnet.bootstrap, limits: { maxValueBytes: 2048 } }),
    ).toThrow(RangeError);
    expect(
      () => new HyperDhtStore({ bootstrap: testnet.bootstrap, limits: { maxValuesPerKey: 21 } }),
    ).toThrow(RangeError);
    // At construction, not at the first read (where it would look like the DHT failing).
    expect(() => new HyperDhtStore({ bootstrap: testnet.bootstrap, concurrency: 0 })).toThrow(
      'concurrency is a whole number of at least 1, not 0',
    );
    expect(() => new HyperDhtStore({ bootstrap: testnet.bootstrap, maxOperations: 0 })).toThrow(
      'maxOperations is a whole number of at least 1, not 0',
    );
  });

  it('a value as large as the limit goes through one record', async () => {
    const dht = await store();
    const big = new Uint8Array(dht.limits.maxValueBytes).fill(0x5a);
    await dht.put('big', big);
    const [got] = await dht.get('big');
    expect(got).toEqual(big);
    expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype);
  });

  it('reads of one key at once share one lookup; a read after a write looks again', async () => {
    const dht = await store();
    await dht.put('shared', v('one'), { secret: 's' });
    const node = dht.node as unknown as { lookup: (...args: unknown[]) => unknown };
    const lookup = node.lookup.bind(node);
    let lookups = 0;
    node.lookup = (...args: unknown[]) => {
      lookups++;
      return lookup(...args);
    };
    const reads = await Promise.all(Array.from({ length: 8 }, () => dht.get('shared')));
    expect(reads.map(strings)).toEqual(Array.from({ length: 8 }, () => ['one']));
    expect(lookups).toBe(1);
    // Each reader gets bytes of its own.
    reads[0]![0]![0] = 0;
    expect(strings(reads[1]!)).toEqual(['one']);
    // A read that starts while another is under way, after a write landed, does not join it.
    const before = dht.get('shared');
    await dht.put('shared', v('two'), { secret: 't' });
    expect(strings(await dht.get('shared'))).toEqual(['one', 'two']);
    await before;
  });

  it('runs at most maxOperations DHT operations at once; the rest wait their turn', async () => {
    expect(() => new HyperDhtStore({ bootstrap: testnet.bootstrap, maxOperations: 0 })).toThrow(RangeError);
    const dht = await store({ maxOperations: 2 });
    const node = dht.node as unknown as { mutablePut: (...args: unknown[]) => Promise<unknown> };
    const mutablePut = node.mutablePut.bind(node);
    let writing = 0;
    let most = 0;
    node.mutablePut = async (...args: unknown[]) => {
      most = Math.max(most, ++writing);
      try {
        return await mutablePut(...args);
      } finally {
        writing--;
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, i) => dht.put(`busy-${i}`, v(`value ${i}`))));
    expect(most).toBe(2);
    for (let i = 0; i < 6; i++) expect(strings(await dht.get(`busy-${i}`))).toEqual([`value ${i}`]);
  });

  it('puts an urgent write ahead of the operations waiting their turn', async () => {
    const dht = await store({ maxOperations: 1 });
    const finished: string[] = [];
    const note = (name: string) => (outcome: unknown) => {
      finished.push(name);
      return outcome;
    };
    // The first read runs; the next two wait; the urgent put's read and then its write go ahead of
    // whatever is still waiting when each is asked for.
    const reads = [0, 1, 2].map((i) => dht.get(`queued-${i}`).then(note(`get ${i}`)));
    const put = dht
      .put('location', v('here'), { secret: 'gw', slot: 'location', urgent: true })
      .then(note('urgent put'));
    await Promise.all([...reads, put]);
    expect(finished.indexOf('urgent put')).toBeLessThan(finished.indexOf('get 2'));
    // Not urgent: it waits behind every operation asked for before it.
    finished.length = 0;
    const later = [3, 4, 5].map((i) => dht.get(`queued-${i}`).then(note(`get ${i}`)));
    const plain = dht.put('location', v('there'), { secret: 'gw', slot: 'location' }).then(note('put'));
    await Promise.all([...later, plain]);
    expect(finished.at(-1)).toBe('put');
    expect(strings(await dht.get('location'))).toEqual(['there']);
  });

  it('stores on different nodes see each other; the secret, not the process, owns a value', async () => {
    const namespace = randomUUID();
    const a = await store({ namespace });
    const b = await store({ namespace });
    await a.put('loc', v('from-a'), { secret: 'alice' });
    await b.put('loc', v('from-b'), { secret: 'bob' });
    expect(strings(await a.get('loc'))).toEqual(['from-a', 'from-b']);
    await expect(b.remove('loc', v('from-a'), 'bob')).rejects.toMatchObject({
      code: 'ERR_DHT_SECRET_MISMATCH',
    });
    await expect(b.put('loc', v('from-a'), { secret: 'bob' })).rejects.toMatchObject({
      code: 'ERR_DHT_SECRET_MISMATCH',
    });
    // Whoever holds alice's secret derives the same key pairs, so a restarted gateway can remove it.
    expect(await b.remove('loc', v('from-a'), 'alice')).toBe(true);
    expect(strings(await a.get('loc'))).toEqual(['from-b']);
    // The fair share is counted across processes: bob's quota is what bob holds anywhere.
    const c = await store({ namespace, limits: { maxValuesPerPublisher: 1 } });
    await expect(c.put('loc', v('second'), { secret: 'bob' })).rejects.toMatchObject({
      code: 'ERR_DHT_PUBLISHER_QUOTA',
    });
  });

  it('ignores records planted under a topic: malformed, uncertified, claiming another publisher, replayed', async () => {
    const rejected: CrossTalkError[] = [];
    const dht = await store({ onRejected: (_key, error) => rejected.push(error) });
    await dht.put('user:alice', v('genuine'), { secret: 'alice-gw' });
    await dht.put('user:bob', v('bob-location'), { secret: 'bob-gw' });
    const topic = topicOf(dht.namespace, 'user:alice');
    const node = await rawNode();
    const now = Date.now();
    const fields = { tombstone: false, storedAt: now - 1000, expiresAt: now + 60_000 };

    // Not a record at all.
    await plant(node, topic, v('junk that is not a record'));
    // A well-formed record that says it is alice's gateway's, certified by another key.
    const alice = publisherKeyPair(secretKeyOf('alice-gw'), topic);
    const squatter = randomKeyPair();
    await plant(
      node,
      topic,
      encodeRecord({
        ...fields,
        publisher: alice.publicKey,
        certificate: certify(squatter, topic, squatter.publicKey),
        value: v('forged-as-alice'),
      }),
    );
    // bob's genuine record, announced under alice's topic too (only its key's holder can announce
    // it): its certificate names bob's topic.
    const bobTopic = topicOf(dht.namespace, 'user:bob');
    await node
      .announce(topic, valueKeyPair(secretKeyOf('bob-gw'), bobTopic, valueHash(v('bob-location'))))
      .finished();

    expect(strings(await dht.get('user:alice'))).toEqual(['genuine']);
    const codes = rejected.map((e) => e.code).sort();
    expect(codes).toEqual(['ERR_DHT_RECORD', 'ERR_DHT_RECORD_REFUSED', 'ERR_DHT_RECORD_REFUSED']);
    expect(rejected.every((e) => isCrossTalkError(e))).toBe(true);
  });

  it('refuses records dated in the future or claiming more than the longest TTL', async () => {
    const rejected: string[] = [];
    const dht = await store({
      limits: { maxTtl: 60_000 },
      onRejected: (_key, error) => rejected.push(error.message),
    });
    const topic = topicOf(dht.namespace, 'k');
    const node = await rawNode();
    const now = Date.now();
    const mallory = publisherKeyPair(secretKeyOf('mallory'), topic);
    const record = (storedAt: number, expiresAt: number, text: string) => {
      const keyPair = randomKeyPair();
      const encoded = encodeRecord({
        tombstone: false,
        storedAt,
        expiresAt,
        publisher: mallory.publicKey,
        certificate: certify(mallory, topic, keyPair.publicKey),
        value: v(text),
      });
      return { keyPair, encoded };
    };
    for (const { keyPair, encoded } of [
      record(now + 3_600_000, now + 3_700_000, 'from-the-future'),
      record(now, now + 3_600_000, 'for-an-hour'),
      record(now, now + 30_000, 'fine'),
    ]) {
      await node.mutablePut(keyPair, encoded, { seq: 1 });
      await node.announce(topic, keyPair).finished();
    }
    expect(strings(await dht.get('k'))).toEqual(['fine']);
    expect(rejected.map((m) => /dated in the future|claims too long a life/.exec(m)?.[0]).sort()).toEqual([
      'claims too long a life',
      'dated in the future',
    ]);
  });

  it("a publisher's values written around the store count only up to its share, oldest first", async () => {
    const dht = await store({ limits: { maxValuesPerKey: 6, maxValuesPerPublisher: 2 } });
    const topic = topicOf(dht.namespace, 'k');
    const node = await rawNode();
    const mallory = publisherKeyPair(secretKeyOf('mallory'), topic);
    const now = Date.now();
    for (let i = 0; i < 5; i++) {
      const keyPair = randomKeyPair();
      const encoded = encodeRecord({
        tombstone: false,
        storedAt: now - 10_000 + i,
        expiresAt: now + 60_000,
        publisher: mallory.publicKey,
        certificate: certify(mallory, topic, keyPair.publicKey),
        value: v(`junk${i}`),
      });
      await node.mutablePut(keyPair, encoded, { seq: 1 });
      await node.announce(topic, keyPair).finished();
    }
    expect(strings(await dht.get('k'))).toEqual(['junk0', 'junk1']);
    // Values put without a secret share the one anonymous publisher, which anyone can sign for.
    const anonymous = anonymousPublisherKeyPair(topic);
    const keyPair = randomKeyPair();
    await node.mutablePut(
      keyPair,
      encodeRecord({
        tombstone: false,
        storedAt: now,
        expiresAt: now + 60_000,
        publisher: anonymous.publicKey,
        certificate: certify(anonymous, topic, keyPair.publicKey),
        value: v('anon-raw'),
      }),
      { seq: 1 },
    );
    await node.announce(topic, keyPair).finished();
    await dht.put('k', v('anon-store'));
    await expect(dht.put('k', v('anon-third'))).rejects.toMatchObject({ code: 'ERR_DHT_PUBLISHER_QUOTA' });
    expect(strings(await dht.get('k'))).toEqual(['anon-raw', 'anon-store', 'junk0', 'junk1']);
  });

  it('a closed store refuses every operation; closing twice is fine; a given node is left running', async () => {
    const node = await rawNode();
    const dht = new HyperDhtStore({ dht: node });
    await dht.put('k', v('x'));
    await dht.close();
    await dht.close();
    for (const op of [dht.get('k'), dht.put('k', v('y')), dht.remove('k', v('x'), 's'), dht.ready()])
      await expect(op).rejects.toMatchObject({ code: 'ERR_DHT_CLOSED' });
    // The node is the caller's: still usable.
    const other = new HyperDhtStore({ dht: node, namespace: randomUUID() });
    await other.put('k', v('still-works'));
    expect(strings(await other.get('k'))).toEqual(['still-works']);
    await other.close();
  });

  it('a DHT node binds the port it is given, on loopback', async () => {
    const first = await startDhtNode();
    open.push(first);
    expect(first.address.host).toBe('127.0.0.1');
    const port = first.address.port;
    await expect(startDhtNode({ port, bootstrap: testnet.bootstrap })).rejects.toThrow();
  });
});

describe('HyperDhtStore slots (re-sign in place)', () => {
  it('a re-sign is one record with a higher sequence number: one announced key, no lookup, no tombstone', async () => {
    const namespace = randomUUID();
    const a = await store({ namespace });
    const calls: string[] = [];
    const node = a.node;
    const spied = ['lookup', 'mutablePut', 'announce', 'unannounce'] as const;
    const originals = spied.map((name) => [name, node[name]] as const);
    for (const [name, original] of originals)
      (node as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls.push(name);
        return (original as (...a: unknown[]) => unknown).apply(node, args);
      };
    try {
      await a.put('loc', v('where-1'), { secret: 'gw', slot: 'location' });
      calls.length = 0;
      await a.put('loc', v('where-2'), { secret: 'gw', slot: 'location' });
      expect(calls).toEqual(['mutablePut']);
    } finally {
      for (const [name, original] of originals) (node as unknown as Record<string, unknown>)[name] = original;
    }
    const reader = await store({ namespace });
    expect(strings(await reader.get('loc'))).toEqual(['where-2']);
    const topic = topicOf(namespace, 'loc');
    const announced = new Set<string>();
    for await (const reply of reader.node.lookup(topic))
      for (const peer of reply.peers) announced.add(Buffer.from(peer.publicKey).toString('hex'));
    expect(announced.size).toBe(1);
  });

  it('after a failed operation (the nodes may have restarted empty) the next re-sign announces again', async () => {
    const a = await store();
    const node = a.node;
    const calls: string[] = [];
    const { mutablePut, announce } = node;
    let fail = false;
    node.mutablePut = (...args: Parameters<typeof mutablePut>) => {
      calls.push('mutablePut');
      if (fail) return Promise.reject(new Error('all nodes gone'));
      return mutablePut.apply(node, args);
    };
    node.announce = (...args: Parameters<typeof announce>) => {
      calls.push('announce');
      return announce.apply(node, args);
    };
    try {
      await a.put('loc', v('one'), { secret: 'gw', slot: 'location' });
      fail = true;
      await expect(a.put('loc', v('two'), { secret: 'gw', slot: 'location' })).rejects.toMatchObject({
        code: 'ERR_DHT_UNAVAILABLE',
      });
      fail = false;
      calls.length = 0;
      await a.put('loc', v('three'), { secret: 'gw', slot: 'location' });
      expect(calls.sort()).toEqual(['announce', 'mutablePut']);
      calls.length = 0;
      await a.put('loc', v('four'), { secret: 'gw', slot: 'location' });
      expect(calls).toEqual(['mutablePut']);
    } finally {
      node.mutablePut = mutablePut;
      node.announce = announce;
    }
    expect(strings(await a.get('loc'))).toEqual(['four']);
  });

  it('a restarted publisher, with no table of its own records, refills and removes its slot', async () => {
    const namespace = randomUUID();
    const before = await store({ namespace });
    await before.put('loc', v('before-restart'), { secret: 'gw', slot: 'location' });
    await before.put('loc', v('other-publisher'), { secret: 'other', slot: 'location' });
    await before.close();
    const after = await store({ namespace });
    await after.put('loc', v('after-restart'), { secret: 'gw', slot: 'location' });
    expect(strings(await after.get('loc'))).toEqual(['after-restart', 'other-publisher']);
    const again = await store({ namespace });
    await expect(again.remove('loc', v('after-restart'), 'other')).rejects.toMatchObject({
      code: 'ERR_DHT_SECRET_MISMATCH',
    });
    expect(await again.remove('loc', v('after-restart'), 'gw')).toBe(true);
    expect(strings(await after.get('loc'))).toEqual(['other-publisher']);
  });

  it('hyperdht refuses a lower sequence number, and an equal one with other bytes: the slot keeps the newest', async () => {
    const namespace = randomUUID();
    const a = await store({ namespace });
    await a.put('loc', v('old'), { secret: 'gw', slot: 'location' });
    await a.put('loc', v('new'), { secret: 'gw', slot: 'location' });
    const topic = topicOf(namespace, 'loc');
    const keyPair = slotKeyPair(secretKeyOf('gw'), topic, slotTag('location'));
    const stored = await a.node.mutableGet(keyPair.publicKey, { latest: true });
    expect(stored).not.toBeNull();
    // Whoever replays an older signed version (or the holder of the secret signing one) gets nowhere.
    const publisher = publisherKeyPair(secretKeyOf('gw'), topic);
    const replay = encodeRecord({
      tombstone: false,
      storedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      publisher: publisher.publicKey,
      certificate: certify(publisher, topic, keyPair.publicKey),
      value: v('replayed'),
      slot: slotTag('location'),
    });
    for (const seq of [stored!.seq - 1, stored!.seq])
      await a.node.mutablePut(keyPair, replay, { seq }).catch(() => undefined);
    const reader = await store({ namespace, freshness: 'latest' });
    expect(strings(await reader.get('loc'))).toEqual(['new']);
    expect(strings(await a.get('loc'))).toEqual(['new']);
  });
});

describe('HyperDhtStore values and their publisher', () => {
  // Nodes that keep announcements and records 2 s instead of 20 min / 48 h, so the lifetime rules can
  // be shown: hyperdht drops an entry between 2/3 and 4/3 of that after its last refresh. The waits
  // below are three times that lifetime: generous bounds, not timings.
  const maxAge = 2000;
  let shortLived: Testnet;
  beforeAll(async () => {
    shortLived = await startTestnet({ size: 10, maxAge });
  });
  afterAll(async () => {
    await shortLived?.destroy();
  });
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('are kept alive by their publisher past the announce lifetime, and outlive its close by at most that', async () => {
    const namespace = randomUUID();
    const publisher = new HyperDhtStore({ bootstrap: shortLived.bootstrap, namespace, refreshInterval: 300 });
    const reader = new HyperDhtStore({ bootstrap: shortLived.bootstrap, namespace });
    try {
      await publisher.put('loc', v('here'), { secret: 's', ttl: 600_000 });
      await wait(3 * maxAge);
      expect(strings(await reader.get('loc'))).toEqual(['here']);
      await publisher.close();
      // Right after the publisher is gone the value is still there: nothing took it away.
      expect(strings(await reader.get('loc'))).toEqual(['here']);
      await wait(3 * maxAge);
      expect(await reader.get('loc')).toEqual([]);
    } finally {
      await publisher.close();
      await reader.close();
    }
  });

  it('a slot re-signed in place (no announcement of its own) stays announced by its publisher', async () => {
    const namespace = randomUUID();
    const publisher = new HyperDhtStore({ bootstrap: shortLived.bootstrap, namespace, refreshInterval: 300 });
    const reader = new HyperDhtStore({ bootstrap: shortLived.bootstrap, namespace });
    try {
      await publisher.put('loc', v('first'), { secret: 's', slot: 'location', ttl: 600_000 });
      await publisher.put('loc', v('re-signed'), { secret: 's', slot: 'location', ttl: 600_000 });
      await wait(3 * maxAge);
      expect(strings(await reader.get('loc'))).toEqual(['re-signed']);
    } finally {
      await publisher.close();
      await reader.close();
    }
  });
});

describe('HyperDhtStore on a failing network', () => {
  /** A node whose lookup names one announced key, then breaks; fetching that key's record fails. */
  function brokenNode(options: { answered: number; lookupBreaks: boolean }): HyperDhtNode {
    const peer = { publicKey: randomKeyPair().publicKey };
    return {
      bootstrapNodes: [{ host: '127.0.0.1', port: 1 }],
      fullyBootstrapped: async () => {},
      address: () => ({ host: '127.0.0.1', port: 1 }),
      lookup: () => ({
        successes: options.answered,
        errors: 0,
        closestNodes: [],
        finished: async () => {},
        async *[Symbol.asyncIterator]() {
          if (options.answered > 0) yield { from: { host: '127.0.0.1', port: 2 }, peers: [peer] };
          if (options.lookupBreaks) throw new Error('query destroyed');
        },
      }),
      announce: () => {
        throw new Error('not used');
      },
      unannounce: async () => {},
      mutablePut: async () => ({ closestNodes: [] }),
      mutableGet: async () => {
        throw new Error('REQUEST_TIMEOUT');
      },
      createServer: () => {
        throw new Error('not used by the store');
      },
      connect: () => {
        throw new Error('not used by the store');
      },
      destroy: async () => {},
    };
  }

  it('a lookup no node answered, or a record that could not be fetched, fails the read (retryable)', async () => {
    for (const node of [
      brokenNode({ answered: 0, lookupBreaks: false }),
      brokenNode({ answered: 1, lookupBreaks: false }),
      brokenNode({ answered: 1, lookupBreaks: true }),
    ]) {
      const dht = new HyperDhtStore({ dht: node });
      const error = await dht.get('k').catch((e: unknown) => e);
      expect(isCrossTalkError(error, 'ERR_DHT_UNAVAILABLE')).toBe(true);
      expect((error as CrossTalkError).isRetryable).toBe(true);
      await dht.close();
    }
  });
});

describe('HyperDhtStore reading what churn leaves behind', () => {
  // A scripted node: which nodes announce which keys, and which copy of a record each kind of read
  // gets, as when nodes joined near a topic or a record after a value was stored.
  const namespace = 'churn';
  const topic = topicOf(namespace, 'k');
  const publisher = publisherKeyPair(secretKeyOf('s'), topic);
  const near = { host: '127.0.0.1', port: 2 };
  const crowdedOut = { host: '127.0.0.1', port: 3 };

  function record(text: string, expiresAt: number) {
    const keyPair = randomKeyPair();
    const encoded = (at: number) =>
      encodeRecord({
        tombstone: false,
        storedAt: Date.now() - 60_000,
        expiresAt: at,
        publisher: publisher.publicKey,
        certificate: certify(publisher, topic, keyPair.publicKey),
        value: v(text),
      });
    return { keyPair, encoded, expiresAt, text };
  }

  function scriptedNode(
    announced: { from: typeof near; publicKey: Uint8Array }[],
    copies: Map<
      string,
      { first: { seq: number; value: Uint8Array }; latest: { seq: number; value: Uint8Array } }
    >,
  ): HyperDhtNode {
    return {
      bootstrapNodes: [near],
      fullyBootstrapped: async () => {},
      address: () => near,
      lookup: () => ({
        successes: 2,
        errors: 0,
        closestNodes: [near],
        finished: async () => {},
        async *[Symbol.asyncIterator]() {
          for (const a of announced) yield { from: a.from, peers: [{ publicKey: a.publicKey }] };
        },
      }),
      announce: () => {
        throw new Error('not used');
      },
      unannounce: async () => {},
      mutablePut: async () => ({ closestNodes: [] }),
      mutableGet: async (publicKey, options) => {
        const copy = copies.get(Buffer.from(publicKey).toString('hex'));
        if (!copy) return null;
        const got = options?.latest === false ? copy.first : copy.latest;
        return got.seq >= (options?.seq ?? 0) ? got : null;
      },
      createServer: () => {
        throw new Error('not used by the store');
      },
      connect: () => {
        throw new Error('not used by the store');
      },
      destroy: async () => {},
    };
  }

  it('a key only a crowded-out node still lists (it missed the unannouncement) is not read', async () => {
    const kept = record('kept', Date.now() + 60_000);
    const removed = record('removed', Date.now() + 60_000);
    const copies = new Map(
      [kept, removed].map((r) => {
        const copy = { seq: 1, value: r.encoded(r.expiresAt) };
        return [r.keyPair.publicKey.toString('hex'), { first: copy, latest: copy }] as const;
      }),
    );
    const node = scriptedNode(
      [
        { from: near, publicKey: kept.keyPair.publicKey },
        { from: crowdedOut, publicKey: kept.keyPair.publicKey },
        { from: crowdedOut, publicKey: removed.keyPair.publicKey },
      ],
      copies,
    );
    for (const freshness of ['latest', 'first'] as const) {
      const dht = new HyperDhtStore({ dht: node, namespace, freshness });
      expect(strings(await dht.get('k'))).toEqual(['kept']);
      await dht.close();
    }
  });

  it("a slot's version from a lagging node is never read over a newer one, nor beside it", async () => {
    const tag = slotTag('location');
    const keyPair = slotKeyPair(secretKeyOf('s'), topic, tag);
    const version = (text: string) =>
      encodeRecord({
        tombstone: false,
        storedAt: Date.now() - 60_000,
        expiresAt: Date.now() + 60_000,
        publisher: publisher.publicKey,
        certificate: certify(publisher, topic, keyPair.publicKey),
        value: v(text),
        slot: tag,
      });
    // Two nodes hold the slot's record: one has the re-signed version, one missed it (lagging).
    const fresh = { seq: 2, value: version('re-signed') };
    const lagging = { seq: 1, value: version('superseded') };
    let order = [fresh, lagging];
    const node = scriptedNode([{ from: near, publicKey: keyPair.publicKey }], new Map());
    node.mutableGet = async (_publicKey, options) => {
      const wanted = options?.seq ?? 0;
      if (options?.latest !== false) return [fresh, lagging].find((c) => c.seq >= wanted) ?? null;
      return order.find((c) => c.seq >= wanted) ?? null;
    };
    const latest = new HyperDhtStore({ dht: node, namespace, freshness: 'latest' });
    const first = new HyperDhtStore({ dht: node, namespace, freshness: 'first' });
    try {
      expect(strings(await latest.get('k'))).toEqual(['re-signed']);
      expect(strings(await first.get('k'))).toEqual(['re-signed']);
      // Now the lagging node answers first: having read version 2, the reader asks for no less.
      order = [lagging, fresh];
      expect(strings(await first.get('k'))).toEqual(['re-signed']);
      expect(strings(await latest.get('k'))).toEqual(['re-signed']);
    } finally {
      await latest.close();
      await first.close();
    }
  });

  it('a first copy past its TTL, or a tombstone still announced, is checked for a newer version', async () => {
    const refreshed = record('refreshed', Date.now() + 60_000);
    const reput = record('put-again', Date.now() + 60_000);
    const tombstone = encodeRecord({
      tombstone: true,
      storedAt: Date.now() - 30_000,
      expiresAt: Date.now() - 30_000,
      publisher: publisher.publicKey,
      certificate: certify(publisher, topic, reput.keyPair.publicKey),
      value: new Uint8Array(0),
    });
    const copies = new Map([
      [
        refreshed.keyPair.publicKey.toString('hex'),
        {
          first: { seq: 1, value: refreshed.encoded(Date.now() - 1000) },
          latest: { seq: 2, value: refreshed.encoded(Date.now() + 60_000) },
        },
      ],
      [
        reput.keyPair.publicKey.toString('hex'),
        {
          first: { seq: 1, value: tombstone },
          latest: { seq: 2, value: reput.encoded(Date.now() + 60_000) },
        },
      ],
    ]);
    const node = scriptedNode(
      [
        { from: near, publicKey: refreshed.keyPair.publicKey },
        { from: near, publicKey: reput.keyPair.publicKey },
      ],
      copies,
    );
    const dht = new HyperDhtStore({ dht: node, namespace, freshness: 'first' });
    expect(strings(await dht.get('k'))).toEqual(['put-again', 'refreshed']);
    await dht.close();
  });
});
