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

function writeAttr(a: XmlAttribute): string {
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
  if (!isXmlName(a.name)) throw malformed(`bad attribute name ${JSON.stringify(a.name)}`);
  return `${a.space ?? ' '}${a.name}${a.eq ?? '='}${quote}${value}${quote}`;
}

/** `<name attrs>` (or `<name attrs/>` when `selfClose`). */
export function writeStartTag(el: XmlElement, selfClose: boolean): string {
  if (!isXmlName(el.name)) throw malformed(`bad element name ${JSON.stringify(el.name)}`);
  checkSpace(el.openTail, 'start tag whitespace', false);
  let out = `<${el.name}`;
  for (const a of el.attrs) out += writeAttr(a);
  return `${out}${el.openTail ?? ''}${selfClose ? '/>' : '>'}`;
}

function writeNode(n: XmlNode): string {
  switch (n.type) {
    case 'element':
      return writeElement(n);
    case 'text':
      if (n.raw !== undefined) {
        if (n.raw.includes('<') || decodeText(n.raw) !== n.text) {
          throw malformed('text: raw spelling does not match its text');
        }
        return n.raw;
      }
      return escapeText(n.text);
    case 'cdata':
      if (n.text.includes(']]>')) throw malformed('a CDATA section cannot contain "]]>"');
      return `<![CDATA[${n.text}]]>`;
    case 'comment':
      if (n.text.includes('-->')) throw malformed('a comment cannot contain "-->"');
      return `<!--${n.text}-->`;
    case 'pi':
      if (!isXmlName(n.target) || n.target.toLowerCase() === 'xml') throw malformed('bad PI target');
      if (n.data.includes('?>') || (n.data.length > 0 && !/^[ \t\r\n]/.test(n.data))) {
        throw malformed('bad processing instruction data');
      }
      return `<?${n.target}${n.data}?>`;
    default:
      throw malformed(`unknown node type ${JSON.stringify((n as { type?: unknown }).type)}`);
  }
}

export function writeElement(el: XmlElement): string {
  const children = el.children;
  if (children.length === 0 && el.selfClosing !== false) return writeStartTag(el, true);
  let out = writeStartTag(el, false);
  for (let i = 0; i < children.length; i++) out += writeNode(children[i]!);
  checkSpace(el.closeTail, 'end tag whitespace', false);
  return `${out}</${el.name}${el.closeTail ?? ''}>`;
}

/** The XML spelling of a list of nodes (e.g. the inside of an XHTML-IM body). */
export function writeNodes(nodes: readonly XmlNode[]): string {
  let out = '';
  for (const n of nodes) out += writeNode(n);
  return out;
}
