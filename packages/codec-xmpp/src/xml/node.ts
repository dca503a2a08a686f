/**
 * The XML tree a stanza decodes to. Besides names, attributes and children it records the lexical
 * details that XML itself treats as insignificant (quote style, whitespace inside tags, `<a/>` versus
 * `<a></a>`, entity spelling), so that encoding a decoded frame gives back the exact bytes
 * (DESIGN.md, frame codec: byte-exact round trip). Every lexical field is optional: a tree built by
 * hand or read from JSON encodes with the defaults below.
 */

export type Quote = "'" | '"';

/** An attribute of an element. */
export interface XmlAttribute {
  /** Qualified name as written (`xmlns:stream`, `xml:lang`, `type`). */
  name: string;
  /** The value with character and entity references resolved (XML 1.0 §3.3.3 normalisation applied). */
  value: string;
  /** Quote character; default `'`. */
  quote?: Quote;
  /** The exact spelling between the quotes, kept only when it differs from `escapeAttr(value)`. */
  raw?: string;
  /** Whitespace before the name; default one space. */
  space?: string;
  /** The `=` with any whitespace around it; default `=`. */
  eq?: string;
}

/** An element: its name, attributes in document order, and children. */
export interface XmlElement {
  type: 'element';
  name: string;
  attrs: XmlAttribute[];
  children: XmlNode[];
  /** `<a/>` (true) or `<a></a>` (false) for an element without children; default true. */
  selfClosing?: boolean;
  /** Whitespace before `>` or `/>` in the start tag; default none. */
  openTail?: string;
  /** Whitespace before `>` in the end tag; default none. */
  closeTail?: string;
}

/** Character data. */
export interface XmlText {
  type: 'text';
  /** The character data with references resolved and line ends normalised (XML 1.0 §2.11). */
  text: string;
  /** The exact spelling, kept only when it differs from `escapeText(text)`. */
  raw?: string;
}

/** A CDATA section. */
export interface XmlCdata {
  type: 'cdata';
  text: string;
}

/** A comment. */
export interface XmlComment {
  type: 'comment';
  text: string;
}

/** A processing instruction; `data` keeps the whitespace after the target (`<?xml version='1.0' ?>`). */
export interface XmlPi {
  type: 'pi';
  target: string;
  data: string;
}

/** Any node of a parsed element. */
export type XmlNode = XmlElement | XmlText | XmlCdata | XmlComment | XmlPi;

/** Builds an element: attributes in the order given (undefined values skipped), strings as text. */
export function element(
  name: string,
  attrs: Readonly<Record<string, string | undefined>> = {},
  children: readonly (XmlNode | string | undefined)[] = [],
): XmlElement {
  const list: XmlAttribute[] = [];
  for (const key in attrs) {
    const value = attrs[key];
    if (value !== undefined) list.push({ name: key, value });
  }
  const nodes: XmlNode[] = [];
  for (const c of children) {
    if (c === undefined) continue;
    nodes.push(typeof c === 'string' ? { type: 'text', text: c } : c);
  }
  return { type: 'element', name, attrs: list, children: nodes };
}

/** The value of an element's attribute, or undefined. */
export function getAttr(el: XmlElement, name: string): string | undefined {
  const attrs = el.attrs;
  for (let i = 0; i < attrs.length; i++) if (attrs[i]!.name === name) return attrs[i]!.value;
  return undefined;
}

/** The part of a qualified name after the prefix (`stream:features` -> `features`). */
export function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
}

/** The prefix of a qualified name, or '' for none. */
export function prefixOf(qname: string): string {
  const colon = qname.indexOf(':');
  return colon < 0 ? '' : qname.slice(0, colon);
}

/** The character data directly inside `el` (text and CDATA children, in order). */
export function textOf(el: XmlElement): string {
  const children = el.children;
  if (children.length === 1) {
    const only = children[0]!;
    return only.type === 'text' || only.type === 'cdata' ? only.text : '';
  }
  let out = '';
  for (const c of children) if (c.type === 'text' || c.type === 'cdata') out += c.text;
  return out;
}

/** Child elements only (skips text, comments and processing instructions). */
export function childElements(el: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) if (c.type === 'element') out.push(c);
  return out;
}
