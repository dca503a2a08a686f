import { type Dht, type DhtLimits, type DhtPutOptions, MemoryDht } from '@crosstalk/core';
import { HYPERDHT_DHT_LIMITS, MAX_RECORD_VALUE_BYTES } from '@crosstalk/network-hyperdht';
import type { KademliaNetwork } from './kademlia.js';
import type { Meter } from './meter.js';
import type { Rng } from './rng.js';

/**
 * The `Dht` the simulated gateways' real `Directory` runs on: values are kept as `MemoryDht` keeps
 * them (same semantics, the virtual clock), and every call is charged the datagrams HyperDhtStore
 * sends for it on a hyperdht network (packages/network-hyperdht/src/store/hyperdht-store.ts):
 *
 * - `get`: a lookup of the key's topic, then a first-copy `mutableGet` of each value announced there;
 * - `put`: the same reading first (the store checks quotas against what is there), then
 *   `mutablePut` (a query toward the value's target, then a store at its k closest) beside an
 *   announcement on the topic (a query from the topic's closest nodes, then an announce to each);
 * - `remove`: the reading, then a tombstone `mutablePut` and an unannouncement, when the value is ours;
 * - every 5 minutes each store re-puts and re-announces its live values (`refreshOwn`).
 *
 * What each query asks comes from the Kademlia model (`QueryPools`); message sizes from `WIRE`.
 */

/** Datagram sizes on the wire, bytes (UDP payload), from dht-rpc's and hyperdht's encodings. */
export const WIRE = {
  /** A lookup or find request: header (10), command, 32-byte target. */
  lookupRequest: 43,
  /** Its reply: header, token (32), up to 20 closer nodes (6 bytes each). */
  lookupReply: 164,
  /** Added to a lookup reply per announcement listed (a public key and an empty relay list). */
  perPeer: 33,
  /** A mutable-get request (the target and a sequence number). */
  mutableGetRequest: 45,
  /** A mutable-get reply without the record (closer nodes only). */
  mutableGetReply: 164,
  /** A mutable-get reply with the record: plus sequence, signature (64) and the store's record. */
  mutableGetValueReply: 164 + 190,
  /** A mutable-put request without the record: header, token, target, key, sequence, signature. */
  mutablePutRequest: 182,
  mutablePutReply: 195,
  /** An announce or unannounce request (signed peer record), and its reply. */
  announceRequest: 174,
  announceReply: 42,
  /** A peer handshake relayed by a DHT node (Noise IK message and the node's framing), each way. */
  handshake: 300,
  /** The store's record header around a value (network-hyperdht record.ts). */
  recordHeader: 1140 - MAX_RECORD_VALUE_BYTES,
} as const;

type Kind = 'plain' | 'fromClosest' | 'firstCopy';

/**
 * Drawn query traces: each a list of the ranks asked (0..k-1 among the target's k closest, -1
 * elsewhere). Routing a query request by request for every directory call of a long run would cost
 * more than the rest of the model; traces drawn from a few thousand routed queries have the same
 * distribution, and mapping their ranks onto each target's own closest nodes keeps the load on
 * the nodes that hold a busy key where it falls.
 */
export class QueryPools {
  readonly plain: Int16Array[] = [];
  readonly fromClosest: Int16Array[] = [];
  readonly firstCopy: Int16Array[] = [];
  /** The k closest of random targets: where the replicas of a never-repeated target (a value's) land. */
  readonly #someClosest: Int32Array[] = [];
  readonly #rng: Rng;

  constructor(
    readonly network: KademliaNetwork,
    rng: Rng,
    size = 4096,
  ) {
    this.#rng = rng;
    const clients = network.clientIds.length;
    for (let i = 0; i < size; i++) {
      const asker = rng.int(clients);
      const target = rng.u32();
      const closest = network.closestTo(target);
      this.#someClosest.push(Int32Array.from(closest));
      const rank = new Map(closest.map((node, r) => [node, r]));
      const ranks = (asked: number[]) => Int16Array.from(asked, (node) => rank.get(node) ?? -1);
      this.plain.push(ranks(network.query(asker, target).asked));
      this.fromClosest.push(ranks(network.query(asker, target, { start: closest }).asked));
      this.firstCopy.push(
        ranks(network.query(asker, target, { concurrency: 3, stopAt: (node) => rank.has(node) }).asked),
      );
    }
  }

