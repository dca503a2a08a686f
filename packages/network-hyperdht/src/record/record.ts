import { DhtRecordError } from '../errors/errors.js';

/**
 * What the store keeps under one value key pair (hyperdht holds one mutable value, signed by the key
 * pair, per public key). Sans-IO, fixed layout, version first:
 *
 *   0      version (1)
 *   1      flags: bit 0 = tombstone (the value was removed), bit 1 = slotted; other bits must be 0
 *   2..10  storedAt, ms since the epoch, uint64 BE (first put: orders values oldest first)
 *   10..18 expiresAt, ms since the epoch, uint64 BE (the TTL, checked on every read)
 *   18..50 publisher public key (the share the value counts against)
 *   50..114 certificate: the publisher's ed25519 signature over (label, topic, value public key)
 *   114..116 value length, uint16 BE
 *   116..124 slot tag (slotted records only): names the slot, so that the secret's holder can derive
 *            the record's key pair from the record itself (a removal after a restart)
 *   ..     value bytes (empty in a tombstone)
 */
export interface ValueRecord {
  /** True when the value was removed (the record stays until it expires). */
  tombstone: boolean;
  /** When the value was first put, ms since the epoch. */
  storedAt: number;
  /** When it expires, ms since the epoch. */
  expiresAt: number;
  /** The publisher's public key, 32 bytes. */
  publisher: Uint8Array;
  /** The publisher's signature over (label, topic, value public key), 64 bytes. */
  certificate: Uint8Array;
  /** The value's bytes (empty in a tombstone). */
  value: Uint8Array;
  /** The slot's tag (`SLOT_TAG_BYTES`), when the record fills a slot (re-signed in place). */
  slot?: Uint8Array;
}

export const RECORD_VERSION = 1;
export const RECORD_OVERHEAD = 116;
/** Bytes of a slot's tag in a slotted record: a publisher's slots under one key, told apart. */
export const SLOT_TAG_BYTES = 8;
/**
 * Largest record: a hyperdht mutable value travels in one UDP datagram, with at most ~300 bytes of
 * dht-rpc and mutable framing around it (a mutable-get reply also lists up to 20 closer nodes), so
 * 1,140 bytes keep every datagram under a 1,500-byte Ethernet MTU with IPv4 or IPv6 headers: no IP
 * fragments, which paths often drop (hyperdht does not split a value across datagrams).
 */
export const MAX_RECORD_BYTES = 1140;
/** Largest value a record can hold, slotted or not: the record's cap minus its header and a slot tag. */
export const MAX_RECORD_VALUE_BYTES = MAX_RECORD_BYTES - RECORD_OVERHEAD - SLOT_TAG_BYTES;

const TOMBSTONE = 0x01;
const SLOTTED = 0x02;

/**
 * Writes a record in its fixed layout; throws `RangeError` for a key, certificate or value of the wrong size.
 */
export function encodeRecord(record: ValueRecord): Uint8Array {
  if (record.publisher.length !== 32) throw new RangeError('publisher key must be 32 bytes');
  if (record.certificate.length !== 64) throw new RangeError('certificate must be 64 bytes');
  if (record.value.length > MAX_RECORD_VALUE_BYTES)
    throw new RangeError(`value of ${record.value.length} bytes exceeds ${MAX_RECORD_VALUE_BYTES}`);
  if (record.slot && record.slot.length !== SLOT_TAG_BYTES)
    throw new RangeError(`slot tag must be ${SLOT_TAG_BYTES} bytes`);
  const header = RECORD_OVERHEAD + (record.slot ? SLOT_TAG_BYTES : 0);
  const out = new Uint8Array(header + record.value.length);
  const view = new DataView(out.buffer);
  out[0] = RECORD_VERSION;
  out[1] = (record.tombstone ? TOMBSTONE : 0) | (record.slot ? SLOTTED : 0);
  view.setBigUint64(2, BigInt(record.storedAt));
  view.setBigUint64(10, BigInt(record.expiresAt));
  out.set(record.publisher, 18);
  out.set(record.certificate, 50);
  view.setUint16(114, record.value.length);
  if (record.slot) out.set(record.slot, RECORD_OVERHEAD);
  out.set(record.value, header);
  return out;
}

/** Parses a record from the DHT; throws `DhtRecordError` (with the offset) on anything malformed. */
export function decodeRecord(bytes: Uint8Array): ValueRecord {
  if (bytes.length < RECORD_OVERHEAD)
    throw new DhtRecordError(`record of ${bytes.length} bytes is shorter than its header`);
  if (bytes.length > MAX_RECORD_BYTES)
    throw new DhtRecordError(`record of ${bytes.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== RECORD_VERSION)
    throw new DhtRecordError(`unknown record version ${bytes[0]}`, { offset: 0 });
  const flags = bytes[1]!;
  if ((flags & ~(TOMBSTONE | SLOTTED)) !== 0)
    throw new DhtRecordError(`unknown record flags ${flags}`, { offset: 1 });
  const storedAt = timestamp(view, 2);
  const expiresAt = timestamp(view, 10);
  const header = RECORD_OVERHEAD + ((flags & SLOTTED) !== 0 ? SLOT_TAG_BYTES : 0);
  const length = view.getUint16(114);
  if (length !== bytes.length - header)
    throw new DhtRecordError(`record says ${length} value bytes, carries ${bytes.length - header}`, {
      offset: 114,
    });
  const tombstone = (flags & TOMBSTONE) !== 0;
  if (tombstone && length !== 0) throw new DhtRecordError('a tombstone carries no value', { offset: 114 });
  return {
    tombstone,
    storedAt,
    expiresAt,
    // Copies, and plain Uint8Arrays even when hyperdht hands a Buffer over.
    publisher: new Uint8Array(bytes.subarray(18, 50)),
    certificate: new Uint8Array(bytes.subarray(50, 114)),
    value: new Uint8Array(bytes.subarray(header)),
    ...(header > RECORD_OVERHEAD ? { slot: new Uint8Array(bytes.subarray(RECORD_OVERHEAD, header)) } : {}),
  };
}

function timestamp(view: DataView, offset: number): number {
  const value = view.getBigUint64(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new DhtRecordError('record time out of range', { offset });
  return Number(value);
}
