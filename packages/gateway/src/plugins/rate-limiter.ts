/**
 * Token buckets by key (a sender's address): `capacity` requests at once, refilled at
 * `capacity` per `perMs`. The first request refused after the bucket ran dry is told so
 * (`refuse`); later ones are dropped quietly until it refills, so a flood of commands never becomes
 * a flood of answers. At most `maxKeys` buckets are kept, the least recently used dropped first.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number; told: boolean }>();

  constructor(
    /** Requests one key may make at once (the bucket's size), and make again per `perMs`. */
    readonly capacity: number,
    /** The time a bucket takes to refill from empty, ms. */
    readonly perMs: number,
    /** The clock, ms. */
    readonly now: () => number,
    /** Buckets kept at most (10000 by default); the least recently used goes first. */
    readonly maxKeys = 10_000,
  ) {}

  /**
   * Spends one of `key`'s tokens: `allow` when there was one, `refuse` for the first request
   * refused (tell the sender), `drop` for the ones after it until the bucket refills.
   */
  take(key: string): 'allow' | 'refuse' | 'drop' {
    const now = this.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.capacity, at: now, told: false };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) * this.capacity) / this.perMs);
    bucket.at = now;
    // Re-inserted at each use, so the Map's first key is the least recently used.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.told = false;
      return 'allow';
    }
    if (bucket.told) return 'drop';
    bucket.told = true;
    return 'refuse';
  }
}
