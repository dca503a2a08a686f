import { randomBytes } from 'node:crypto';
import { parseNameAddr } from '../grammar/name-addr.js';
import { SipHeaders } from './headers.js';
import { REASON_PHRASES, type SipRequest, type SipResponse } from './message.js';

/** A fresh tag for a From or To header (RFC 3261 §19.3: at least 32 random bits). */
export function newTag(): string {
  return randomBytes(6).toString('hex');
}

/**
 * A response to a request, built from its headers (RFC 3261 §8.2.6.2): every Via, From, Call-ID and
 * CSeq copied, To copied with a tag added when it has none (not on a 100). `headers` holds the
 * request's headers; a request that failed to parse still has them, so it can be answered 400.
 */
export function responseFor(
  request: Pick<SipRequest, 'headers'>,
  status: number,
  options: { reason?: string; toTag?: string; headers?: readonly [string, string][]; body?: Uint8Array } = {},
): SipResponse {
  const h = request.headers;
  const headers = new SipHeaders();
  for (const via of h.getAll('via')) headers.append('Via', via);
  const from = h.get('from');
  if (from !== undefined) headers.append('From', from);
  let to = h.get('to');
  if (to !== undefined && status > 100) to = withTag(to, options.toTag);
  if (to !== undefined) headers.append('To', to);
  const callId = h.get('call-id');
  if (callId !== undefined) headers.append('Call-ID', callId);
  const cseq = h.get('cseq');
  if (cseq !== undefined) headers.append('CSeq', cseq);
  for (const [name, value] of options.headers ?? []) headers.append(name, value);
  return {
    kind: 'response',
    status,
    reason: options.reason ?? REASON_PHRASES[status] ?? 'Unknown',
    headers,
    body: options.body ?? new Uint8Array(0),
  };
}

/** A To value with a tag: unchanged when it has one (or does not parse). */
function withTag(to: string, tag = newTag()): string {
  try {
    const parsed = parseNameAddr(to);
    if (parsed.params.some(([k]) => k.toLowerCase() === 'tag')) return to;
  } catch {
    return to;
  }
  return `${to};tag=${tag}`;
}

/** True when the headers hold what a response must copy (RFC 3261 §8.2.6.2), so a bad request can be answered. */
export function canAnswer(headers: SipHeaders | undefined): headers is SipHeaders {
  return (
    headers?.has('via') === true &&
    headers.has('from') &&
    headers.has('to') &&
    headers.has('call-id') &&
    headers.has('cseq')
  );
}