  /** A drawn trace of a query of `kind`. */
  trace(kind: Kind): Int16Array {
    const pool = this[kind];
    return pool[this.#rng.int(pool.length)]!;
  }

  /** The k closest of some random target. */
  someClosest(): Int32Array {
    return this.#someClosest[this.#rng.int(this.#someClosest.length)]!;
  }

  /** A node drawn uniformly (a request on the way, away from the target). */
  anyNode(): number {
    return this.#rng.int(this.network.nodes);
  }

  /** The nodes one query of `kind` asks, for a target with the given closest nodes (tests, calibration). */
  draw(kind: Kind, closest: ArrayLike<number>): number[] {
    return Array.from(this.trace(kind), (r) => (r >= 0 && r < closest.length ? closest[r]! : this.anyNode()));
  }
}

/** One value this gateway's store keeps alive (re-put every 5 minutes until it expires). */
interface Own {
  key: string;
  target: number;
  bytes: number;
  expiresAt: number;
}

/** Most targets whose closest nodes are remembered (keys repeat: a user's records are read again and again). */
const CLOSEST_CACHE = 400_000;

/** The DHT of the whole simulation: one value store, the routing model, the meter. */
export class SimDhtWorld {
  readonly storage: MemoryDht;
  readonly limits: DhtLimits = HYPERDHT_DHT_LIMITS;
  readonly #closest = new Map<number, Int32Array>();

  /**
   * `inPlace`: a store that re-signs a value in place (the proposal the `inPlace` design models): a
   * put under a key where this store already holds a live value rewrites that value's record from
   * the nodes that hold it, and the removal of the old value that follows costs nothing.
   */
  constructor(
    readonly pools: QueryPools,
    readonly meter: Meter,
    readonly now: () => number,
    readonly inPlace = false,
  ) {
    this.storage = new MemoryDht({ limits: HYPERDHT_DHT_LIMITS, now });
  }

  /** Gateway `gateway`'s store (its own hyperdht node, asking on its behalf). */
  view(gateway: number): SimDht {
    return new SimDht(this, gateway);
  }

  /** The k closest nodes of a key's topic (remembered). */
  closest(target: number): Int32Array {
    let closest = this.#closest.get(target);
    if (!closest) {
      if (this.#closest.size >= CLOSEST_CACHE) this.#closest.clear();
      closest = Int32Array.from(this.pools.network.closestTo(target));
      this.#closest.set(target, closest);
    }
    return closest;
  }

  /**
   * Charges one query of `kind` toward a target with `closest` nodes to `gateway`: a request and a
   * reply per node asked; a reply from one of the closest is `nearReply` bytes, others `farReply`.
   */
  query(
    gateway: number,
    kind: Kind,
    closest: Int32Array,
    request: number,
    nearReply: number,
    farReply: number,
  ): void {
    const trace = this.pools.trace(kind);
    for (let i = 0; i < trace.length; i++) {
      const r = trace[i]!;
      const near = r >= 0 && r < closest.length;
      this.meter.request(
        gateway,
        near ? closest[r]! : this.pools.anyNode(),
        request + (near ? nearReply : farReply),
      );
    }
  }

  /** Charges a commit (a store, an announce) to each of `closest`. */
  commit(gateway: number, closest: Int32Array, request: number, reply: number): void {
    for (let i = 0; i < closest.length; i++) this.meter.request(gateway, closest[i]!, request + reply);
  }
}

export class SimDht implements Dht {
  readonly limits: DhtLimits;
  /** Live values this store put, by key and value: what `refreshOwn` re-puts. */
  readonly #own = new Map<string, Own>();
  /** In-place design: values a put re-signed in place, whose removal is then free. */
  readonly #superseded = new Set<string>();
  /** In-place design: this store's live values by key. */
  readonly #ownByKey = new Map<string, Set<string>>();

  constructor(
    readonly world: SimDhtWorld,
    readonly gateway: number,
  ) {
    this.limits = world.limits;
  }

  /** Values this store keeps alive now. */
  get ownValues(): number {
    return this.#own.size;
  }

  async put(key: string, value: Uint8Array, options: DhtPutOptions = {}): Promise<void> {
    const target = hash32(key, value);
    const previous = this.world.inPlace
      ? [...(this.#ownByKey.get(key) ?? [])].filter((id) => this.#own.has(id))
      : [];
    if (previous.length > 0) {
      await this.world.storage.put(key, value, options);
      // Re-signed in place: the record rewritten from the nodes holding it, the announcement kept.
      const world = this.world;
      const record = WIRE.recordHeader + value.length;
      const holders = world.pools.someClosest();
      world.query(
        this.gateway,
        'fromClosest',
        holders,
        WIRE.mutableGetRequest,
        WIRE.mutableGetValueReply + record,
        WIRE.mutableGetReply,
      );
      world.commit(this.gateway, holders, WIRE.mutablePutRequest + record, WIRE.mutablePutReply);
      for (const id of previous) {
        this.#forget(id);
        this.#superseded.add(id);
      }
    } else {
      await this.#collect(key);
      await this.world.storage.put(key, value, options);
      this.#write(key, value.length, false);
    }
    const id = `${key}\u0000${target}`;
    this.#own.set(id, {
      key,
      target,
      bytes: value.length,
      expiresAt: this.world.now() + (options.ttl ?? this.limits.defaultTtl),
    });
    if (this.world.inPlace) {
      const ids = this.#ownByKey.get(key) ?? new Set<string>();
      ids.add(id);
      this.#ownByKey.set(key, ids);
    }
  }

