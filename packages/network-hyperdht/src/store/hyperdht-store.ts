import {
  bytesEqual,
  type CrossTalkError,
  DEFAULT_DHT_LIMITS,
  type Dht,
  DhtClosedError,
  DhtInvalidKeyError,
  DhtKeyFullError,
  DhtKeyTooLargeError,
  type DhtLimits,
  DhtPublisherQuotaError,
  type DhtPutOptions,
  DhtSecretMismatchError,
  DhtSlotSecretRequiredError,
  DhtValueTooLargeError,
  InvalidTtlError,
  isCrossTalkError,
  toHex,
} from '@crosstalk/core';
import HyperDHT from 'hyperdht';
import {
  DhtBootstrapRequiredError,
  DhtRecordError,
  DhtRecordRefusedError,
  DhtUnavailableError,
} from '../errors/errors.js';
import {
  anonymousPublisherKeyPair,
  certify,
  type KeyPair,
  publisherKeyPair,
  randomKeyPair,
  secretKeyOf,
  slotKeyPair,
  slotTag,
  topicOf,
  valueHash,
  valueKeyPair,
  verifyCertificate,
} from '../keys/keys.js';
import { assertPrivateBootstrap } from '../node/bootstrap.js';
import type { HyperDhtNode, NodeAddress } from '../node/node.js';
import { decodeRecord, encodeRecord, MAX_RECORD_VALUE_BYTES, type ValueRecord } from '../record/record.js';
import { type Candidate, fairShare } from './fair-share.js';
import { assertLimit, OperationQueue } from './operation-queue.js';

/**
 * Most announcements a lookup can be counted on to show for one topic: a hyperdht node answers a
 * lookup with at most 20 of the records it holds for the topic (`Persistent#onlookup`), picked at
 * random when it holds more, so past 20 values some would be missed.
 */
export const MAX_VISIBLE_VALUES = 20;

/** hyperdht keeps an announcement 13 to 27 minutes (record-cache ticks at 2/3 of its 20-minute maxAge). */
export const ANNOUNCE_LIFETIME = 20 * 60 * 1000;

/** The limits this store can keep: values fit one datagram, a key holds what one lookup shows. */
export const HYPERDHT_DHT_LIMITS: DhtLimits = Object.freeze({
  ...DEFAULT_DHT_LIMITS,
  maxValueBytes: MAX_RECORD_VALUE_BYTES,
  maxValuesPerKey: MAX_VISIBLE_VALUES,
  maxValuesPerPublisher: 8,
});

/** Options of `HyperDhtStore`. */
export interface HyperDhtStoreOptions {
  /** A running hyperdht node to use; the store does not destroy it on close. */
  dht?: HyperDhtNode;
  /** DHT nodes to join through, for a node the store creates (required then: never the public ones). */
  bootstrap?: readonly NodeAddress[];
  /** Address the created node binds; loopback unless told otherwise. */
  host?: string;
  /** UDP port of the created node; an ephemeral one by default. */
  port?: number;
  /** Keeps directories that share one DHT apart (each namespace is its own set of topics). */
  namespace?: string;
  /** Lower limits than `HYPERDHT_DHT_LIMITS` (higher ones than it can keep are refused). */
  limits?: Partial<DhtLimits>;
  /** Clock for TTLs, ms; inject one to test expiry without waiting. */
  now?: () => number;
  /** How often this store re-announces and re-puts its live values, ms (default 5 minutes). */
  refreshInterval?: number;
  /** How far ahead of this clock a record may be dated (publishers' clock skew), ms (default 60 s). */
  maxClockSkew?: number;
  /** Value records fetched at once during a lookup (default 16). */
  concurrency?: number;
  /**
   * DHT operations (a read, a write, a removal, a refresh of one record) under way at once; the rest
   * wait their turn, in order (default 16). dht-rpc matches every reply to its request by scanning
   * all requests in flight, so a node asked for thousands of queries at once (a gateway's logins
   * after a restart) spends its time in that scan and its queries time out; queued here, they don't.
   */
  maxOperations?: number;
  /**
   * How a value's record is read. `first` (default): the first valid copy, asking 3 nodes at a time
   * (a few requests per value); a copy that looks expired or removed is checked for a newer version.
   * `latest`: from every node near the record, keeping the highest version (hyperdht's `latest`),
   * 20 to 45 requests per value. They differ only when an unannouncement missed one of the topic's
   * closest nodes: `first` may then read the removed value until that announcement lapses (at most
   * 27 minutes). See the README's costs.
   */
  freshness?: 'latest' | 'first';
  /** Told about each record that was read and ignored (malformed, or not entitled to its topic). */
  onRejected?: (key: string, error: CrossTalkError) => void;
}

