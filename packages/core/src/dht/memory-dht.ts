import { bytesEqual } from '../bytes/bytes.js';
import {
  DhtClosedError,
  DhtInvalidKeyError,
  DhtKeyFullError,
  DhtKeyTooLargeError,
  DhtPublisherQuotaError,
  DhtSecretMismatchError,
  DhtSlotSecretRequiredError,
  DhtValueTooLargeError,
  InvalidTtlError,
} from '../errors/errors.js';
import { DEFAULT_DHT_LIMITS, type Dht, type DhtLimits, type DhtPutOptions } from './dht.js';

interface Stored {
  value: Uint8Array;
  expires: number;
  secret: string | undefined;
  /** The slot it fills, when put into one (with `secret`: slots are per secret). */
  slot: string | undefined;
}

/** Options of `MemoryDht`. */
export interface MemoryDhtOptions {
  limits?: Partial<DhtLimits>;
  /** Clock in ms; inject one to test expiry without waiting. */
  now?: () => number;
}

const encoder = new TextEncoder();

/** The embedded default: one process, in memory. Several gateways in one process may share one. */
export class MemoryDht implements Dht {
  readonly limits: DhtLimits;
  /** Slots are honoured (see `DhtPutOptions.slot`). */
  readonly slots = true;
  readonly #now: () => number;
  readonly #store = new Map<string, Stored[]>();
  #closed = false;

  constructor(options: MemoryDhtOptions = {}) {
    const limits = { ...DEFAULT_DHT_LIMITS, ...options.limits };
    limits.defaultTtl = Math.min(limits.defaultTtl, limits.maxTtl);
    this.limits = Object.freeze(limits);
    this.#now = options.now ?? Date.now;
  }

  async put(key: string, value: Uint8Array, options: DhtPutOptions = {}): Promise<void> {
    this.#open();
    this.#checkKey(key);
    if (value.length > this.limits.maxValueBytes) {
      throw new DhtValueTooLargeError(value.length, this.limits.maxValueBytes);
    }
    const ttl = options.ttl ?? this.limits.defaultTtl;
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > this.limits.maxTtl) {
      throw new InvalidTtlError(ttl, this.limits.maxTtl);
    }
    if (options.slot !== undefined && options.secret === undefined) throw new DhtSlotSecretRequiredError();
    const live = this.#live(key);
    const expires = this.#now() + ttl;
    const existing = live.find((s) => bytesEqual(s.value, value));
    if (options.slot !== undefined) {
      const held = live.find((s) => s.secret === options.secret && s.slot === options.slot);
      if (held) {
        // Re-signed in place: the slot keeps its place (the put order) and counts once.
        if (existing && existing !== held) {
          if (existing.secret !== undefined && existing.secret !== options.secret)
            throw new DhtSecretMismatchError();
          // The bytes were already stored outside the slot (anonymously, or by this secret): they
          // move into it, as a re-put with a secret takes a value over.
          live.splice(live.indexOf(existing), 1);
        }
        held.value = new Uint8Array(value);
        held.expires = expires;
        return;
      }
    }
    if (existing) {
      if (existing.secret !== undefined && existing.secret !== options.secret)
        throw new DhtSecretMismatchError();
      existing.expires = expires;
      existing.secret = options.secret;
      if (options.slot !== undefined) existing.slot = options.slot;
      return;
    }
    const mine = live.filter((s) => s.secret === options.secret).length;
    if (mine >= this.limits.maxValuesPerPublisher)
      throw new DhtPublisherQuotaError(this.limits.maxValuesPerPublisher);
    if (live.length >= this.limits.maxValuesPerKey) this.#displace(live, mine);
    // A copy of its own: a Node Buffer's `slice` is a view that keeps the whole 8 KiB pool slab it was
    // cut from alive for as long as the value is held (issue 20: a slab per record per user).
    live.push({ value: new Uint8Array(value), expires, secret: options.secret, slot: options.slot });
    this.#store.set(key, live);
  }

  async get(key: string): Promise<Uint8Array[]> {
    this.#open();
    this.#checkKey(key);
    return this.#live(key).map((s) => s.value.slice());
  }

  async remove(key: string, value: Uint8Array, secret: string): Promise<boolean> {
    this.#open();
    this.#checkKey(key);
    const live = this.#live(key);
    const index = live.findIndex((s) => bytesEqual(s.value, value));
    if (index < 0) return false;
    if (live[index]!.secret === undefined || live[index]!.secret !== secret)
      throw new DhtSecretMismatchError();
    live.splice(index, 1);
    if (live.length === 0) this.#store.delete(key);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#store.clear();
  }

  /** Number of keys holding live values (for metrics and tests). */
  get size(): number {
    for (const key of [...this.#store.keys()]) this.#live(key);
    return this.#store.size;
  }

  #live(key: string): Stored[] {
    const stored = this.#store.get(key);
    if (!stored) return [];
    const now = this.#now();
    const live = stored.filter((s) => s.expires > now);
    if (live.length === 0) this.#store.delete(key);
    else if (live.length !== stored.length) this.#store.set(key, live);
    return live.length === stored.length ? stored : live;
  }

  /**
   * The key is full: the largest holder's oldest value makes room for a publisher that holds fewer
   * (values are kept in arrival order, so the first one found is the oldest).
   */
  #displace(live: Stored[], mine: number): void {
    const counts = new Map<string | undefined, number>();
    for (const s of live) counts.set(s.secret, (counts.get(s.secret) ?? 0) + 1);
    const most = Math.max(...counts.values());
    if (mine >= most) throw new DhtKeyFullError(this.limits.maxValuesPerKey);
    const index = live.findIndex((s) => counts.get(s.secret) === most);
    live.splice(index, 1);
  }

  #checkKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0) throw new DhtInvalidKeyError();
    const size = encoder.encode(key).length;
    if (size > this.limits.maxKeyBytes) throw new DhtKeyTooLargeError(size, this.limits.maxKeyBytes);
  }

  #open(): void {
    if (this.#closed) throw new DhtClosedError();
  }
}
