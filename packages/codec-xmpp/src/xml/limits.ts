import {
  NameTooLongError,
  NestingTooDeepError,
  TooManyAttributesError,
  TooManyNamespaceDeclarationsError,
  TooManyReferencesError,
} from '../errors/errors.js';
import {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_NAME_LENGTH,
  DEFAULT_MAX_NAMESPACE_DECLARATIONS,
  DEFAULT_MAX_REFERENCES,
  DEFAULT_MAX_STANZA_NAMESPACE_DECLARATIONS,
} from '../protocol.js';

/**
 * The parser's caps (README, "Parser limits"). Parsing is linear in a stanza's size whatever it
 * holds; the caps bound what one stanza may pile up, each past its cap a typed error of its own.
 */
export interface XmlLimits {
  /** Deepest element nesting accepted inside one stanza (the stanza itself is depth 1). Default 128. */
  maxDepth?: number;
  /** Most attributes on one element, namespace declarations included. Default 64. */
  maxAttributes?: number;
  /** Most namespace declarations (`xmlns`, `xmlns:p`) on one element. Default 32. */
  maxNamespaceDeclarations?: number;
  /** Most namespace declarations in one stanza, all its elements together. Default 4096. */
  maxStanzaNamespaceDeclarations?: number;
  /** Most entity and character references in one stanza, text and attribute values together. Default 32768. */
  maxReferences?: number;
  /** Longest element, attribute or processing-instruction name, in characters. Default 256. */
  maxNameLength?: number;
}

export function resolveLimits(options: XmlLimits): Required<XmlLimits> {
  return {
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxAttributes: options.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES,
    maxNamespaceDeclarations: options.maxNamespaceDeclarations ?? DEFAULT_MAX_NAMESPACE_DECLARATIONS,
    maxStanzaNamespaceDeclarations:
      options.maxStanzaNamespaceDeclarations ?? DEFAULT_MAX_STANZA_NAMESPACE_DECLARATIONS,
    maxReferences: options.maxReferences ?? DEFAULT_MAX_REFERENCES,
    maxNameLength: options.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH,
  };
}

/**
 * What one stanza has spent of its per-stanza caps while it is parsed, and the checks of every
 * cap. A parser holds one and resets it per stanza (parsing is synchronous, never re-entered).
 */
export class StanzaBudget {
  readonly limits: Required<XmlLimits>;
  #declarations = 0;
  #references = 0;

  constructor(limits: XmlLimits = {}) {
    this.limits = resolveLimits(limits);
  }

  reset(): this {
    this.#declarations = 0;
    this.#references = 0;
    return this;
  }

  /** An element at `depth` (the stanza is 1) starts at `offset`. */
  depth(depth: number, offset: number): void {
    if (depth > this.limits.maxDepth) throw new NestingTooDeepError(this.limits.maxDepth, { offset });
  }

  /** A name of `length` characters starts at `offset`. */
  name(length: number, offset: number): void {
    if (length > this.limits.maxNameLength) throw new NameTooLongError(this.limits.maxNameLength, { offset });
  }

  /** `element` already has `count` attributes and another starts at `offset`. */
  attribute(element: string, count: number, offset: number): void {
    if (count >= this.limits.maxAttributes) {
      throw new TooManyAttributesError(this.limits.maxAttributes, element, { offset });
    }
  }

  /** A namespace declaration at `offset`, the `count`th on its element. */
  declaration(count: number, offset: number): void {
    if (count > this.limits.maxNamespaceDeclarations) {
      throw new TooManyNamespaceDeclarationsError(this.limits.maxNamespaceDeclarations, 'element', {
        offset,
      });
    }
    if (++this.#declarations > this.limits.maxStanzaNamespaceDeclarations) {
      throw new TooManyNamespaceDeclarationsError(this.limits.maxStanzaNamespaceDeclarations, 'stanza', {
        offset,
      });
    }
  }

  /** An entity or character reference in the construct starting at `offset`. */
  reference(offset: number | undefined): void {
    if (++this.#references > this.limits.maxReferences) {
      throw new TooManyReferencesError(this.limits.maxReferences, offset === undefined ? {} : { offset });
    }
  }
}
