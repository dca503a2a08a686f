import type { Address } from '../address/address.js';
import type { CookieTable } from './contract.js';

interface Entry {
  owner: Address;
  data: unknown;
  expires: number;
}

/** The gateway-wide cookie table, in memory. Cookies expire (default 5 minutes) so the table stays bounded. */
export class MemoryCookieTable implements CookieTable {
  readonly #entries = new Map<string, Entry>();
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #max: number;

  constructor(options: { ttl?: number; now?: () => number; maxEntries?: number } = {}) {
    this.#ttl = options.ttl ?? 5 * 60 * 1000;
    this.#now = options.now ?? Date.now;
    this.#max = options.maxEntries ?? 100_000;
  }

  record(protocol: string, cookie: string, owner: Address, data?: unknown): void {
    this.#sweep();
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    const key = `${protocol}\u0000${cookie}`;
    // Deleted first so that the Map's insertion order stays the expiry order (one TTL for all).
    this.#entries.delete(key);
    this.#entries.set(key, { owner, data, expires: this.#now() + this.#ttl });
  }

  lookup(protocol: string, cookie: string): { owner: Address; data: unknown } | undefined {
    const key = `${protocol}\u0000${cookie}`;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return { owner: entry.owner, data: entry.data };
  }

  forget(protocol: string, cookie: string): void {
    this.#entries.delete(`${protocol}\u0000${cookie}`);
  }

  get size(): number {
    this.#sweep();
    return this.#entries.size;
  }

  /** Drops expired entries from the oldest end and stops at the first live one: O(expired), not O(size). */
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expires > now) return;
      this.#entries.delete(key);
    }
  }
}
