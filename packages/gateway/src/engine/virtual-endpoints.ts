import type { VirtualEndpoints } from '@crosstalk/core';

interface Entry {
  protocol: string;
  data: unknown;
  expires: number;
}

/**
 * Addresses the gateway answers itself (DESIGN.md "virtual endpoints"): an MSNP switchboard for a
 * conversation with a foreign buddy. They are written into the client stream (RNG) and reached
 * through SOCKS like any server, but never dialled: each is a distinct address in 127.77.0.0/16,
 * a loopback block nothing listens on, so a client that bypassed the proxy would reach nothing.
 */
export class VirtualEndpointTable implements VirtualEndpoints {
  readonly #entries = new Map<string, Entry>();
  readonly #ttl: number;
  readonly #now: () => number;
  #next = 0;

  constructor(options: { ttl?: number; now?: () => number } = {}) {
    this.#ttl = options.ttl ?? 5 * 60 * 1000;
    this.#now = options.now ?? Date.now;
  }

  allocate(protocol: string, data: unknown): { host: string; port: number } {
    this.#sweep();
    const n = this.#next++ % 65_024;
    const host = `127.77.${(n >> 8) + 1}.${n & 0xff}`;
    const port = 1864;
    this.#entries.set(`${host}:${port}`, { protocol, data, expires: this.#now() + this.#ttl });
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

  release(host: string, port: number): void {
    this.#entries.delete(`${host}:${port}`);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(key);
  }
}
