import { type FileOfferEvent, LIMITS } from '@crosstalk/core';
import { InvalidFileOfferError } from '../errors/errors.js';

/**
 * Checks an in-memory file offer before a transfer follows it (it may come from an application as
 * much as from the network): every field the canonical model names, within core's `LIMITS`, a size
 * that is a safe integer, and the hash, when there is one, as 64 lower-case hex digits.
 * Throws `InvalidFileOfferError`.
 */
export function checkFileOffer(offer: unknown): FileOfferEvent {
  if (typeof offer !== 'object' || offer === null) throw new InvalidFileOfferError('not an object');
  const o = offer as Record<string, unknown>;
  if (o.kind !== 'file-offer') throw new InvalidFileOfferError(`kind is ${String(o.kind)}, not file-offer`);
  if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > LIMITS.id)
    throw new InvalidFileOfferError(`an id must be 1 to ${LIMITS.id} characters`);
  for (const field of ['from', 'to'] as const) {
    const a = o[field] as { user?: unknown; network?: unknown } | null | undefined;
    if (typeof a !== 'object' || a === null || typeof a.user !== 'string' || typeof a.network !== 'string')
      throw new InvalidFileOfferError(`${field} is not an address`);
  }
  if (typeof o.name !== 'string' || o.name.length > LIMITS.name)
    throw new InvalidFileOfferError(`a name must be at most ${LIMITS.name} characters`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw new InvalidFileOfferError(`size ${String(o.size)} is not a byte count`);
  if (o.mediaType !== undefined && (typeof o.mediaType !== 'string' || o.mediaType.length > LIMITS.name))
    throw new InvalidFileOfferError(`a media type must be at most ${LIMITS.name} characters`);
  if (o.sha256 !== undefined && (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)))
    throw new InvalidFileOfferError('sha256 must be 64 lower-case hex digits');
  return offer as FileOfferEvent;
}
