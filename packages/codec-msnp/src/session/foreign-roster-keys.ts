import { type Address, addressKey, type SessionContext } from '@crosstalk/core';

/** How long a snapshot of the foreign roster is trusted (name lookups happen on every message). */
const REFRESH_MS = 1000;

interface Snapshot {
  keys: ReadonlySet<string>;
  at: number;
}

/** The snapshots of one roster source, by owner, and when stale ones were last swept. */
interface SnapshotCache {
  byOwner: Map<string, Snapshot>;
  swept: number;
}

/**
 * One cache per roster source (the gateway gives every connection the same `foreignRoster`), so
 * that the 40 connections of an MSN user share one snapshot, not one each (issue 20: memory).
 */
const caches = new WeakMap<SessionContext['foreignRoster'], SnapshotCache>();

/**
 * Whether the gateway lists `a` as one of `owner`'s foreign buddies, for telling an XMPP user from a
 * passport. Looked up on every name a message carries, so the roster is read at most once a second
 * per user.
 */
export function isForeignRosterMember(ctx: SessionContext, owner: Address, a: Address): boolean {
  const source = ctx.foreignRoster;
  let cache = caches.get(source);
  if (!cache) {
    cache = { byOwner: new Map(), swept: Number.NEGATIVE_INFINITY };
    caches.set(source, cache);
  }
  const now = ctx.now();
  const ownerKey = addressKey(owner);
  let snapshot = cache.byOwner.get(ownerKey);
  if (!snapshot || now - snapshot.at >= REFRESH_MS || now < snapshot.at) {
    snapshot = { keys: new Set(ctx.foreignRoster(owner).map((item) => addressKey(item.address))), at: now };
    cache.byOwner.set(ownerKey, snapshot);
  }
  // Users who left must not stay cached: stale snapshots go, at most once a refresh period.
  if (now - cache.swept >= REFRESH_MS) {
    cache.swept = now;
    for (const [key, s] of cache.byOwner) if (now - s.at >= REFRESH_MS) cache.byOwner.delete(key);
  }
  return snapshot.keys.has(addressKey(a));
}
