import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { NestingTooDeepError } from '../errors/errors.js';
import { malformed, scanEndTag, scanMisc, scanStartTag } from './lexer.js';
import type { StanzaBudget } from './limits.js';
import type { XmlElement } from './node.js';

/**
 * The general parser: fast-xml-parser decides the structure (which elements exist, how they nest,
 * where each starts and ends) and our shared scanners read each construct's exact spelling from
 * the source at the positions it reports, since fast-xml-parser by design keeps neither quote
 * styles nor entity spellings nor `<a/>` versus `<a></a>`.
 *
 * Every option is set explicitly (STYLE.md): values stay strings (`parseTagValue: false` would
 * otherwise turn a body "007" into 7), whitespace is kept, entities are left alone (we resolve the
 * five XML ones ourselves and refuse any other, RFC 6120 §11.1), and metadata gives positions.
 */
export function createFxpParser(maxDepth: number): XMLParser {
  return new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    attributesGroupName: false,
    textNodeName: '#text',
    cdataPropName: '#cdata',
    commentPropName: '#comment',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    allowBooleanAttributes: false,
    removeNSPrefix: false,
    ignoreDeclaration: false,
    ignorePiTags: false,
    alwaysCreateTextNode: false,
    unpairedTags: [],
    stopNodes: [],
    isArray: () => false,
    transformTagName: false,
    transformAttributeName: false,
    captureMetaData: true,
    maxNestedTags: maxDepth,
    strictReservedNames: true,
    // We pass no callbacks: a jPath string would only be built per element, O(depth) each time.
    jPath: false,
  });
}

const META = XMLParser.getMetaDataSymbol() as unknown as typeof metaKey;
declare const metaKey: unique symbol;

type FxpNode = Record<string, unknown> & { [META]?: { startIndex: number; endIndex?: number } };

function nodeName(node: FxpNode): string | undefined {
  for (const key in node) if (key !== ':@') return key;
  return undefined;
}

function build(
  s: string,
  node: FxpNode,
  depth: number,
  budget: StanzaBudget,
): { el: XmlElement; end: number } {
  const meta = node[META];
  const name = nodeName(node);
  if (!meta || meta.endIndex === undefined || name === undefined) {
    throw malformed('fast-xml-parser reported an element without a position');
  }
  budget.depth(depth, meta.startIndex);
  const tag = scanStartTag(s, meta.startIndex, budget);
  const el = tag.el;
  if (el.name !== name) throw malformed(`fast-xml-parser and the source disagree at <${el.name}>`);
  if (tag.selfClosing) return { el, end: tag.end };
  let at = tag.end;
  const children = (node[name] as FxpNode[] | undefined) ?? [];
  for (const child of children) {
    const childName = nodeName(child);
    if (childName === undefined || childName.startsWith('#') || childName.startsWith('?')) continue;
    const start = child[META]?.startIndex;
    if (start === undefined || start < at) throw malformed('fast-xml-parser reported elements out of order');
    scanMisc(s, at, start, el.children, budget);
    const built = build(s, child, depth + 1, budget);
    el.children.push(built.el);
    at = built.end;
  }
  const close = s.lastIndexOf('</', meta.endIndex - 1);
  if (close < at) throw malformed(`no end tag for <${el.name}>`);
  scanMisc(s, at, close, el.children, budget);
  const end = scanEndTag(s, close, el);
  if (end !== meta.endIndex) throw malformed(`fast-xml-parser and the source disagree at </${el.name}>`);
  if (el.children.length === 0) el.selfClosing = false;
  return { el, end };
}

// What fast-xml-parser throws past `maxNestedTags` (OrderedObjParser.js): our depth cap, reached first.
const FXP_TOO_DEEP = 'Maximum nested tags exceeded';

/**
 * Parses one whole element (a stanza) with fast-xml-parser; the string must hold nothing else.
 * `budget` (reset by the caller) carries the caps; fast-xml-parser's own nesting cap is ours.
 */
export function parseWithFxp(parser: XMLParser, s: string, budget: StanzaBudget): XmlElement {
  // fast-xml-parser's parser is lenient by design (it drops `<a b=c/>`'s attribute, accepts
  // `<a></b>`); its validator is not, so it runs first.
  const valid = XMLValidator.validate(s, { allowBooleanAttributes: false, unpairedTags: [] });
  if (valid !== true) throw malformed(`not well-formed: ${valid.err.msg}`);
  let tree: FxpNode[];
  try {
    tree = parser.parse(s) as FxpNode[];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message === FXP_TOO_DEEP) throw new NestingTooDeepError(budget.limits.maxDepth);
    throw malformed(`not well-formed: ${message}`);
  }
  const roots = tree.filter((n) => {
    const name = nodeName(n);
    return name !== undefined && !name.startsWith('#') && !name.startsWith('?');
  });
  if (roots.length !== 1 || tree.length !== 1) throw malformed('a frame must hold exactly one element');
  const { el, end } = build(s, roots[0]!, 1, budget);
  if (end !== s.length) throw malformed('content after the element');
  return el;
}
