import { z } from 'zod';
import { InvalidEventError } from '../errors/errors.js';
import { type CanonicalEvent, type CanonicalEventJson, CanonicalEventSchema } from './events.js';

function invalid(error: z.ZodError, what: string): InvalidEventError {
  const issues = error.issues.map((i) => ({ path: i.path, message: i.message }));
  const first = issues[0];
  const where = first?.path.length ? ` at ${first.path.map(String).join('.')}` : '';
  return new InvalidEventError(`${what}${where}: ${first?.message ?? 'invalid'}`, issues);
}

/** Validates JSON (addresses as strings) and returns the in-memory event. Throws `InvalidEventError`. */
export function eventFromJson(json: unknown): CanonicalEvent {
  const result = z.safeDecode(CanonicalEventSchema, json as CanonicalEventJson);
  if (!result.success) throw invalid(result.error, 'invalid canonical event');
  return result.data;
}

/** The JSON form of an event (addresses written `user@network`). Validates on the way. */
export function eventToJson(event: CanonicalEvent): CanonicalEventJson {
  const result = z.safeEncode(CanonicalEventSchema, event);
  if (!result.success) throw invalid(result.error, 'cannot encode canonical event');
  return result.data;
}

/** Validates an in-memory event (e.g. one a plugin returned) without converting it. */
export function validateEvent(event: unknown): CanonicalEvent {
  return eventFromJson(eventToJson(event as CanonicalEvent));
}
