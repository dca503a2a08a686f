import { concatBytes } from '@crosstalk/core';

/**
 * The MIME message inside `MSG`: header lines in order, a blank line, then the body
 * (`MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\ntext`, PROTOCOLS.md). Kept
 * as bytes plus ordered headers so a message can be re-emitted exactly.
 */
export interface MimeMessage {
  /** Header name and value pairs in wire order (names as spelled; values trimmed of the one space). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

const utf8Encoder = new TextEncoder();
const utf8Lenient = new TextDecoder('utf-8');

/** Text of `bytes[start..end)`: ASCII built directly (header lines are short), anything else as UTF-8. */
function textOf(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) return utf8Lenient.decode(bytes.subarray(start, end));
    s += String.fromCharCode(b);
  }
  return s;
}

/**
 * Parses an MSG payload: `Name: value` lines up to a blank line (CRLF, or bare LF from lenient
 * senders), then the body. Undefined when it has no header block (not a MIME message). Header
 * values are UTF-8 in practice (TypingUser, P4-Context names). The body is a view of `payload`.
 */
export function parseMime(payload: Uint8Array): MimeMessage | undefined {
  const headers: [string, string][] = [];
  let at = 0;
  while (at < payload.length) {
    const lf = payload.indexOf(0x0a, at);
    if (lf < 0) return undefined;
    const end = lf > at && payload[lf - 1] === 0x0d ? lf - 1 : lf;
    if (end === at) return { headers, body: payload.subarray(lf + 1) };
    const colon = payload.indexOf(0x3a, at);
    if (colon <= at || colon >= end) return undefined;
    const value = colon + 1 < end && payload[colon + 1] === 0x20 ? colon + 2 : colon + 1;
    headers.push([textOf(payload, at, colon), textOf(payload, value, end)]);
    at = lf + 1;
  }
  return undefined;
}

/** The value of the first header named `name` (case-insensitive). */
export function mimeHeader(message: MimeMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of message.headers) if (n.toLowerCase() === lower) return v;
  return undefined;
}

/** The media type of `Content-Type` without parameters, lower-cased. */
export function mimeType(message: MimeMessage): string {
  return (mimeHeader(message, 'Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Writes headers (CRLF after each), a blank line, and the body. */
export function formatMime(
  headers: readonly (readonly [string, string])[],
  body: Uint8Array | string,
): Uint8Array {
  let head = '';
  for (const [n, v] of headers) head += `${n}: ${v}\r\n`;
  head += '\r\n';
  return concatBytes([utf8Encoder.encode(head), typeof body === 'string' ? utf8Encoder.encode(body) : body]);
}
