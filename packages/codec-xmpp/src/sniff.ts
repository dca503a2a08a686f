import type { Direction, SniffResult } from '@crosstalk/core';

/**
 * Recognises a client's first bytes: an optional XML declaration, then a stream header
 * (`<stream:stream`, or another prefix bound to the streams namespace, RFC 6120 §4.2). The
 * declaration alone is not enough (any XML protocol starts so): it answers `more` until the
 * stream header's name is complete.
 */
const HEADER = /^[ \t\r\n]*(?:<\?xml[^>]*\?>[ \t\r\n]*)?<(?:[A-Za-z_][\w.-]*:)?stream[ \t\r\n>]/;
const DECLARATION = /^[ \t\r\n]*<\?xml[^>]*\?>[ \t\r\n]*/;
const NAME_SO_FAR = /^<([A-Za-z_][\w.-]*:)?([\w.-]*)$/;
const MAX_HEAD = 1024;

/**
 * Recognises an XMPP client stream by its opening: an optional XML declaration, then a `stream:stream`
 * header.
 */
export function sniffXmpp(head: Uint8Array, _direction: Direction): SniffResult {
  let text = '';
  const n = Math.min(head.length, MAX_HEAD);
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    if (b >= 0x80) return 'no'; // everything up to the stream header's name is ASCII
    text += String.fromCharCode(b);
  }
  if (HEADER.test(text)) return 'yes';
  if (n === MAX_HEAD) return 'no';
  const declaration = DECLARATION.exec(text);
  const rest = declaration ? text.slice(declaration[0].length) : text.trimStart();
  if (rest.length === 0) return 'more';
  // Still inside the declaration.
  if (!declaration && ('<?xml'.startsWith(rest) || (rest.startsWith('<?xml') && !rest.includes('>')))) {
    return 'more';
  }
  // A name in progress that can still become "stream" or "prefix:stream".
  const name = NAME_SO_FAR.exec(rest);
  if (rest === '<' || (name && (name[1] !== undefined ? 'stream'.startsWith(name[2]!) : true))) return 'more';
  return 'no';
}
