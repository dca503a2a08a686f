import {
  type Dht,
  type DhtLimits,
  type DhtPutOptions,
  DhtSlotSecretRequiredError,
  MemoryDht,
} from '@crosstalk/core';
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
 * - `put` into a slot (`slots`, as HyperDhtStore has them): one record per slot; a slot this store
 *   holds is re-signed with one `mutablePut` from the nodes its last write reached (no lookup, no
 *   announcement, no tombstone: HyperDhtStore `#resign`); a first put is any put's;
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
  /** The store's record header around a value (network-hyperdht record.ts: 1,140 bytes less the slot tag and the value). */
  recordHeader: 1140 - 8 - MAX_RECORD_VALUE_BYTES,
  /** A slotted record's tag, after the header (record.ts `SLOT_TAG_BYTES`). */
  slotTag: 8,
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

/** One record this gateway's store keeps alive (re-put every 5 minutes until it expires). */
interface Own {
  key: string;
  /** The record's DHT target: its value key pair's, or its slot key pair's (the same for every version). */
  target: number;
  /** The record's size on the wire (its header and value; a tombstone's header only). */
  record: number;
  expiresAt: number;
  /** The `#slotOf` entry of the value a slot holds now (a slot's record only). */
  holding: string | undefined;
  /** Removed: kept, not refreshed, until the value would have expired (HyperDhtStore keeps it for its sequence number). */
  tombstone: boolean;
}

/** Most targets whose closest nodes are remembered (keys repeat: a user's records are read again and again). */
const CLOSEST_CACHE = 400_000;

/** The DHT of the whole simulation: one value store, the routing model, the meter. */
export class SimDhtWorld {
  readonly storage: MemoryDht;
  readonly limits: DhtLimits = HYPERDHT_DHT_LIMITS;
  readonly #closest = new Map<number, Int32Array>();

  /**
   * `slots`: whether the stores honour `DhtPutOptions.slot` as HyperDhtStore does (`slots` true, so
   * the real `Directory` re-signs its records in place); false models the store before slots, on
   * which the Directory puts each new record beside the old one and then removes the old one.
   */
  constructor(
    readonly pools: QueryPools,
    readonly meter: Meter,
    readonly now: () => number,
    readonly slots = true,
  ) {
    this.storage = new MemoryDht({ limits: HYPERDHT_DHT_LIMITS, now });
  }

  /** Gateway `gateway`'s store (its own hyperdht node, asking on its behalf); `slots` as the world's unless told. */
  view(gateway: number, slots = this.slots): SimDht {
    return new SimDht(this, gateway, slots);
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
  /** Live records this store put (and its slots' tombstones), by record: what `refreshOwn` re-puts. */
  readonly #own = new Map<string, Own>();
  /** A slot's record by the value it holds now (key, value, secret): how `remove` finds a slotted value. */
  readonly #slotOf = new Map<string, string>();

  /**
   * `slots`: `put` honours `DhtPutOptions.slot` as HyperDhtStore does (one record per slot, a
   * re-sign one mutable put); false: the option is ignored, as by a store written before slots.
   */
  constructor(
    readonly world: SimDhtWorld,
    readonly gateway: number,
    readonly slots: boolean = world.slots,
  ) {
    this.limits = world.limits;
  }

  /** Values this store keeps alive now. */
  get ownValues(): number {
    let n = 0;
    for (const own of this.#own.values()) if (!own.tombstone) n++;
    return n;
  }

  async put(key: string, value: Uint8Array, options: DhtPutOptions = {}): Promise<void> {
    const expiresAt = this.world.now() + (options.ttl ?? this.limits.defaultTtl);
    if (this.slots && options.slot !== undefined) return this.#putSlot(key, value, options, expiresAt);
    const { slot: _ignored, ...plain } = options;
    await this.#collect(key);
    await this.world.storage.put(key, value, plain);
    // A new value's key pair: a target no one asked for before, its replicas anywhere.
    const record = WIRE.recordHeader + value.length;
    this.#mutablePut(this.world.pools.someClosest(), 'plain', undefined, record);
    this.#announce(key, 1);
    const target = hash32(key, value);
    this.#own.set(`${key}\u0000${target}`, {
      key,
      target,
      record,
      expiresAt,
      holding: undefined,
      tombstone: false,
    });
  }

