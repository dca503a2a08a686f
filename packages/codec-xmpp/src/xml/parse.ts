import { isCrossTalkError } from '@crosstalk/core';
import type { XMLParser } from 'fast-xml-parser';
import { createFxpParser, parseWithFxp } from './fxp-parser.js';
import { malformed, parseElementFast } from './lexer.js';
import { StanzaBudget, type XmlLimits } from './limits.js';
import type { XmlElement } from './node.js';

export interface XmlParserOptions extends XmlLimits {
  /**
   * `auto` (default): our fast path for stanzas made only of elements, attributes and text, and
   * fast-xml-parser for the rest (comments, CDATA, processing instructions). `fast-xml-parser`:
   * fast-xml-parser for every stanza. Both give identical trees (tested).
   */
  parser?: 'auto' | 'fast-xml-parser';
}

/** Parses one element at a time, within the caps it was made with. */
export interface XmlParser {
  /**
   * Parses a string that holds exactly one element. Throws `MalformedFrameError`, or one of the
   * `StanzaLimitError`s when the element goes past a cap.
   */
  parseElement(s: string): XmlElement;
}

/** An `XmlParser` with the given caps (depth, attributes, text). */
export function createXmlParser(options: XmlParserOptions = {}): XmlParser {
  const budget = new StanzaBudget(options);
  let fxp: XMLParser | undefined;
  const general = (s: string) => {
    fxp ??= createFxpParser(budget.limits.maxDepth); // built on first use: most streams never need it
    try {
      return parseWithFxp(fxp, s, budget.reset());
    } catch (error) {
      // Only typed errors leave the parser (a library's throw, or a stack overflow on nesting a
      // caller allowed beyond what the call stack holds, is a malformed frame).
      if (isCrossTalkError(error)) throw error;
      throw malformed(`not well-formed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  if (options.parser === 'fast-xml-parser') return { parseElement: general };
  return {
    parseElement(s) {
      if (s.charCodeAt(0) !== 0x3c) throw malformed('a stanza must start with "<"', 0);
      const fast = parseElementFast(s, 0, budget.reset());
      if (fast === undefined) return general(s);
      if (fast.end !== s.length) throw malformed('content after the element', fast.end);
      return fast.node;
    },
  };
}
