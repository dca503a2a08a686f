import { decodeAttr, decodeText, escapeAttr, escapeText } from './escape.js';
import { isXmlName, malformed } from './lexer.js';
import type { XmlAttribute, XmlElement, XmlNode } from './node.js';

/**
 * Writes a tree back to XML. Lexical fields recorded by the parser are honoured, so a decoded
 * stanza encodes to its original bytes; absent fields take the defaults documented in `node.ts`.
 * A tree from JSON is checked on the way out (names, whitespace fields, raw spellings that must
 * still mean their value), so no JSON input can smuggle extra markup into the stream.
 */

const SPACE = /^[ \t\r\n]*$/;

function checkSpace(s: string | undefined, what: string, required: boolean): void {
  if (s === undefined) return;
  if (!SPACE.test(s) || (required && s.length === 0)) throw malformed(`${what} must be XML whitespace`);
}

// Names repeat endlessly in a stream; remembering the valid ones saves a regex per element.
const validNames = new Set<string>();

function checkName(name: string, what: string): void {
  if (validNames.has(name)) return;
  if (!isXmlName(name)) throw malformed(`bad ${what} name ${JSON.stringify(name)}`);
  if (validNames.size < 4096) validNames.add(name);
}

function writeAttr(a: XmlAttribute, out: string[]): void {
  const quote = a.quote ?? "'";
  let value: string;
  if (a.raw !== undefined) {
    if (a.raw.includes(quote) || a.raw.includes('<') || decodeAttr(a.raw) !== a.value) {
      throw malformed(`attribute ${a.name}: raw spelling does not match its value`);
    }
    value = a.raw;
  } else value = escapeAttr(a.value, quote);
  if (a.space !== undefined) checkSpace(a.space, 'attribute space', true);
  if (a.eq !== undefined && !/^[ \t\r\n]*=[ \t\r\n]*$/.test(a.eq)) throw malformed('bad attribute "="');
  checkName(a.name, 'attribute');
  out.push(a.space ?? ' ', a.name, a.eq ?? '=', quote, value, quote);
}

function startTag(el: XmlElement, selfClose: boolean, out: string[]): void {
  checkName(el.name, 'element');
  checkSpace(el.openTail, 'start tag whitespace', false);
  out.push('<', el.name);
  const attrs = el.attrs;
  for (let i = 0; i < attrs.length; i++) writeAttr(attrs[i]!, out);
  if (el.openTail !== undefined) out.push(el.openTail);
  out.push(selfClose ? '/>' : '>');
}

/** `<name attrs>` (or `<name attrs/>` when `selfClose`). */
export function writeStartTag(el: XmlElement, selfClose: boolean): string {
  const out: string[] = [];
  startTag(el, selfClose, out);
  return out.join('');
}

function writeNode(n: XmlNode, out: string[]): void {
  switch (n.type) {
    case 'element':
      writeTree(n, out);
      return;
    case 'text':
      if (n.raw !== undefined) {
        if (n.raw.includes('<') || decodeText(n.raw) !== n.text) {
          throw malformed('text: raw spelling does not match its text');
        }
        out.push(n.raw);
      } else out.push(escapeText(n.text));
      return;
    case 'cdata':
      if (n.text.includes(']]>')) throw malformed('a CDATA section cannot contain "]]>"');
      out.push('<![CDATA[', n.text, ']]>');
      return;
    case 'comment':
      if (n.text.includes('-->')) throw malformed('a comment cannot contain "-->"');
      out.push('<!--', n.text, '-->');
      return;
    case 'pi':
      if (!isXmlName(n.target) || n.target.toLowerCase() === 'xml') throw malformed('bad PI target');
      if (n.data.includes('?>') || (n.data.length > 0 && !/^[ \t\r\n]/.test(n.data))) {
        throw malformed('bad processing instruction data');
      }
      out.push('<?', n.target, n.data, '?>');
      return;
    default:
      throw malformed(`unknown node type ${JSON.stringify((n as { type?: unknown }).type)}`);
  }
}

function writeTree(el: XmlElement, out: string[]): void {
  const children = el.children;
  if (children.length === 0 && el.selfClosing !== false) {
    startTag(el, true, out);
    return;
  }
  startTag(el, false, out);
  for (let i = 0; i < children.length; i++) writeNode(children[i]!, out);
  checkSpace(el.closeTail, 'end tag whitespace', false);
  out.push('</', el.name, el.closeTail ?? '', '>');
}

/** The XML text of an element. Built from parts joined once: a flat string encodes fastest. */
export function writeElement(el: XmlElement): string {
  const out: string[] = [];
  writeTree(el, out);
  return out.join('');
}

/** The XML spelling of a list of nodes (e.g. the inside of an XHTML-IM body). */
export function writeNodes(nodes: readonly XmlNode[]): string {
  const out: string[] = [];
  for (const n of nodes) writeNode(n, out);
  return out.join('');
}
