import type { Direction, SniffResult } from '@crosstalk/core';

/**
 * Recognises a client's first bytes: an optional XML declaration, then a stream header
 * (`<stream:stream`, or another prefix bound to the streams namespace, RFC 6120 §4.2). The
 * declaration alone is not enough (any XML protocol starts so): it answers `more` until the
 * stream header's name is complete.
 */
const HEADER = /^[ \t\r\n]*(?:<\?xml[^>]*\?>[ \t\r\n]*)?<(?:[A-Za-z_][\w.-]*:)?stream[ \t\r\n>]/;
const PARTIAL = /^[ \t\r\n]*(?:<\?xml[^>]*\?>[ \t\r\n]*)?<(?:[A-Za-z_][\w.-]*:?)?[\w.-]*$/;
const DECL_START = '<?xml';
const MAX_HEAD = 1024;

export function sniffXmpp(head: Uint8Array, _direction: Direction): SniffResult {
  let text = '';
  const n = Math.min(head.length, MAX_HEAD);
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    if (b >= 0x80) return 'no'; // a stream header is ASCII up to the element name
    text += String.fromCharCode(b);
  }
  if (HEADER.test(text)) return 'yes';
  if (n === MAX_HEAD) return 'no';
  const lead = text.trimStart();
  if (lead.length === 0) return 'more';
  // Inside the declaration, or before it is complete.
  if (DECL_START.startsWith(lead) || (lead.startsWith(DECL_START) && !lead.includes('>'))) return 'more';
  if (PARTIAL.test(text)) {
    // A name in progress: it must still be able to become "stream" or "prefix:stream".
    const name = /<([\w.:-]*)$/.exec(text)?.[1] ?? '';
    const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
    if ('stream'.startsWith(local) || !name.includes(':')) return 'more';
  }
  return 'no';
}
