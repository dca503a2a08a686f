import { MalformedFrameError } from '@crosstalk/core';
import { PROTOCOL } from '../protocol.js';
import type { Quote } from './node.js';

/**
 * Escaping and reference resolution. Our defaults: text escapes `& < >` and CR (which a parser
 * would otherwise turn into LF, XML 1.0 §2.11); attribute values escape `& <`, the quote in use
 * and TAB/LF/CR (which §3.3.3 would turn into spaces). Characters XML 1.0 cannot carry at all
 * (C0 controls, U+FFFE, U+FFFF, lone surrogates) are written as character references so that no
 * string is lost; our parser reads them back, a strict XML 1.0 parser would refuse them.
 */

// Needs work: markup, CR, C0 controls, U+FFFE/FFFF and any surrogate (pairs are checked in the slow path).
const TEXT_SPECIAL = /[&<>\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
const ATTR_SPECIAL = /[&<"'\u0000-\u001f\ud800-\udfff\ufffe\uffff]/;

function charRef(code: number): string {
  return `&#x${code.toString(16).toUpperCase()};`;
}

function escapeSlow(s: string, inAttr: boolean, quote: Quote): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x26) rep = '&amp;';
    else if (c === 0x3c) rep = '&lt;';
    else if (c === 0x3e) rep = inAttr ? undefined : '&gt;';
    else if (c === 0x22) rep = inAttr && quote === '"' ? '&quot;' : undefined;
    else if (c === 0x27) rep = inAttr && quote === "'" ? '&apos;' : undefined;
    else if (c === 0x0d) rep = '&#13;';
    else if (c === 0x09 || c === 0x0a) rep = inAttr ? (c === 0x09 ? '&#9;' : '&#10;') : undefined;
    else if (c < 0x20 || c === 0xfffe || c === 0xffff) rep = charRef(c);
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair: UTF-8 carries it
        continue;
      }
      rep = charRef(c);
    } else if (c >= 0xdc00 && c <= 0xdfff) rep = charRef(c);
    if (rep !== undefined) {
      out += s.slice(last, i) + rep;
      last = i + 1;
    }
  }
  return last === 0 ? s : out + s.slice(last);
}

export function escapeText(s: string): string {
  return TEXT_SPECIAL.test(s) ? escapeSlow(s, false, "'") : s;
}

export function escapeAttr(s: string, quote: Quote = "'"): string {
  return ATTR_SPECIAL.test(s) ? escapeSlow(s, true, quote) : s;
}

const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

function malformed(message: string, offset?: number): MalformedFrameError {
  return new MalformedFrameError(PROTOCOL, message, offset === undefined ? {} : { offset });
}

/**
 * Resolves references and normalises whitespace in raw character data. `attr` selects attribute
 * value normalisation (§3.3.3: each literal TAB, LF, CR or CRLF becomes one space) instead of
 * line-end normalisation (§2.11: CRLF and CR become LF). Only the five predefined entities exist
 * in XMPP (RFC 6120 §11.1 forbids DTDs); anything else is a malformed frame.
 */
function resolve(raw: string, attr: boolean, offset: number | undefined): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x26) {
      const semi = raw.indexOf(';', i + 1);
      if (semi < 0 || semi - i > 12) throw malformed('an "&" that does not start a reference', offset);
      const body = raw.slice(i + 1, semi);
      let rep: string;
      if (body.charCodeAt(0) === 0x23) {
        const hex = body.charCodeAt(1) === 0x78;
        const digits = body.slice(hex ? 2 : 1);
        if (digits.length === 0 || !(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) {
          throw malformed(`bad character reference "&${body};"`, offset);
        }
        const code = Number.parseInt(digits, hex ? 16 : 10);
        if (code > 0x10ffff) throw malformed(`character reference "&${body};" is out of range`, offset);
        rep = String.fromCodePoint(code);
      } else {
        const named = NAMED[body];
        if (named === undefined) throw malformed(`undefined entity "&${body};"`, offset);
        rep = named;
      }
      out += raw.slice(last, i) + rep;
      i = semi;
      last = semi + 1;
    } else if (c === 0x0d) {
      out += raw.slice(last, i) + (attr ? ' ' : '\n');
      if (raw.charCodeAt(i + 1) === 0x0a) i++;
      last = i + 1;
    } else if (attr && (c === 0x09 || c === 0x0a)) {
      out += raw.slice(last, i) + ' ';
      last = i + 1;
    }
  }
  return last === 0 ? raw : out + raw.slice(last);
}

export function decodeText(raw: string, offset?: number): string {
  return raw.indexOf('&') < 0 && raw.indexOf('\r') < 0 ? raw : resolve(raw, false, offset);
}

const ATTR_RAW_SPECIAL = /[&\t\n\r]/;

export function decodeAttr(raw: string, offset?: number): string {
  return ATTR_RAW_SPECIAL.test(raw) ? resolve(raw, true, offset) : raw;
}
