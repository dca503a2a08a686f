import { z } from 'zod';
import { FutureRecordError, InvalidRecordError } from '../errors/errors.js';
import { type GatewayIdentity, verifySignature } from '../g2g/identity.js';

/**
 * Directory records: typed values in the DHT, each signed by the gateway that published it and
 * checked on every read (DESIGN.md: "directory records are signed by the gateway that published
 * them"). The signature covers a canonical JSON of every field but the signature itself.
 */
export const RecordSchema = z.object({
  /** The record format's version. */
  v: z.literal(1),
  /**
   * What the record says: where a user is (and their presence), where they logged in first, a held
   * buddy request, a translation offered, or a SIP registration held by a SIP exit (`@crosstalk/sip-exit`).
   */
  kind: z.enum(['location', 'home', 'buddy-request', 'capability', 'sip-registration']),
  /** What the record is about: an address key, or a capability edge. */
  subject: z.string().min(1).max(512),
  /** The publishing gateway's id (its ed25519 public key, hex). */
  publisher: z.string().regex(/^[0-9a-f]{64}$/),
  /** When it was signed, ms since the epoch (newest wins among location records). */
  issuedAt: z.number().int().nonnegative(),
  /** When it stops being believed, ms since the epoch. */
  expiresAt: z.number().int().nonnegative(),
  /** The kind's content (a contact and presence, a request, ...), checked by the reader. */
  body: z.unknown(),
  /** The publisher's ed25519 signature over the canonical JSON of every other field, hex. */
  sig: z.string().regex(/^[0-9a-f]{128}$/),
});

/** A signed directory record as it travels in the DHT. */
export interface DirectoryRecord extends z.infer<typeof RecordSchema> {}
export type RecordKind = DirectoryRecord['kind'];

/** JSON with object keys sorted at every level, so that signer and verifier hash the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function signedBytes(r: Omit<DirectoryRecord, 'sig'>): Uint8Array {
  return Buffer.from(
    canonicalJson({
      v: r.v,
      kind: r.kind,
      subject: r.subject,
      publisher: r.publisher,
      issuedAt: r.issuedAt,
      expiresAt: r.expiresAt,
      body: r.body,
    }),
  );
}

/** Makes a directory record of `fields`, signed with the gateway's key. */
export function signRecord(
  identity: GatewayIdentity,
  fields: { kind: RecordKind; subject: string; body: unknown; issuedAt: number; ttl: number },
): DirectoryRecord {
  const unsigned = {
    v: 1 as const,
    kind: fields.kind,
    subject: fields.subject,
    publisher: identity.id,
    issuedAt: fields.issuedAt,
    expiresAt: fields.issuedAt + fields.ttl,
    body: fields.body,
  };
  return { ...unsigned, sig: Buffer.from(identity.sign(signedBytes(unsigned))).toString('hex') };
}

/** The bytes a record is stored as in the DHT (its canonical JSON). */
export function encodeRecord(record: DirectoryRecord): Uint8Array {
  return Buffer.from(canonicalJson(record));
}

/**
 * Parses and verifies a record read from the DHT: well-formed, of the expected kind and subject,
 * unexpired, and signed by the publisher it names. Throws `InvalidRecordError` saying which.
 */
export function verifyRecord(
  bytes: Uint8Array,
  expect: {
    kind: RecordKind;
    subject: string;
    now: number;
    /** How far ahead of `now` a record may be dated (clock skew between gateways), ms. */
    maxSkew?: number;
    /** Longest lifetime (expiresAt - issuedAt) a record of this kind may claim, ms. */
    maxLifetime?: number;
  },
): DirectoryRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new InvalidRecordError('directory record is not JSON');
  }
  const result = RecordSchema.safeParse(parsed);
  if (!result.success)
    throw new InvalidRecordError(`malformed directory record: ${result.error.issues[0]?.message}`);
  const record = result.data;
  if (record.kind !== expect.kind || record.subject !== expect.subject) {
    throw new InvalidRecordError(
      `record for ${record.kind} ${record.subject} stored under ${expect.kind} ${expect.subject}`,
    );
  }
  if (record.expiresAt <= expect.now) throw new InvalidRecordError('directory record has expired');
  // A record dated ahead would win "newest" comparisons for as long as it lives: bounded clock.
  if (expect.maxSkew !== undefined && record.issuedAt > expect.now + expect.maxSkew)
    throw new FutureRecordError(
      `directory record is dated ${record.issuedAt - expect.now} ms in the future (skew limit ${expect.maxSkew} ms)`,
    );
  if (expect.maxLifetime !== undefined && record.expiresAt - record.issuedAt > expect.maxLifetime)
    throw new InvalidRecordError(
      `directory record claims a lifetime of ${record.expiresAt - record.issuedAt} ms (limit ${expect.maxLifetime} ms)`,
    );
  if (!verifySignature(record.publisher, signedBytes(record), Buffer.from(record.sig, 'hex'))) {
    throw new InvalidRecordError('directory record signature does not verify for its publisher');
  }
  return record;
}
