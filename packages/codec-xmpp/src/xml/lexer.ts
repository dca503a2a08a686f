import { MalformedFrameError } from '@crosstalk/core';
import { PROTOCOL } from '../protocol.js';
import { attrFromRaw, textFromRaw } from './escape.js';
import type { StanzaBudget } from './limits.js';
import type { XmlAttribute, XmlCdata, XmlComment, XmlElement, XmlNode, XmlPi, XmlText } from './node.js';

/**
 * Lexical scanners shared by both parsers (our fast path and the fast-xml-parser path): each reads
 * one construct at a known position of a whole, already UTF-8-decoded frame and records its exact
 * spelling. Offsets in errors are character offsets inside the frame.
 */

export function malformed(message: string, offset?: number): MalformedFrameError {
  return new MalformedFrameError(PROTOCOL, message, offset === undefined ? {} : { offset });
}

// XML 1.0 §2.3 names, simplified: ASCII letters, `_` and `:` first, then digits, `-` and `.`; any
// non-ASCII character is accepted (the full Unicode tables are the server's business).
const NAME_START = new Uint8Array(128);
const NAME_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x3a;
  NAME_START[c] = letter ? 1 : 0;
  NAME_CHAR[c] = letter || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e ? 1 : 0;
}

export function isNameStart(c: number): boolean {
  return c < 128 ? NAME_START[c] === 1 : c >= 128; // NaN (past the end) is neither
}

export function isNameChar(c: number): boolean {
  return c < 128 ? NAME_CHAR[c] === 1 : c >= 128;
}

export function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

const NAME_RE = /^[A-Za-z_:\u0080-\uffff][A-Za-z0-9._:\u0080-\uffff-]*$/;

export function isXmlName(name: string): boolean {
  return NAME_RE.test(name);
}

export interface StartTag {
  el: XmlElement;
  /** Index just past the `>`. */
  end: number;
  selfClosing: boolean;
}

// Up to this many attributes, a repeated name is found by comparing with each earlier one (faster
// than a set for the few attributes real elements have); past it, a set keeps the check O(1).
const LINEAR_DUPLICATE_CHECK = 8;

/** `xmlns` or `xmlns:prefix`: a namespace declaration (Namespaces in XML 1.0 §3). */
function isDeclaration(name: string): boolean {
  return name.startsWith('xmlns') && (name.length === 5 || name.charCodeAt(5) === 0x3a);
}

/**
 * Reads `<name attr='v' ...>` or `<name .../>` starting at the `<` at `at`, checking the names,
 * attributes, namespace declarations and references it holds against `budget`'s caps.
 */
export function scanStartTag(s: string, at: number, budget: StanzaBudget): StartTag {
  let i = at + 1;
  if (!isNameStart(s.charCodeAt(i))) throw malformed('an element name must follow "<"', at);
  while (isNameChar(s.charCodeAt(i))) i++;
  budget.name(i - at - 1, at + 1);
  const el: XmlElement = { type: 'element', name: s.slice(at + 1, i), attrs: [], children: [] };
  const attrs = el.attrs;
  const length = s.length;
  let declarations = 0;
  let names: Set<string> | undefined;
  for (;;) {
    const wsStart = i;
    while (isXmlSpace(s.charCodeAt(i))) i++;
    if (i >= length) throw malformed(`unterminated start tag <${el.name}>`, at);
    const c = s.charCodeAt(i);
    if (c === 0x3e || c === 0x2f) {
      if (i > wsStart) el.openTail = s.slice(wsStart, i);
      if (c === 0x3e) return { el, end: i + 1, selfClosing: false };
      if (s.charCodeAt(i + 1) !== 0x3e) throw malformed(`"/" not followed by ">" in <${el.name}>`, i);
      return { el, end: i + 2, selfClosing: true };
    }
    // XML 1.0 §3.1: attributes are separated from the name and from each other by whitespace.
    if (i === wsStart || !isNameStart(c)) throw malformed(`bad attribute syntax in <${el.name}>`, i);
    const nameStart = i;
    budget.attribute(el.name, attrs.length, nameStart);
    while (isNameChar(s.charCodeAt(i))) i++;
    budget.name(i - nameStart, nameStart);
    const name = s.slice(nameStart, i);
    if (isDeclaration(name)) budget.declaration(++declarations, nameStart);
    const eqStart = i;
    while (isXmlSpace(s.charCodeAt(i))) i++;
    if (s.charCodeAt(i) !== 0x3d) throw malformed(`attribute ${name} has no value`, i);
    i++;
    while (isXmlSpace(s.charCodeAt(i))) i++;
    const eq = s.slice(eqStart, i);
    const q = s.charCodeAt(i);
    if (q !== 0x27 && q !== 0x22) throw malformed(`attribute ${name} is not quoted`, i);
    const valueEnd = s.indexOf(q === 0x27 ? "'" : '"', i + 1);
    if (valueEnd < 0) throw malformed(`unterminated value of attribute ${name}`, i);
    const raw = s.slice(i + 1, valueEnd);
    if (raw.indexOf('<') >= 0) throw malformed(`"<" in the value of attribute ${name}`, i);
    const quote = q === 0x27 ? "'" : '"';
    const spelled = attrFromRaw(raw, quote, i, budget);
    const attr: XmlAttribute = { name, value: spelled.value };
    if (quote === '"') attr.quote = '"';
    if (spelled.raw !== undefined) attr.raw = spelled.raw;
    const space = s.slice(wsStart, nameStart);
    if (space !== ' ') attr.space = space;
    if (eq !== '=') attr.eq = eq;
    // XML 1.0 §3.1, well-formedness constraint "Unique Att Spec".
    let repeated = false;
    if (names !== undefined) repeated = names.has(name);
    else if (attrs.length < LINEAR_DUPLICATE_CHECK) {
      for (let k = 0; k < attrs.length; k++) if (attrs[k]!.name === name) repeated = true;
    } else {
      names = new Set();
      for (let k = 0; k < attrs.length; k++) names.add(attrs[k]!.name);
      repeated = names.has(name);
    }
    if (repeated) throw malformed(`attribute ${name} repeated in <${el.name}>`, nameStart);
    names?.add(name);
    attrs.push(attr);
    i = valueEnd + 1;
  }
}