  #forget(id: string): void {
    const own = this.#own.get(id);
    if (!own) return;
    this.#own.delete(id);
    const ids = this.#ownByKey.get(own.key);
    ids?.delete(id);
    if (ids?.size === 0) this.#ownByKey.delete(own.key);
  }

  async get(key: string): Promise<Uint8Array[]> {
    return this.#collect(key);
  }

  async remove(key: string, value: Uint8Array, secret: string): Promise<boolean> {
    const id = `${key}\u0000${hash32(key, value)}`;
    if (this.#superseded.delete(id)) return this.world.storage.remove(key, value, secret);
    await this.#collect(key);
    const removed = await this.world.storage.remove(key, value, secret);
    if (removed) {
      // A tombstone in place of the value, and the announcement withdrawn.
      this.#forget(id);
      this.#write(key, 0, true);
    }
    return removed;
  }

  async close(): Promise<void> {}

  /**
   * HyperDhtStore's `#refreshOwn`: each live value (of the keys `which` selects) re-put and
   * re-announced, both queries starting from the nodes the last write ended at.
   */
  refreshOwn(which: (key: string) => boolean = () => true): void {
    const now = this.world.now();
    const world = this.world;
    for (const [id, own] of this.#own) {
      if (own.expiresAt <= now) {
        this.#forget(id);
        continue;
      }
      if (!which(own.key)) continue;
      const valueClosest = world.pools.someClosest();
      const record = WIRE.recordHeader + own.bytes;
      world.query(
        this.gateway,
        'fromClosest',
        valueClosest,
        WIRE.mutableGetRequest,
        WIRE.mutableGetValueReply + record,
        WIRE.mutableGetReply,
      );
      world.commit(this.gateway, valueClosest, WIRE.mutablePutRequest + record, WIRE.mutablePutReply);
      const topicClosest = world.closest(hash32(own.key));
      world.query(
        this.gateway,
        'fromClosest',
        topicClosest,
        WIRE.lookupRequest,
        WIRE.lookupReply + WIRE.perPeer,
        WIRE.lookupReply,
      );
      world.commit(this.gateway, topicClosest, WIRE.announceRequest, WIRE.announceReply);
    }
  }

  /** The store's `#collect`: the topic's lookup, then a first-copy read of each announced value. */
  async #collect(key: string): Promise<Uint8Array[]> {
    const world = this.world;
    const live = await world.storage.get(key);
    const topicClosest = world.closest(hash32(key));
    world.query(
      this.gateway,
      'plain',
      topicClosest,
      WIRE.lookupRequest,
      WIRE.lookupReply + WIRE.perPeer * live.length,
      WIRE.lookupReply,
    );
    for (const value of live) {
      const record = WIRE.recordHeader + value.length;
      world.query(
        this.gateway,
        'firstCopy',
        world.pools.someClosest(),
        WIRE.mutableGetRequest,
        WIRE.mutableGetValueReply + record,
        WIRE.mutableGetReply,
      );
    }
    return live;
  }

  /** The store's `#write`: `mutablePut` beside an announce (or, for a tombstone, an unannounce). */
  #write(key: string, bytes: number, tombstone: boolean): void {
    const world = this.world;
    // A new value's key pair: a target no one asked for before, its replicas anywhere.
    const valueClosest = world.pools.someClosest();
    world.query(
      this.gateway,
      'plain',
      valueClosest,
      WIRE.mutableGetRequest,
      WIRE.mutableGetReply,
      WIRE.mutableGetReply,
    );
    world.commit(
      this.gateway,
      valueClosest,
      WIRE.mutablePutRequest + WIRE.recordHeader + bytes,
      WIRE.mutablePutReply,
    );
    const topicClosest = world.closest(hash32(key));
    const peers = tombstone ? 0 : 1;
    world.query(
      this.gateway,
      'fromClosest',
      topicClosest,
      WIRE.lookupRequest,
      WIRE.lookupReply + WIRE.perPeer * peers,
      WIRE.lookupReply,
    );
    world.commit(this.gateway, topicClosest, WIRE.announceRequest, WIRE.announceReply);
  }
}

/** FNV-1a over a key and optionally a value: a 32-bit DHT target. */
export function hash32(key: string, value?: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  if (value) {
    h ^= 0xff;
    h = Math.imul(h, 0x01000193);
    for (let i = 0; i < value.length; i++) {
      h ^= value[i]!;
      h = Math.imul(h, 0x01000193);
    }
  }
  // A final mix: FNV's low bits are weak, and targets are compared from the top bit down.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
