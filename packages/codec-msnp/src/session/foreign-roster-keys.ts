import { type Address, addressKey, type SessionContext } from '@crosstalk/core';

/** The keys before the first look (shared, never written). */
const NONE: ReadonlySet<string> = new Set();

/** How long a snapshot of the foreign roster is trusted (name lookups happen on every message). */
const REFRESH_MS = 1000;

/**
 * Which addresses the gateway lists as the user's foreign buddies, for telling an XMPP user from a
 * passport. Looked up on every name a message carries, so the roster is read at most once a second.
 */
export class ForeignRosterKeys {
  readonly #ctx: SessionContext;
  #keys: ReadonlySet<string> = NONE;
  #owner: string | undefined;
  #at = Number.NEGATIVE_INFINITY;

  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
  }

  has(owner: Address, a: Address): boolean {
    const ownerKey = addressKey(owner);
    const now = this.#ctx.now();
    if (ownerKey !== this.#owner || now - this.#at >= REFRESH_MS) {
      this.#keys = new Set(this.#ctx.foreignRoster(owner).map((item) => addressKey(item.address)));
      this.#owner = ownerKey;
      this.#at = now;
    }
    return this.#keys.has(addressKey(a));
  }
}
