import { SipSyntaxError } from '../errors/errors.js';

/** A CSeq value (RFC 3261 §20.16): a sequence number below 2^31 and a method. */
export interface CSeq {
  /** The sequence number. */
  seq: number;
  /** The method it numbers. */
  method: string;
}

const CSEQ = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/;

/** Parses a CSeq value; throws `SipSyntaxError`. */
export function parseCSeq(text: string): CSeq {
  const m = CSEQ.exec(text.trim());
  // RFC 3261 §8.1.1.5: the number MUST be less than 2^31.
  if (!m || Number(m[1]) >= 2 ** 31)
    throw new SipSyntaxError(`bad CSeq ${JSON.stringify(text.slice(0, 64))}`);
  return { seq: Number(m[1]), method: m[2] as string };
}
