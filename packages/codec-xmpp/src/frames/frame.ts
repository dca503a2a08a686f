import {
  bytesFromJson,
  bytesToJson,
  type Direction,
  decodeUtf8,
  type FrameCodec,
  MalformedFrameError,
} from '@crosstalk/core';
import { PROTOCOL } from '../protocol.js';
import { isXmlName, malformed, scanComment, scanPi, scanStartTag } from '../xml/lexer.js';
import { StanzaBudget } from '../xml/limits.js';
import type { XmlElement } from '../xml/node.js';
import { createXmlParser, type XmlParserOptions } from '../xml/parse.js';
import { writeElement, writeStartTag } from '../xml/serialize.js';
import { encodeUtf8 } from '../xml/utf8.js';

/**
 * One frame of an XMPP stream, as `StanzaFramer` cuts it. `element` covers every depth-1 element:
 * stanzas (message, presence, iq) and stream-level elements (features, SASL, STARTTLS, errors).
 */
export type XmppFrame =
  /** The XML declaration (`target` "xml") or another processing instruction at stream level. */
  | { type: 'pi'; target: string; data: string }
  /** `<stream:stream ...>`: the stream header, never closed inside the frame (RFC 6120 §4.2). */
  | { type: 'stream-open'; element: XmlElement }
  /** `</stream:stream>` (RFC 6120 §4.4). */
  | { type: 'stream-close'; name: string; closeTail?: string }
  /** Whitespace between frames (keepalives, RFC 6120 §4.6.1). */
  | { type: 'whitespace'; text: string }
  /** A comment at stream level (senders must not, RFC 6120 §11.1; we still read it). */
  | { type: 'comment'; text: string }
  | { type: 'element'; element: XmlElement }
  /** Bytes carried as they are (built by hand or from JSON: e.g. opaque TLS records). */
  | { type: 'raw'; bytes: Uint8Array };

const SPACE = /^[ \t\r\n]+$/;
const STREAM_NAME = /^<(?:[^\s/>:]+:)?stream[\s/>]/;

function isStreamHeaderName(text: string): boolean {
  return STREAM_NAME.test(text);
}

export interface XmppFrameCodec extends FrameCodec<XmppFrame> {
  /** Parses a frame's text (already UTF-8 decoded). */
  decodeText(text: string): XmppFrame;
  /** The frame's XML text (not for `raw` frames). */
  encodeText(frame: XmppFrame): string;
}

/** The XMPP frame codec: stream headers, stanzas and stream-level nodes as `XmppFrame`s. */
export function createFrameCodec(options: XmlParserOptions = {}): XmppFrameCodec {
  const parser = createXmlParser(options);
  // The caps for what the codec reads itself (stream headers, stream-level PIs and end tags).
  const budget = new StanzaBudget(options);

  const decodeText = (text: string): XmppFrame => {
    const c0 = text.charCodeAt(0);
    if (c0 !== 0x3c) {
      if (SPACE.test(text)) return { type: 'whitespace', text };
      throw malformed('a frame must be whitespace or start with "<"', 0);
    }
    const c1 = text.charCodeAt(1);
    if (c1 === 0x3f) {
      const pi = scanPi(text, 0, budget.reset());
      if (pi.end !== text.length) throw malformed('content after a processing instruction', pi.end);
      return { type: 'pi', target: pi.node.target, data: pi.node.data };
    }
    if (c1 === 0x21) {
      if (!text.startsWith('<!--')) throw malformed('"<!" at stream level', 0);
      const comment = scanComment(text, 0);
      if (comment.end !== text.length) throw malformed('content after a comment', comment.end);
      return { type: 'comment', text: comment.node.text };
    }
    if (c1 === 0x2f) {
      const m = /^<\/([^\s>]+)([ \t\r\n]*)>$/.exec(text);
      if (!m || !isXmlName(m[1]!)) throw malformed('bad end tag at stream level', 0);
      budget.name(m[1]!.length, 2);
      return m[2]
        ? { type: 'stream-close', name: m[1]!, closeTail: m[2] }
        : { type: 'stream-close', name: m[1]! };
    }
    // The framer cuts a start tag alone only for a stream header (local name "stream"), so the
    // decoder applies the same rule.
    if (isStreamHeaderName(text)) {
      const tag = scanStartTag(text, 0, budget.reset());
      if (!tag.selfClosing) {
        if (tag.end !== text.length) throw malformed('content after the stream header', tag.end);
        return { type: 'stream-open', element: tag.el };
      }
    }
    return { type: 'element', element: parser.parseElement(text) };
  };

  const encodeText = (frame: XmppFrame): string => {
    switch (frame.type) {
      case 'element':
        return writeElement(frame.element);
      case 'stream-open':
        return writeStartTag(frame.element, false);
      case 'stream-close':
        if (!isXmlName(frame.name)) throw malformed('bad stream close name');
        if (frame.closeTail !== undefined && !/^[ \t\r\n]*$/.test(frame.closeTail)) {
          throw malformed('stream close whitespace must be whitespace');
        }
        return `</${frame.name}${frame.closeTail ?? ''}>`;
      case 'pi':
        if (!isXmlName(frame.target) || frame.data.includes('?>'))
          throw malformed('bad processing instruction');
        if (frame.data.length > 0 && !/^[ \t\r\n]/.test(frame.data))
          throw malformed('bad processing instruction');
        return `<?${frame.target}${frame.data}?>`;
      case 'comment':
        if (frame.text.includes('-->')) throw malformed('a comment cannot contain "-->"');
        return `<!--${frame.text}-->`;
      case 'whitespace':
        if (!SPACE.test(frame.text)) throw malformed('a whitespace frame must be XML whitespace');
        return frame.text;
      default:
        throw malformed(`a ${(frame as { type: string }).type} frame has no XML text`);
    }
  };

  return {
    decode(raw: Uint8Array, _direction: Direction): XmppFrame {
      return decodeText(decodeUtf8(raw, PROTOCOL));
    },
    decodeText,
    encodeText,
    encode(frame: XmppFrame): Uint8Array {
      if (frame.type === 'raw') return frame.bytes;
      return encodeUtf8(encodeText(frame));
    },
    toJson(frame: XmppFrame): unknown {
      return bytesToJson(frame);
    },
    fromJson(json: unknown): XmppFrame {
      const frame = bytesFromJson(json);
      checkFrameShape(frame);
      return frame;
    },
  };
}

