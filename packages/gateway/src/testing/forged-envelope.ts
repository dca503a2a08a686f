import type { Address, G2gContact } from '@crosstalk/core';
import { jsonForm } from '../g2g/canonical-form.js';
import type { GatewayIdentity } from '../g2g/identity.js';
import { G2gType } from '../g2g/wire.js';
import { encodeEnvelope, signEnvelope } from '../routing/envelope.js';

// A hostile relay in a test decodes an envelope, changes it and encodes it again: the wire form is
// the gateway's own, not its public API, so it is offered here only.
export { decodeEnvelope, encodeEnvelope } from '../routing/envelope.js';

/** One step of a routed envelope's chain (the gateway's `EnvelopeStep`). */
export interface ForgedStep {
  /** The format the step translates from (`oscar`, `canonical:json`, ...). */
  from: string;
  /** The format it translates to. */
  to: string;
  /** The id (64 hex digits) of the gateway that performs it. */
  gateway: string;
  /** Where that gateway is reached. */
  contact: G2gContact;
}

/** The G2G message type a routed envelope travels as (`G2gNode.send(peer, bytes, routedG2gType)`). */
export const routedG2gType = G2gType.routed;

/** What {@link forgeImEnvelope} puts in the envelope; everything a hostile gateway may choose. */
export interface ForgedImEnvelope {
  /** The key that signs the header: the sender's own, or another one to forge a signature. */
  signer: GatewayIdentity;
  /** The chain of hops the header names, the sender's own step first. */
  chain: ForgedStep[];
  /** The IM's sender. */
  from: Address;
  /** The IM's recipient. */
  to: Address;
  /** The IM's text. */
  text: string;
  /** The envelope id (replays reuse one); a fresh one by default. */
  id?: string;
  /** Index of the step whose gateway should handle it; 1 (the hop after the sender) by default. */
  next?: number;
  /** Hops left, overriding the signed hop limit (an exhausted limit is 0). */
  hops?: number;
  /** The origin named in the header, overriding the signer's id (a forged origin). */
  origin?: string;
}

let forged = 0;

/**
 * A routed envelope carrying an IM in the JSON canonical form, signed as `signer`, with the fields a
 * test of the routing refusals overrides (next hop, hops left, origin, id). For tests that play a
 * hostile gateway; a real gateway builds envelopes through its router.
 */
export function forgeImEnvelope(o: ForgedImEnvelope): Uint8Array {
  forged++;
  const header = signEnvelope(o.signer, {
    id: o.id ?? `forged-${process.pid}-${forged}`,
    issuedAt: Date.now(),
    from: `${o.from.user}@${o.from.network}`,
    to: `${o.to.user}@${o.to.network}`,
    kind: 'im',
    chain: o.chain,
    // Each gateway after the origin spends one hop.
    hopLimit: Math.max(1, new Set(o.chain.map((s) => s.gateway)).size - 1),
    next: o.next ?? 1,
    form: 'json',
    lost: [],
  });
  const payload = jsonForm.encode({
    kind: 'im',
    id: `forged-im-${forged}`,
    from: o.from,
    to: o.to,
    text: o.text,
    sentAt: Date.now(),
  });
  return encodeEnvelope({
    header: {
      ...header,
      ...(o.hops !== undefined ? { hops: o.hops } : {}),
      ...(o.origin ? { origin: o.origin } : {}),
    },
    payload,
  });
}