/** Reads the end tag of `el` at the `<` at `at`; returns the index past its `>`. */
export function scanEndTag(s: string, at: number, el: XmlElement): number {
  const name = el.name;
  let i = at + 2 + name.length;
  if (s.charCodeAt(at + 1) !== 0x2f || !s.startsWith(name, at + 2) || isNameChar(s.charCodeAt(i))) {
    throw malformed(`expected </${name}>`, at);
  }
  const wsStart = i;
  while (isXmlSpace(s.charCodeAt(i))) i++;
  if (s.charCodeAt(i) !== 0x3e) throw malformed(`unterminated end tag </${name}>`, at);
  if (i > wsStart) el.closeTail = s.slice(wsStart, i);
  return i + 1;
}

export interface Scanned<N> {
  node: N;
  end: number;
}

export function scanComment(s: string, at: number): Scanned<XmlComment> {
  const close = s.indexOf('-->', at + 4);
  if (close < 0) throw malformed('unterminated comment', at);
  return { node: { type: 'comment', text: s.slice(at + 4, close) }, end: close + 3 };
}

export function scanCdata(s: string, at: number): Scanned<XmlCdata> {
  const close = s.indexOf(']]>', at + 9);
  if (close < 0) throw malformed('unterminated CDATA section', at);
  return { node: { type: 'cdata', text: s.slice(at + 9, close) }, end: close + 3 };
}

export function scanPi(s: string, at: number, budget: StanzaBudget): Scanned<XmlPi> {
  let i = at + 2;
  if (!isNameStart(s.charCodeAt(i))) throw malformed('a processing instruction needs a target', at);
  while (isNameChar(s.charCodeAt(i))) i++;
  budget.name(i - at - 2, at + 2);
  const target = s.slice(at + 2, i);
  const close = s.indexOf('?>', i);
  if (close < 0) throw malformed('unterminated processing instruction', at);
  const data = s.slice(i, close);
  if (data.length > 0 && !isXmlSpace(data.charCodeAt(0))) throw malformed('bad processing instruction', at);
  return { node: { type: 'pi', target, data }, end: close + 2 };
}

export function textNode(raw: string, at: number, budget: StanzaBudget): XmlText {
  return textFromRaw(raw, at, budget);
}

/**
 * Reads everything between `from` and `to` that is not an element: text, comments, CDATA and
 * processing instructions (XML inside a stanza, RFC 6120 §11.1 restricts what senders may use,
 * not what we must read). Used by the fast-xml-parser path between the elements it reported.
 */
export function scanMisc(s: string, from: number, to: number, out: XmlNode[], budget: StanzaBudget): void {
  let i = from;
  while (i < to) {
    const lt = s.indexOf('<', i);
    if (lt < 0 || lt >= to) {
      out.push(textNode(s.slice(i, to), i, budget));
      return;
    }
    if (lt > i) out.push(textNode(s.slice(i, lt), i, budget));
    let scanned: Scanned<XmlNode>;
    if (s.startsWith('<!--', lt)) scanned = scanComment(s, lt);
    else if (s.startsWith('<![CDATA[', lt)) scanned = scanCdata(s, lt);
    else if (s.charCodeAt(lt + 1) === 0x3f) {
      scanned = scanPi(s, lt, budget);
      if (scanned.node.type === 'pi' && scanned.node.target.toLowerCase() === 'xml') {
        throw malformed('an XML declaration inside an element', lt);
      }
    } else throw malformed('unexpected markup', lt);
    if (scanned.end > to) throw malformed('markup crosses an element boundary', lt);
    out.push(scanned.node);
    i = scanned.end;
  }
}

/**
 * Our fast path: reads the element starting at `at` when it holds only elements, attributes and
 * text (what nearly every stanza is). Returns undefined on a comment, CDATA section or processing
 * instruction, leaving those to the fast-xml-parser path. Iterative, so nesting is bounded by
 * `budget`'s depth cap, never by the call stack; one pass, each character read a bounded number of
 * times.
 */
export function parseElementFast(
  s: string,
  at: number,
  budget: StanzaBudget,
): Scanned<XmlElement> | undefined {
  const first = scanStartTag(s, at, budget);
  const root = first.el;
  if (first.selfClosing) return { node: root, end: first.end };
  const stack: XmlElement[] = [];
  let current = root;
  let i = first.end;
  for (;;) {
    const lt = s.indexOf('<', i);
    if (lt < 0) throw malformed(`unclosed element <${current.name}>`, i);
    if (lt > i) current.children.push(textNode(s.slice(i, lt), i, budget));
    const next = s.charCodeAt(lt + 1);
    if (next === 0x2f) {
      i = scanEndTag(s, lt, current);
      if (current.children.length === 0) current.selfClosing = false;
      const parent = stack.pop();
      if (parent === undefined) return { node: root, end: i };
      current = parent;
    } else if (next === 0x21 || next === 0x3f) {
      return undefined;
    } else {
      budget.depth(stack.length + 2, lt);
      const tag = scanStartTag(s, lt, budget);
      current.children.push(tag.el);
      i = tag.end;
      if (!tag.selfClosing) {
        stack.push(current);
        current = tag.el;
      }
    }
  }
}
