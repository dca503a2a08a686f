import { toHex } from '@crosstalk/core';

/** A live value as read from the DHT, with what the fair share needs to know about it. */
export interface Candidate {
  /** The value key pair's public key, hex: unique per record. */
  id: string;
  /** The publisher public key, hex: the share the value counts against. */
  publisher: string;
  /** True when stored without a secret (the anonymous share). */
  anonymous: boolean;
  /** When it was first stored, ms since the epoch. */
  storedAt: number;
  /** The value's bytes. */
  value: Uint8Array;
}

/** The fair-share caps `fairShare` applies on read: values kept under one key, and per publisher. */
export interface ShareLimits {
  /** Values kept under one key. */
  maxValuesPerKey: number;
  /** Values one publisher keeps under one key. */
  maxValuesPerPublisher: number;
}

/**
 * The values a key holds, oldest first, as MemoryDht would hold them after the same puts: the
 * port's fair share applied on read, because on hyperdht no node can refuse or evict a record for
 * the key as a whole (each value is its own signed record).
 * - Byte-equal values are one value; a publisher with a secret owns bytes that the anonymous share
 *   also put (as a re-put with a secret takes a value over), else the first to store them does.
 * - Each publisher keeps its oldest `maxValuesPerPublisher` (later ones were over its quota).
 * - Over `maxValuesPerKey`, the oldest value of a largest holder goes first, as displacement does.
 */
export function fairShare(candidates: readonly Candidate[], limits: ShareLimits): Candidate[] {
  const ordered = [...candidates].sort(
    (a, b) => a.storedAt - b.storedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const byBytes = new Map<string, Candidate>();
  for (const c of ordered) {
    const bytes = toHex(c.value);
    const held = byBytes.get(bytes);
    // Taken over, the value keeps its place (its first storedAt), as a MemoryDht re-put does.
    if (!held) byBytes.set(bytes, c);
    else if (held.anonymous && !c.anonymous) byBytes.set(bytes, { ...c, storedAt: held.storedAt });
  }
  const distinct = [...byBytes.values()];
  const counts = new Map<string, number>();
  const kept = distinct.filter((c) => {
    const held = counts.get(c.publisher) ?? 0;
    if (held >= limits.maxValuesPerPublisher) return false;
    counts.set(c.publisher, held + 1);
    return true;
  });
  while (kept.length > limits.maxValuesPerKey) {
    const most = Math.max(...counts.values());
    const index = kept.findIndex((c) => counts.get(c.publisher) === most);
    const [gone] = kept.splice(index, 1);
    counts.set(gone!.publisher, most - 1);
  }
  return kept;
}