/** A verified record found under a topic. */
interface Found {
  id: string;
  publicKey: Uint8Array;
  seq: number;
  record: ValueRecord;
}

/** One of this store's own records, kept for refreshes and sequence numbers. */
interface Own {
  topic: Uint8Array;
  keyPair: KeyPair;
  publisher: KeyPair;
  encoded: Uint8Array;
  /** When the value (a slot: its first value) was first stored. */
  storedAt: number;
  /** The slot's tag, for a slotted record. */
  slot: Uint8Array | undefined;
  seq: number;
  expiresAt: number;
  anonymousId: string | undefined;
  tombstone: boolean;
  /**
   * The key may no longer be announced (a DHT operation of this store failed since it was): the
   * next write announces it again, a re-sign in place included.
   */
  reannounce?: boolean;
  /** Closest nodes to the topic and to the record's target, from the last lookup or write. */
  topicNodes?: NodeAddress[];
  valueNodes?: NodeAddress[];
}

const encoder = new TextEncoder();
const DEFAULT_REFRESH_INTERVAL = 5 * 60 * 1000;
const DEFAULT_MAX_CLOCK_SKEW = 60_000;
const DEFAULT_CONCURRENCY = 16;
const DEFAULT_MAX_OPERATIONS = 16;
/** Records whose last-read sequence number is remembered; past it the memory starts over. */
const MAX_SEEN = 16_384;
/** Distinct announced keys fetched per lookup, whatever a topic's announcers pile up. */
const MAX_CANDIDATES = 128;

/**
 * The `Dht` port on hyperdht. Each value is its own signed mutable record under a key pair derived
 * from (secret, key, value), announced on a topic derived from the key; `get` looks the topic up and
 * fetches every announced record. See the README for why this keeps OpenDHT's semantics.
 */
export class HyperDhtStore implements Dht {
  readonly limits: DhtLimits;
  /** Slots are honoured: a slot is one record, re-signed with a higher sequence number. */
  readonly slots = true;
  /** The namespace this store's topics are in (default `crosstalk`). */
  readonly namespace: string;
  readonly #dht: HyperDhtNode;
  readonly #ownsNode: boolean;
  readonly #now: () => number;
  readonly #maxClockSkew: number;
  readonly #concurrency: number;
  /** Runs one DHT operation when fewer than `maxOperations` are under way (urgent puts first). */
  readonly #operations: OperationQueue;
  /** Reads under way, by key: a `get` of a key already being read joins that read. */
  readonly #reads = new Map<string, Promise<{ found: Found[] }>>();
  readonly #fetchOptions: { latest: boolean; concurrency?: number };
  readonly #onRejected: ((key: string, error: CrossTalkError) => void) | undefined;
  readonly #own = new Map<string, Own>();
  /** The highest sequence number read of each record (bounded), so reads never go back a version. */
  readonly #seen = new Map<string, number>();
  /** Key pairs of values this store put without a secret, by topic and value hash. */
  readonly #anonymous = new Map<string, KeyPair>();
  readonly #ready: Promise<void>;
  readonly #timer: NodeJS.Timeout;
  #refreshing: Promise<void> | undefined;
  #lastStoredAt = 0;
  #closed = false;