// ------------------------------------------------------------------ JSON shape checks

function fail(path: string, what: string): never {
  throw new MalformedFrameError(PROTOCOL, `invalid frame JSON at ${path}: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function str(o: Record<string, unknown>, key: string, path: string, optional = false): void {
  const v = o[key];
  if (v === undefined && optional) return;
  if (typeof v !== 'string') fail(`${path}.${key}`, 'expected a string');
}

function checkNode(node: unknown, path: string, depth: number): void {
  if (depth > 256) fail(path, 'nested too deeply');
  if (!isRecord(node)) fail(path, 'expected an object');
  switch (node.type) {
    case 'element':
      checkElement(node, path, depth);
      return;
    case 'text':
      str(node, 'text', path);
      str(node, 'raw', path, true);
      return;
    case 'cdata':
    case 'comment':
      str(node, 'text', path);
      return;
    case 'pi':
      str(node, 'target', path);
      str(node, 'data', path);
      return;
    default:
      fail(`${path}.type`, 'unknown node type');
  }
}

function checkElement(el: Record<string, unknown>, path: string, depth: number): void {
  str(el, 'name', path);
  for (const k of ['openTail', 'closeTail']) str(el, k, path, true);
  if (el.selfClosing !== undefined && typeof el.selfClosing !== 'boolean')
    fail(`${path}.selfClosing`, 'boolean');
  if (!Array.isArray(el.attrs)) fail(`${path}.attrs`, 'expected an array');
  el.attrs.forEach((a: unknown, i: number) => {
    const p = `${path}.attrs[${i}]`;
    if (!isRecord(a)) fail(p, 'expected an object');
    str(a, 'name', p);
    str(a, 'value', p);
    for (const k of ['raw', 'space', 'eq']) str(a, k, p, true);
    if (a.quote !== undefined && a.quote !== "'" && a.quote !== '"') fail(`${p}.quote`, `expected ' or "`);
  });
  if (!Array.isArray(el.children)) fail(`${path}.children`, 'expected an array');
  for (let i = 0; i < el.children.length; i++) checkNode(el.children[i], `${path}.children[${i}]`, depth + 1);
}

function checkFrameShape(frame: unknown): asserts frame is XmppFrame {
  if (!isRecord(frame)) fail('frame', 'expected an object');
  switch (frame.type) {
    case 'element':
    case 'stream-open':
      if (!isRecord(frame.element) || frame.element.type !== 'element')
        fail('frame.element', 'expected an element');
      checkElement(frame.element, 'frame.element', 0);
      return;
    case 'stream-close':
      str(frame, 'name', 'frame');
      str(frame, 'closeTail', 'frame', true);
      return;
    case 'pi':
      str(frame, 'target', 'frame');
      str(frame, 'data', 'frame');
      return;
    case 'whitespace':
    case 'comment':
      str(frame, 'text', 'frame');
      return;
    case 'raw':
      if (!(frame.bytes instanceof Uint8Array)) fail('frame.bytes', 'expected {"$hex": ...}');
      return;
    default:
      fail('frame.type', 'unknown frame type');
  }
}
