import type { XMLParser } from 'fast-xml-parser';
import { DEFAULT_MAX_DEPTH } from '../protocol.js';
import { createFxpParser, parseWithFxp } from './fxp-parser.js';
import { malformed, parseElementFast } from './lexer.js';
import type { XmlElement } from './node.js';

export interface XmlParserOptions {
  /**
   * `auto` (default): our fast path for stanzas made only of elements, attributes and text, and
   * fast-xml-parser for the rest (comments, CDATA, processing instructions). `fast-xml-parser`:
   * fast-xml-parser for every stanza. Both give identical trees (tested).
   */
  parser?: 'auto' | 'fast-xml-parser';
  /** Deepest element nesting accepted inside one stanza. */
  maxDepth?: number;
}

export interface XmlParser {
  /** Parses a string that holds exactly one element. Throws `MalformedFrameError`. */
  parseElement(s: string): XmlElement;
}

export function createXmlParser(options: XmlParserOptions = {}): XmlParser {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  let fxp: XMLParser | undefined;
  const general = (s: string) => {
    fxp ??= createFxpParser(maxDepth); // built on first use: most streams never need it
    return parseWithFxp(fxp, s, maxDepth);
  };
  if (options.parser === 'fast-xml-parser') return { parseElement: general };
  return {
    parseElement(s) {
      if (s.charCodeAt(0) !== 0x3c) throw malformed('a stanza must start with "<"', 0);
      const fast = parseElementFast(s, 0, maxDepth);
      if (fast === undefined) return general(s);
      if (fast.end !== s.length) throw malformed('content after the element', fast.end);
      return fast.node;
    },
  };
}