  /**
   * HyperDhtStore's `put` with a slot: one record under the slot's key pair. A slot this store holds
   * is re-signed (`#resign`: one `mutablePut` from the nodes the last write reached, no lookup, no
   * announcement, no tombstone); otherwise the key is read and the record written and announced as
   * any put's, from where a tombstone of the slot left off if there is one.
   */
  async #putSlot(key: string, value: Uint8Array, options: DhtPutOptions, expiresAt: number): Promise<void> {
    if (options.secret === undefined) throw new DhtSlotSecretRequiredError();
    const world = this.world;
    const id = `${key}\u0000slot\u0000${options.secret}\u0000${options.slot}`;
    const held = this.#own.get(id);
    const live = held !== undefined && !held.tombstone && held.expiresAt > world.now();
    if (!live) await this.#collect(key);
    await world.storage.put(key, value, options);
    const target = held?.target ?? hash32(id);
    const record = WIRE.recordHeader + WIRE.slotTag + value.length;
    // The nodes near the slot's target answer the put's query with the version they hold.
    this.#mutablePut(world.closest(target), held ? 'fromClosest' : 'plain', held?.record, record);
    if (!live) this.#announce(key, 1);
    if (held?.holding !== undefined) this.#slotOf.delete(held.holding);
    const holding = `${key}\u0000${hash32(key, value)}\u0000${options.secret}`;
    this.#slotOf.set(holding, id);
    this.#own.set(id, { key, target, record, expiresAt, holding, tombstone: false });
  }

  #forget(id: string): void {
    const own = this.#own.get(id);
    if (!own) return;
    this.#own.delete(id);
    if (own.holding !== undefined && this.#slotOf.get(own.holding) === id) this.#slotOf.delete(own.holding);
  }

  async get(key: string): Promise<Uint8Array[]> {
    return this.#collect(key);
  }

  async remove(key: string, value: Uint8Array, secret: string): Promise<boolean> {
    await this.#collect(key);
    const removed = await this.world.storage.remove(key, value, secret);
    if (!removed) return false;
    const target = hash32(key, value);
    const slotId = this.#slotOf.get(`${key}\u0000${target}\u0000${secret}`);
    const slot = slotId === undefined ? undefined : this.#own.get(slotId);
    // A tombstone in the record's place (a mutable put whose query the holders answer with the
    // record they hold: the remove's write starts no closer than a first one), the announcement withdrawn.
    if (slotId !== undefined && slot) {
      this.#mutablePut(
        this.world.closest(slot.target),
        'plain',
        slot.record,
        WIRE.recordHeader + WIRE.slotTag,
      );
      this.#slotOf.delete(slot.holding!);
      this.#own.set(slotId, {
        ...slot,
        record: WIRE.recordHeader + WIRE.slotTag,
        holding: undefined,
        tombstone: true,
      });
    } else {
      const id = `${key}\u0000${target}`;
      const own = this.#own.get(id);
      this.#mutablePut(this.world.pools.someClosest(), 'plain', own?.record, WIRE.recordHeader);
      this.#forget(id);
    }
    this.#announce(key, 0);
    return true;
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
      if (own.tombstone || !which(own.key)) continue;
      const closest = own.holding === undefined ? world.pools.someClosest() : world.closest(own.target);
      this.#mutablePut(closest, 'fromClosest', own.record, own.record);
      this.#announce(own.key, 1);
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

  /**
   * hyperdht's `mutablePut` of a `record`-byte record: a mutable-get query toward its target (nodes
   * holding a version answer with it, `held` bytes; hyperdht index.js `mutablePut`), then a store
   * at the k closest.
   */
  #mutablePut(closest: Int32Array, from: Kind, held: number | undefined, record: number): void {
    const world = this.world;
    const nearReply = held === undefined ? WIRE.mutableGetReply : WIRE.mutableGetValueReply + held;
    world.query(this.gateway, from, closest, WIRE.mutableGetRequest, nearReply, WIRE.mutableGetReply);
    world.commit(this.gateway, closest, WIRE.mutablePutRequest + record, WIRE.mutablePutReply);
  }

  /**
   * The store's announcement (`peers` 1) or unannouncement (0) on the key's topic: a query from the
   * topic's closest nodes (known from the lookup before, or the last write), then one to each.
   */
  #announce(key: string, peers: number): void {
    const world = this.world;
    const topicClosest = world.closest(hash32(key));
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