  constructor(options: HyperDhtStoreOptions) {
    const limits = { ...HYPERDHT_DHT_LIMITS, ...options.limits };
    if (limits.maxValueBytes > MAX_RECORD_VALUE_BYTES)
      throw new RangeError(`maxValueBytes above ${MAX_RECORD_VALUE_BYTES} does not fit one hyperdht record`);
    if (limits.maxValuesPerKey > MAX_VISIBLE_VALUES)
      throw new RangeError(`maxValuesPerKey above ${MAX_VISIBLE_VALUES} is more than a lookup shows`);
    limits.defaultTtl = Math.min(limits.defaultTtl, limits.maxTtl);
    this.limits = Object.freeze(limits);
    this.namespace = options.namespace ?? 'crosstalk';
    this.#now = options.now ?? Date.now;
    this.#maxClockSkew = options.maxClockSkew ?? DEFAULT_MAX_CLOCK_SKEW;
    this.#concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    // Checked here, not at the first read: a bad limit there would look like the DHT failing.
    assertLimit(this.#concurrency, 'concurrency');
    this.#operations = new OperationQueue(options.maxOperations ?? DEFAULT_MAX_OPERATIONS, 'maxOperations');
    // Kademlia's alpha of 3 when the first copy will do: every request beyond counts against
    // dht-rpc's congestion window (80 requests per 750 ms slot), which paces lookups of busy keys.
    this.#fetchOptions =
      options.freshness === 'latest' ? { latest: true } : { latest: false, concurrency: 3 };
    this.#onRejected = options.onRejected;
    if (options.dht) {
      assertPrivateBootstrap(options.dht.bootstrapNodes, true);
      this.#dht = options.dht;
      this.#ownsNode = false;
    } else {
      if (!options.bootstrap || options.bootstrap.length === 0) throw new DhtBootstrapRequiredError();
      assertPrivateBootstrap(options.bootstrap, false);
      this.#dht = new HyperDHT({
        bootstrap: options.bootstrap.map(({ host, port }) => ({ host, port })),
        host: options.host ?? '127.0.0.1',
        // hyperdht turns port 0 into its well-known 49737 (`opts.port || 49737`); the range [0, 0]
        // makes dht-rpc bind an ephemeral port.
        port: options.port || [0, 0],
        ephemeral: true,
      });
      this.#ownsNode = true;
    }
    this.#ready = this.#dht.fullyBootstrapped();
    this.#ready.catch(() => {});
    this.#timer = setInterval(() => {
      this.#refreshing ??= this.#refreshOwn().finally(() => {
        this.#refreshing = undefined;
      });
    }, options.refreshInterval ?? DEFAULT_REFRESH_INTERVAL);
    this.#timer.unref();
  }

  /** The hyperdht node this store talks through. */
  get node(): HyperDhtNode {
    return this.#dht;
  }

  /** Resolves once the node has joined the DHT (every operation waits for it too). */
  async ready(): Promise<void> {
    this.#open();
    await this.#ready;
  }

  async put(key: string, value: Uint8Array, options: DhtPutOptions = {}): Promise<void> {
    this.#open();
    const topic = this.#topic(key);
    if (value.length > this.limits.maxValueBytes)
      throw new DhtValueTooLargeError(value.length, this.limits.maxValueBytes);
    const ttl = options.ttl ?? this.limits.defaultTtl;
    const urgent = options.urgent === true;
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > this.limits.maxTtl)
      throw new InvalidTtlError(ttl, this.limits.maxTtl);
    if (options.slot !== undefined && options.secret === undefined) throw new DhtSlotSecretRequiredError();
    const bytes = value.slice();
    const hashOfValue = valueHash(bytes);
    const tag = options.slot === undefined ? undefined : slotTag(options.slot);
    const anonymousId = options.secret === undefined ? `${toHex(topic)}:${toHex(hashOfValue)}` : undefined;
    let publisher: KeyPair;
    let keyPair: KeyPair;
    if (options.secret === undefined) {
      publisher = anonymousPublisherKeyPair(topic);
      keyPair = this.#anonymous.get(anonymousId!) ?? randomKeyPair();
    } else {
      const secretKey = secretKeyOf(options.secret);
      publisher = publisherKeyPair(secretKey, topic);
      keyPair = tag ? slotKeyPair(secretKey, topic, tag) : valueKeyPair(secretKey, topic, hashOfValue);
    }
    const id = toHex(keyPair.publicKey);
    const held = tag ? this.#own.get(id) : undefined;
    if (held && !held.tombstone && held.expiresAt > this.#now()) {
      await this.#resign(held, bytes, ttl, urgent);
      this.#wrote(key);
      return;
    }
    const { found, topicNodes } = await this.#network(() => this.#collect(key, topic), urgent);
    const now = this.#now();
    const visible = this.#visible(key, found, topic, now);
    const publisherId = toHex(publisher.publicKey);
    const same = visible.find((c) => bytesEqual(c.value, bytes));
    // This secret's slot as another process (or this one before a restart) left it: refilled in
    // place, counted once whether or not readers show it (only this secret signs under its key).
    const slotted = tag ? found.find((f) => f.id === id && this.#live(f.record, now)) : undefined;
    if (same) {
      // Byte-equal: a refresh, or a value put without a secret taken over by one (as in MemoryDht).
      if (!same.anonymous && same.publisher !== publisherId) throw new DhtSecretMismatchError();
    } else if (!slotted) {
      const mine = visible.filter((c) => c.publisher === publisherId).length;
      if (mine >= this.limits.maxValuesPerPublisher)
        throw new DhtPublisherQuotaError(this.limits.maxValuesPerPublisher);
      if (visible.length >= this.limits.maxValuesPerKey) {
        const counts = new Map<string, number>();
        for (const c of visible) counts.set(c.publisher, (counts.get(c.publisher) ?? 0) + 1);
        // Readers drop the largest holder's oldest value for ours (fairShare); none is larger than us.
        if (mine >= Math.max(...counts.values())) throw new DhtKeyFullError(this.limits.maxValuesPerKey);
      }
    }
    const expiresAt = now + ttl;
    // Strictly increasing here, so this store's values keep their put order even within one ms.
    const kept = slotted?.record ?? same;
    const storedAt = kept ? kept.storedAt : Math.max(now, this.#lastStoredAt + 1);
    if (!kept) this.#lastStoredAt = storedAt;
    const encoded = encodeRecord({
      tombstone: false,
      storedAt,
      expiresAt,
      publisher: publisher.publicKey,
      certificate: certify(publisher, topic, keyPair.publicKey),
      value: bytes,
      ...(tag ? { slot: tag } : {}),
    });
    const seq = this.#nextSeq(id, found);
    const own: Own = {
      topic,
      keyPair,
      publisher,
      encoded,
      storedAt,
      slot: tag,
      seq,
      expiresAt,
      anonymousId,
      tombstone: false,
      topicNodes,
      valueNodes: this.#own.get(id)?.valueNodes,
    };
    await this.#network(() => this.#write(own), urgent);
    this.#wrote(key);
    this.#own.set(id, own);
    if (anonymousId) this.#anonymous.set(anonymousId, keyPair);
  }

  async get(key: string): Promise<Uint8Array[]> {
    this.#open();
    const topic = this.#topic(key);
    // Many readers of one key at once (the buddies of a user who just logged in) share one lookup.
    let reading = this.#reads.get(key);
    if (!reading) {
      const read = this.#network(() => this.#collect(key, topic));
      const done = () => {
        if (this.#reads.get(key) === read) this.#reads.delete(key);
      };
      read.then(done, done);
      this.#reads.set(key, read);
      reading = read;
    }
    const { found } = await reading;
    return this.#visible(key, found, topic, this.#now()).map((c) => c.value.slice());
  }

  async remove(key: string, value: Uint8Array, secret: string): Promise<boolean> {
    this.#open();
    const topic = this.#topic(key);
    const secretKey = secretKeyOf(secret);
    const publisher = publisherKeyPair(secretKey, topic);
    const { found, topicNodes } = await this.#network(() => this.#collect(key, topic));
    const now = this.#now();
    const visible = this.#visible(key, found, topic, now);
    const shown = visible.find((c) => bytesEqual(c.value, value));
    // The record holding these bytes for this secret: under the value's own key pair, or a slot's,
    // derived from the tag the record carries (so a restarted publisher, which kept no table, can).
    const publisherId = toHex(publisher.publicKey);
    let mine: Found | undefined;
    let keyPair: KeyPair | undefined;
    for (const f of found) {
      if (!this.#live(f.record, now) || !bytesEqual(f.record.value, value)) continue;
      if (toHex(f.record.publisher) !== publisherId) continue;
      const pair = f.record.slot
        ? slotKeyPair(secretKey, topic, f.record.slot)
        : valueKeyPair(secretKey, topic, valueHash(value));
      if (toHex(pair.publicKey) !== f.id) continue;
      mine = f;
      keyPair = pair;
      break;
    }
    if (!mine || !keyPair) {
      if (shown) throw new DhtSecretMismatchError();
      return false;
    }
    const id = mine.id;
    const tombstone = encodeRecord({
      tombstone: true,
      storedAt: now,
      expiresAt: now,
      publisher: publisher.publicKey,
      certificate: certify(publisher, topic, keyPair.publicKey),
      value: new Uint8Array(0),
      ...(mine.record.slot ? { slot: mine.record.slot } : {}),
    });
    // Kept (not refreshed) until the value would have expired, for its sequence number.
    const own: Own = {
      topic,
      keyPair,
      publisher,
      storedAt: now,
      slot: mine.record.slot,
      encoded: tombstone,
      seq: this.#nextSeq(id, found),
      expiresAt: mine.record.expiresAt,
      anonymousId: undefined,
      tombstone: true,
      topicNodes,
    };
    this.#own.set(id, own);
    await this.#network(() => this.#write(own));
    this.#wrote(key);
    // A value displaced on read (over the key's limit) was not there for a reader: cleaned up all the same.
    return shown?.id === id;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#refreshing;
    this.#own.clear();
    this.#seen.clear();
    this.#anonymous.clear();
    if (this.#ownsNode) await this.#dht.destroy();
  }

  /** A write to `key` landed: a `get` from now on looks again rather than joining an earlier read. */
  #wrote(key: string): void {
    this.#reads.delete(key);
  }

  // ------------------------------------------------------------ reading

  /**
   * Every verified record announced on the topic: the lookup streams announcers in, and each one's
   * record is fetched as soon as it shows up (bounded by `concurrency`), so the two rounds overlap.
   * Only keys announced by one of the topic's closest nodes count: a node that others have since
   * crowded out of that set no longer receives unannouncements or refreshes, so what only it still
   * lists is stale (a removed value, say); announcers are known only at the end, hence the filter.
   */
  async #collect(key: string, topic: Uint8Array): Promise<{ found: Found[]; topicNodes: NodeAddress[] }> {
    await this.#ready;
    const found: Found[] = [];
    const seen = new Set<string>();
    const announcers = new Map<string, Set<string>>();
    const fetches: Promise<void>[] = [];
    let failed: unknown;
    const fetching = new OperationQueue(this.#concurrency);
    const query = this.#dht.lookup(topic);
    for await (const reply of query) {
      const from = `${reply.from.host}:${reply.from.port}`;
      for (const peer of reply.peers) {
        const id = toHex(peer.publicKey);
        if (!announcers.has(id)) announcers.set(id, new Set());
        announcers.get(id)!.add(from);
        if (seen.has(id) || seen.size >= MAX_CANDIDATES) continue;
        seen.add(id);
        fetches.push(
          fetching
            .run(async () => {
              const record = await this.#fetch(key, topic, id, peer.publicKey);
              if (record) found.push(record);
            })
            .catch((error: unknown) => {
              failed ??= error;
            }),
        );
      }
    }
    await Promise.all(fetches);
    // A record that could not be fetched (the node was closed, or the query broke) fails the read:
    // a value missing for that reason must not look removed.
    if (failed !== undefined) throw failed;
    if (query.successes === 0) throw new DhtUnavailableError('no DHT node answered the lookup');
    const closest = new Set(query.closestNodes.map((n) => `${n.host}:${n.port}`));
    const current =
      closest.size === 0
        ? found
        : found.filter((f) => [...announcers.get(f.id)!].some((from) => closest.has(from)));
    return { found: current, topicNodes: query.closestNodes };
  }

  async #fetch(
    key: string,
    topic: Uint8Array,
    id: string,
    publicKey: Uint8Array,
  ): Promise<Found | undefined> {
    // Never behind what this store has already read or written of the record (a slot re-signed in
    // place is one record): a node that missed the newer version (a lagging one) does not answer.
    const seen = Math.max(this.#seen.get(id) ?? 0, this.#own.get(id)?.seq ?? 0);
    let reply = await this.#dht.mutableGet(publicKey, { ...this.#fetchOptions, seq: seen });
    // No node holds that version any more (churn): what there is, rather than nothing.
    if (!reply && seen > 0) reply = await this.#dht.mutableGet(publicKey, this.#fetchOptions);
    // Announced but not (or no longer) stored: an announcement outliving its record, or junk.
    if (!reply) return undefined;
    if (!this.#fetchOptions.latest && this.#looksStale(reply.value)) {
      // A first copy past its TTL, or a tombstone that is still announced, may be one a refresh or
      // a re-put has since replaced: ask for a newer version, which only nodes holding one answer.
      reply = (await this.#dht.mutableGet(publicKey, { latest: true, seq: reply.seq + 1 })) ?? reply;
    }
    let record: ValueRecord;
    try {
      record = decodeRecord(reply.value);
    } catch (error) {
      this.#reject(key, error instanceof DhtRecordError ? error : new DhtRecordError(String(error)));
      return undefined;
    }
    if (!verifyCertificate(record.publisher, record.certificate, topic, publicKey)) {
      // Planted under this topic, or replayed from another one: its publisher did not certify it here.
      this.#reject(
        key,
        new DhtRecordRefusedError(`record ${id.slice(0, 12)}… is not certified for this key`),
      );
      return undefined;
    }
    if (this.#seen.size >= MAX_SEEN) this.#seen.clear();
    this.#seen.set(id, reply.seq);
    return { id, publicKey, seq: reply.seq, record };
  }

  #looksStale(bytes: Uint8Array): boolean {
    try {
      const record = decodeRecord(bytes);
      return record.tombstone || record.expiresAt <= this.#now();
    } catch {
      return false;
    }
  }

  #live(record: ValueRecord, now: number): boolean {
    return !record.tombstone && record.expiresAt > now;
  }

  /** The values a reader sees: live, dated and sized within this store's limits, fair share applied. */
  #visible(key: string, found: readonly Found[], topic: Uint8Array, now: number): Candidate[] {
    const anonymous = toHex(anonymousPublisherKeyPair(topic).publicKey);
    const candidates: Candidate[] = [];
    for (const { id, record } of found) {
      if (!this.#live(record, now)) continue;
      if (record.storedAt > now + this.#maxClockSkew || record.storedAt > record.expiresAt) {
        this.#reject(key, new DhtRecordRefusedError(`record ${id.slice(0, 12)}… is dated in the future`));
        continue;
      }
      if (record.expiresAt > now + this.limits.maxTtl + this.#maxClockSkew) {
        this.#reject(key, new DhtRecordRefusedError(`record ${id.slice(0, 12)}… claims too long a life`));
        continue;
      }
      if (record.value.length > this.limits.maxValueBytes) {
        this.#reject(key, new DhtRecordRefusedError(`record ${id.slice(0, 12)}… is over the value limit`));
        continue;
      }
      const publisher = toHex(record.publisher);
      candidates.push({
        id,
        publisher,
        anonymous: publisher === anonymous,
        storedAt: record.storedAt,
        value: record.value,
      });
    }
    return fairShare(candidates, this.limits);
  }

  // ------------------------------------------------------------ writing

  /**
   * A sequence number above any this value key pair has used: above this store's last and the one
   * read from the DHT, and the clock's ms, so a restarted publisher (or another process holding the
   * same secret) moves on without asking. A node refuses a lower one, and `mutablePut` does not say.
   */
  #nextSeq(id: string, found: readonly Found[]): number {
    const stored = found.find((f) => f.id === id)?.seq ?? 0;
    return Math.max(Date.now(), (this.#own.get(id)?.seq ?? 0) + 1, stored + 1);
  }

  /**
   * Re-signs a slot this store holds in place: the new value under the slot's key pair with a higher
   * sequence number, one mutable put from the nodes the last write reached. No lookup (the slot is
   * this secret's and counts once, whatever it holds) and no announcement (the key is announced
   * already; `#refreshOwn` keeps it so). Recorded before the write, so a re-sign that overtakes
   * this one numbers its own above it (a node keeps the highest: hyperdht refuses a lower one).
   */
  async #resign(held: Own, bytes: Uint8Array, ttl: number, urgent: boolean): Promise<void> {
    const expiresAt = this.#now() + ttl;
    const encoded = encodeRecord({
      tombstone: false,
      storedAt: held.storedAt,
      expiresAt,
      publisher: held.publisher.publicKey,
      certificate: certify(held.publisher, held.topic, held.keyPair.publicKey),
      value: bytes,
      ...(held.slot ? { slot: held.slot } : {}),
    });
    const id = toHex(held.keyPair.publicKey);
    const own: Own = { ...held, encoded, expiresAt, seq: this.#nextSeq(id, []) };
    this.#own.set(id, own);
    // After a failure (the DHT unreachable, its nodes maybe restarted empty), announced again too.
    if (own.reannounce) return await this.#network(() => this.#write(own), urgent);
    await this.#network(async () => {
      const put = await this.#dht.mutablePut(own.keyPair, own.encoded, {
        seq: own.seq,
        nodes: own.valueNodes,
      });
      own.valueNodes = put.closestNodes;
    }, urgent);
  }

  /**
   * Stores the record and announces (a tombstone: unannounces) its key on the topic. The topic's
   * closest nodes, known from the lookup that preceded, spare the announcement its own search; a
   * refresh starts the record's search from where the last write ended too.
   */
  async #write(own: Own): Promise<void> {
    const [put] = await Promise.all([
      this.#dht.mutablePut(own.keyPair, own.encoded, { seq: own.seq, nodes: own.valueNodes }),
      own.tombstone
        ? this.#dht.unannounce(own.topic, own.keyPair, { nodes: own.topicNodes })
        : this.#dht.announce(own.topic, own.keyPair, [], { nodes: own.topicNodes }).finished(),
    ]);
    own.valueNodes = put.closestNodes;
    own.reannounce = false;
  }

  /**
   * Re-announces and re-puts (same record, same sequence number) this store's live values, so they
   * outlast the announcement lifetime and node churn until their TTL; expired ones are forgotten.
   */
  async #refreshOwn(): Promise<void> {
    const now = this.#now();
    const tasks: Promise<unknown>[] = [];
    for (const [id, own] of this.#own) {
      if (own.expiresAt <= now) {
        this.#own.delete(id);
        if (own.anonymousId) this.#anonymous.delete(own.anonymousId);
        continue;
      }
      if (!own.tombstone)
        tasks.push(
          this.#operations
            .run(() => this.#write(own))
            .catch(() => {
              own.reannounce = true;
            }),
        );
    }
    await Promise.allSettled(tasks);
  }

  // ------------------------------------------------------------ plumbing

  /** Runs DHT work, turning hyperdht's plain errors into the port's (closed, or unavailable). */
  async #network<T>(work: () => Promise<T>, urgent = false): Promise<T> {
    try {
      const result = await this.#operations.run(work, urgent);
      this.#open();
      return result;
    } catch (error) {
      if (this.#closed) throw new DhtClosedError();
      // Whatever failed, this store's announcements may be gone with the nodes that held them.
      if (!isCrossTalkError(error) || error instanceof DhtUnavailableError)
        for (const own of this.#own.values()) own.reannounce = true;
      if (isCrossTalkError(error)) throw error;
      throw new DhtUnavailableError(`hyperdht: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }

  #topic(key: string): Uint8Array {
    if (typeof key !== 'string' || key.length === 0) throw new DhtInvalidKeyError();
    const size = encoder.encode(key).length;
    if (size > this.limits.maxKeyBytes) throw new DhtKeyTooLargeError(size, this.limits.maxKeyBytes);
    return topicOf(this.namespace, key);
  }

  #reject(key: string, error: CrossTalkError): void {
    this.#onRejected?.(key, error);
  }

  #open(): void {
    if (this.#closed) throw new DhtClosedError();
  }
}
