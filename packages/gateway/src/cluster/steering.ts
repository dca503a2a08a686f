import { type Address, addressKey } from '@crosstalk/core';

/**
 * Which worker of a `--workers N` host serves a user: a hash of the user's address key, so every
 * connection of one login (OSCAR auth then BOS, an MSN notification connection and its
 * switchboards) ends up on the same worker whichever worker accepted it, and the user's hard state
 * (foreign buddies) is always in that worker's state file. FNV-1a, 32 bits: cheap, stable across
 * processes and versions, and spread evenly enough over a few dozen workers.
 */
export function workerOf(user: Address, workers: number): number {
  if (workers <= 1) return 0;
  const key = addressKey(user);
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % workers;
}

/** Addresses in 127.77.0.0/16 a virtual endpoint table hands out (DESIGN.md "virtual endpoints"). */
export const VIRTUAL_ADDRESSES = 65_024;

/**
 * The share of the virtual endpoint addresses worker `index` of `count` allocates from: each worker
 * its own block, so the worker a client's CONNECT reaches can tell from the address alone which
 * worker holds the endpoint (its data lives in that worker's memory) and hand the connection there.
 */
export function virtualBlock(index: number, count: number): { first: number; size: number } {
  const size = Math.floor(VIRTUAL_ADDRESSES / Math.max(1, count));
  return { first: index * size, size };
}

/** The number of a virtual endpoint address (`127.77.x.y`), or undefined for any other host. */
export function virtualNumber(host: string): number | undefined {
  const m = /^127\.77\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const hi = Number(m[1]) - 1;
  const lo = Number(m[2]);
  if (hi < 0 || hi > 253 || lo > 255) return undefined;
  const n = (hi << 8) | lo;
  return n < VIRTUAL_ADDRESSES ? n : undefined;
}

/** The host of virtual endpoint number `n`. */
export function virtualHost(n: number): string {
  return `127.77.${(n >> 8) + 1}.${n & 0xff}`;
}
