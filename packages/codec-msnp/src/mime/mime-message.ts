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

const latin1 = new TextDecoder('latin1');
const utf8Encoder = new TextEncoder();
const utf8Lenient = new TextDecoder('utf-8');

/** Finds the blank line ending the headers: CRLF CRLF, or LF LF from lenient senders. */
function headerEnd(payload: Uint8Array): { end: number; bodyStart: number } | undefined {
  for (let i = 0; i < payload.length - 1; i++) {
    if (payload[i] !== 0x0a) continue;
    if (payload[i + 1] === 0x0a) return { end: i, bodyStart: i + 2 };
    if (payload[i + 1] === 0x0d && payload[i + 2] === 0x0a) return { end: i, bodyStart: i + 3 };
  }
  return undefined;
}

/** Parses an MSG payload; undefined when it has no header block (not a MIME message). */
export function parseMime(payload: Uint8Array): MimeMessage | undefined {
  const split = headerEnd(payload);
  if (!split) return undefined;
  // Header values are UTF-8 in practice (TypingUser, P4-Context names); decode leniently per line.
  const headerText = utf8Lenient.decode(payload.subarray(0, split.end));
  const headers: [string, string][] = [];
  for (const raw of headerText.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    headers.push([line.slice(0, colon), line.slice(colon + 1).replace(/^ /, '')]);
  }
  return { headers, body: payload.subarray(split.bodyStart) };
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

/** Debug-friendly text of a payload (Latin-1, never throws). */
export function payloadPreview(payload: Uint8Array, max = 80): string {
  return latin1.decode(payload.subarray(0, max));
}
