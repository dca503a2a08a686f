import { z } from 'zod';
import { ContactSchema } from '../directory/contact.js';
import { canonicalJson } from '../directory/records.js';
import { InvalidEnvelopeError } from '../errors/errors.js';
import { type GatewayIdentity, verifySignature } from '../g2g/identity.js';
import { FORMAT_PATTERN } from './formats.js';

/**
 * The G2G envelope of an event routed hop by hop along a capability chain (docs/ARCHITECTURE.md
 * "Capability routing"). The origin (the sender's gateway) signs what may not change on the way:
 * the event's id, sender, recipient and kind, the chain and the hop limit. Each hop rewrites only
 * the unsigned part: which step comes next, the hops left, the payload's form and what was lost.
 *
 * On the wire (the body of a G2G ROUTED frame): `u16 header length | header JSON | payload`, the
 * payload being the event in the canonical form the header names.
 */

/** Most steps a chain may have. */
export const MAX_CHAIN_STEPS = 16;
/** Largest header, bytes (checked before it is parsed). */
export const MAX_ENVELOPE_HEADER = 16 * 1024;

const GatewayId = z.string().regex(/^[0-9a-f]{64}$/);

/** One step of a routed event's chain: a translation and the gateway that performs it. */
export const EnvelopeStepSchema = z
  .object({
    from: z.string().regex(FORMAT_PATTERN),
    to: z.string().regex(FORMAT_PATTERN),
    gateway: GatewayId,
    contact: ContactSchema,
  })
  .strict();

/** A step as the envelope carries it. */
export type EnvelopeStep = z.infer<typeof EnvelopeStepSchema>;

/** The envelope's header: the origin's signed part, then what each hop rewrites. */
export const EnvelopeHeaderSchema = z
  .object({
    /** Format version. */
    v: z.literal(1),
    /** The origin's id for this event: a hop takes each (origin, id) once. */
    id: z.string().min(1).max(64),
    /** The sender's gateway, which composed the chain and signed. */
    origin: GatewayId,
    /** When the origin signed, ms since the epoch. */
    issuedAt: z.number().int().nonnegative(),
    /** The event's sender, recipient and kind (the payload must say the same). */
    from: z.string().min(1).max(512),
    to: z.string().min(1).max(512),
    kind: z.string().min(1).max(32),
    /** The chain, first step by the origin, last by the recipient's gateway. */
    chain: z.array(EnvelopeStepSchema).min(1).max(MAX_CHAIN_STEPS),
    /** Most G2G transfers the event may take. */
    hopLimit: z.number().int().nonnegative().max(MAX_CHAIN_STEPS),
    /** The origin's ed25519 signature over the fields above, hex. */
    sig: z.string().regex(/^[0-9a-f]{128}$/),
    /** Unsigned: the index of the step the receiving hop performs first. */
    next: z.number().int().nonnegative().max(MAX_CHAIN_STEPS),
    /** Unsigned: transfers left, counting the one that brought the envelope here. */
    hops: z.number().int().nonnegative().max(MAX_CHAIN_STEPS),
    /** Unsigned: the canonical form of the payload (a form's name). */
    form: z.string().min(1).max(64),
    /** Unsigned: features the chain has dropped so far. */
    lost: z.array(z.string().min(1).max(64)).max(64),
  })
  .strict();

/** An envelope's header. */
export type EnvelopeHeader = z.infer<typeof EnvelopeHeaderSchema>;

/** A routed event: its header and its payload in the header's form. */
export interface Envelope {
  header: EnvelopeHeader;
  payload: Uint8Array;
}

type Signed = Pick<
  EnvelopeHeader,
  'v' | 'id' | 'origin' | 'issuedAt' | 'from' | 'to' | 'kind' | 'chain' | 'hopLimit'
>;

function signedBytes(h: Signed): Uint8Array {
  return Buffer.from(
    canonicalJson({
      v: h.v,
      id: h.id,
      origin: h.origin,
      issuedAt: h.issuedAt,
      from: h.from,
      to: h.to,
      kind: h.kind,
      chain: h.chain,
      hopLimit: h.hopLimit,
    }),
  );
}

/** The origin's header for a new routed event, signed with its key; the first transfer's fields set. */
export function signEnvelope(
  identity: GatewayIdentity,
  fields: Omit<Signed, 'v' | 'origin'> & Pick<EnvelopeHeader, 'next' | 'form' | 'lost'>,
): EnvelopeHeader {
  const signed: Signed = {
    v: 1,
    id: fields.id,
    origin: identity.id,
    issuedAt: fields.issuedAt,
    from: fields.from,
    to: fields.to,
    kind: fields.kind,
    chain: fields.chain,
    hopLimit: fields.hopLimit,
  };
  const sig = Buffer.from(identity.sign(signedBytes(signed))).toString('hex');
  return { ...signed, sig, next: fields.next, hops: fields.hopLimit, form: fields.form, lost: fields.lost };
}

/** Whether the header's signature verifies for the origin it names. */
export function envelopeSignatureValid(header: EnvelopeHeader): boolean {
  try {
    return verifySignature(header.origin, signedBytes(header), Buffer.from(header.sig, 'hex'));
  } catch {
    return false;
  }
}

/** The envelope's bytes: `u16 header length | header JSON | payload`. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const header = Buffer.from(JSON.stringify(envelope.header));
  if (header.length > MAX_ENVELOPE_HEADER)
    throw new InvalidEnvelopeError(
      `envelope header of ${header.length} bytes (limit ${MAX_ENVELOPE_HEADER})`,
    );
  const out = Buffer.alloc(2 + header.length + envelope.payload.length);
  out.writeUInt16BE(header.length, 0);
  header.copy(out, 2);
  out.set(envelope.payload, 2 + header.length);
  return out;
}

/** Parses an envelope from the wire; `InvalidEnvelopeError` says what is wrong. Checks nothing else. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < 2) throw new InvalidEnvelopeError('envelope shorter than its length field');
  const length = (bytes[0]! << 8) | bytes[1]!;
  if (length > MAX_ENVELOPE_HEADER || length > bytes.length - 2)
    throw new InvalidEnvelopeError(`envelope header length ${length} outside the frame or over the limit`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.subarray(2, 2 + length)).toString('utf8'));
  } catch {
    throw new InvalidEnvelopeError('envelope header is not JSON');
  }
  const header = EnvelopeHeaderSchema.safeParse(json);
  if (!header.success)
    throw new InvalidEnvelopeError(`malformed envelope header: ${header.error.issues[0]?.message}`);
  return { header: header.data, payload: bytes.subarray(2 + length) };
}
