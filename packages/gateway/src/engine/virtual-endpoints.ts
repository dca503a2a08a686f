import type { VirtualEndpoints } from '@crosstalk/core';
import { VIRTUAL_ADDRESSES, virtualBlock, virtualHost, virtualNumber } from '../cluster/steering.js';

interface Entry {
  protocol: string;
  data: unknown;
  expires: number;
}

/** The port every virtual endpoint listens on (the MSNP switchboard port). */
const VIRTUAL_PORT = 1864;

/**
 * Addresses the gateway answers itself (DESIGN.md "virtual endpoints"): an MSNP switchboard for a
 * conversation with a foreign buddy. They are written into the client stream (RNG) and reached
 * through SOCKS like any server, but never dialled: each is a distinct address in 127.77.0.0/16,
 * a loopback block nothing listens on, so a client that bypassed the proxy would reach nothing.
 * On a host of several workers each worker allocates from a block of its own (`worker`), so that
 * the worker a CONNECT reaches knows from the address which worker holds the endpoint.
 */
export class VirtualEndpointTable implements VirtualEndpoints {
  readonly #entries = new Map<string, Entry>();
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #block: { first: number; size: number };
  readonly #count: number;
  #next = 0;

  constructor(
    options: {
      ttl?: number;
      now?: () => number;
      /** This worker's index and the host's worker count (default: the only worker). */
      worker?: { index: number; count: number };
    } = {},
  ) {
    this.#ttl = options.ttl ?? 5 * 60 * 1000;
    this.#now = options.now ?? Date.now;
    this.#count = options.worker?.count ?? 1;
    this.#block = options.worker
      ? virtualBlock(options.worker.index, options.worker.count)
      : { first: 0, size: VIRTUAL_ADDRESSES };
  }

  allocate(protocol: string, data: unknown): { host: string; port: number } {
    this.#sweep();
    const host = virtualHost(this.#block.first + (this.#next++ % this.#block.size));
    const port = VIRTUAL_PORT;
    const key = `${host}:${port}`;
    // Deleted first so that the Map's insertion order stays the expiry order (one TTL for all).
    this.#entries.delete(key);
    this.#entries.set(key, { protocol, data, expires: this.#now() + this.#ttl });
    return { host, port };
  }

  /** Takes the endpoint a SOCKS CONNECT names, if it is virtual (one connection per allocation). */
  take(host: string, port: number): { protocol: string; data: unknown } | undefined {
    const key = `${host}:${port}`;
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    return entry.expires > this.#now() ? { protocol: entry.protocol, data: entry.data } : undefined;
  }

  /**
   * The worker whose block holds `host:port`, when it is a virtual endpoint address of this host's
   * workers and not this table's own (undefined otherwise, and always with one worker).
   */
  ownerElsewhere(host: string, port: number): number | undefined {
    if (this.#count <= 1 || port !== VIRTUAL_PORT) return undefined;
    const n = virtualNumber(host);
    if (n === undefined) return undefined;
    const size = this.#block.size;
    const owner = Math.floor(n / size);
    if (owner >= this.#count || (n >= this.#block.first && n < this.#block.first + size)) return undefined;
    return owner;
  }

  release(host: string, port: number): void {
    this.#entries.delete(`${host}:${port}`);
  }

  /** Drops expired entries from the oldest end, stopping at the first live one: O(expired), not O(size). */
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expires > now) return;
      this.#entries.delete(key);
    }
  }
}
