import { MalformedFrameError } from '@crosstalk/core';
import { PROTOCOL } from '../protocol.js';
import type { StanzaBudget } from './limits.js';
import type { Quote, XmlText } from './node.js';

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

// Characters that need the careful loop (surrogates must be told apart from valid pairs).
const HARD = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;
const ATTR_EASY_APOS = /[&<'\t\n\r]/g;
const ATTR_EASY_QUOT = /[&<"\t\n\r]/g;
const EASY: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  "'": '&apos;',
  '"': '&quot;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};
const easy = (c: string) => EASY[c]!;

const TEXT_SPECIAL_ALL = new RegExp(TEXT_SPECIAL.source, 'g');

/** Escapes a string for character data; characters XML cannot carry are refused. */
export function escapeText(s: string): string {
  // One regex pass over the common case (markup characters and CR); anything rarer (controls,
  // surrogates, U+FFFE/FFFF) takes the careful loop.
  TEXT_SPECIAL_ALL.lastIndex = 0;
  let m = TEXT_SPECIAL_ALL.exec(s);
  if (m === null) return s;
  let out = '';
  let last = 0;
  do {
    const i = m.index;
    const c = s.charCodeAt(i);
    let rep: string;
    if (c === 0x26) rep = '&amp;';
    else if (c === 0x3c) rep = '&lt;';
    else if (c === 0x3e) rep = '&gt;';
    else if (c === 0x0d) rep = '&#13;';
    else return escapeSlow(s, false, "'");
    out += s.slice(last, i) + rep;
    last = i + 1;
    m = TEXT_SPECIAL_ALL.exec(s);
  } while (m !== null);
  return out + s.slice(last);
}

/** Escapes a string for an attribute value in the given quotes. */
export function escapeAttr(s: string, quote: Quote = "'"): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  if (HARD.test(s)) return escapeSlow(s, true, quote);
  return s.replace(quote === "'" ? ATTR_EASY_APOS : ATTR_EASY_QUOT, easy);
}

const NAMED: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  lt: '<',
  gt: '>',
  amp: '&',
  apos: "'",
  quot: '"',
});

function malformed(message: string, offset?: number): MalformedFrameError {
  return new MalformedFrameError(PROTOCOL, message, offset === undefined ? {} : { offset });
}

/**
 * Resolves references and normalises whitespace in raw character data. `attr` selects attribute
 * value normalisation (§3.3.3: each literal TAB, LF, CR or CRLF becomes one space) instead of
 * line-end normalisation (§2.11: CRLF and CR become LF). Only the five predefined entities exist
 * in XMPP (RFC 6120 §11.1 forbids DTDs); anything else is a malformed frame.
 */
/** Set by `resolve` on text: false once a spelling differs from what `escapeText` writes. */
let defaultSpelling = true;

function resolve(raw: string, attr: boolean, offset: number | undefined, budget?: StanzaBudget): string {
  const special = attr ? ATTR_REFS : TEXT_REFS;
  special.lastIndex = 0;
  let out = '';
  let last = 0;
  for (let m = special.exec(raw); m !== null; m = special.exec(raw)) {
    const i = m.index;
    const c = raw.charCodeAt(i);
    out += raw.slice(last, i);
    if (c === 0x26) {
      budget?.reference(offset);
      const semi = raw.indexOf(';', i + 1);
      if (semi < 0 || semi - i > 12) throw malformed('an "&" that does not start a reference', offset);
      const body = raw.slice(i + 1, semi);
      if (body !== 'amp' && body !== 'lt' && body !== 'gt' && body !== '#13') defaultSpelling = false;
      out += reference(body, offset);
      last = semi + 1;
    } else if (c === 0x0d) {
      defaultSpelling = false;
      out += attr ? ' ' : '\n';
      last = raw.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
    } else {
      out += ' '; // TAB or LF in an attribute value
      last = i + 1;
    }
    special.lastIndex = last;
  }
  return last === 0 ? raw : out + raw.slice(last);
}

const TEXT_REFS = /[&\r]/g;
const ATTR_REFS = /[&\t\n\r]/g;

function reference(body: string, offset: number | undefined): string {
  const named = NAMED[body];
  if (named !== undefined) return named;
  if (body.charCodeAt(0) === 0x23) {
    const hex = body.charCodeAt(1) === 0x78;
    const digits = body.slice(hex ? 2 : 1);
    if (digits.length === 0 || !(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) {
      throw malformed(`bad character reference "&${body};"`, offset);
    }
    const code = Number.parseInt(digits, hex ? 16 : 10);
    if (code > 0x10ffff) throw malformed(`character reference "&${body};" is out of range`, offset);
    return String.fromCodePoint(code);
  }
  throw malformed(`undefined entity "&${body};"`, offset);
}

// Literal characters `escapeText` would write differently; surrogates only when not in a pair.
const TEXT_LITERAL_NOT_DEFAULT = /[>\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;
const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const TEXT_RAW_SPECIAL = /[&\r>\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;

/**
 * A text node from raw character data: the resolved text, and the raw spelling only when
 * `escapeText(text)` would not give it back (decided while resolving, without re-escaping).
 */
export function textFromRaw(raw: string, offset?: number, budget?: StanzaBudget): XmlText {
  if (!TEXT_RAW_SPECIAL.test(raw)) return { type: 'text', text: raw };
  defaultSpelling = !TEXT_LITERAL_NOT_DEFAULT.test(raw) && !(SURROGATE.test(raw) && LONE_SURROGATE.test(raw));
  const text = raw.indexOf('&') < 0 && raw.indexOf('\r') < 0 ? raw : resolve(raw, false, offset, budget);
  return defaultSpelling ? { type: 'text', text } : { type: 'text', text, raw };
}

// A raw attribute value with none of these is its own value and its own default spelling (it
// cannot hold "<" or its quote character, the scanner refuses both).
const ATTR_RAW_SPECIAL = /[&"'\u0000-\u001f\ud800-\udfff\ufffe\uffff]/;

/** An attribute value from its raw spelling: the value, and the spelling when it is not the default. */
export function attrFromRaw(
  raw: string,
  quote: Quote,
  offset?: number,
  budget?: StanzaBudget,
): { value: string; raw?: string } {
  if (!ATTR_RAW_SPECIAL.test(raw)) return { value: raw };
  const value = decodeAttr(raw, offset, budget);
  return escapeAttr(value, quote) === raw ? { value } : { value, raw };
}

export function decodeText(raw: string, offset?: number): string {
  return raw.indexOf('&') < 0 && raw.indexOf('\r') < 0 ? raw : resolve(raw, false, offset);
}

const ATTR_REFERENCE_OR_SPACE = /[&\t\n\r]/;

export function decodeAttr(raw: string, offset?: number, budget?: StanzaBudget): string {
  return ATTR_REFERENCE_OR_SPACE.test(raw) ? resolve(raw, true, offset, budget) : raw;
}
