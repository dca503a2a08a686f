import { type CrossTalkErrorOptions, isCrossTalkError, ProtocolError } from '@crosstalk/core';
import { PROTOCOL } from '../protocol.js';

/**
 * A stanza past one of the parser's caps (README, "Parser limits"): one class per cap, each with
 * a fixed `name` and `code` (core's convention) and the `limit` in force. Unlike a stanza that is
 * merely not well-formed, which a proxy session relays for the server to answer, a stanza over a
 * cap ends its connection: no real client comes near these caps.
 */
export abstract class StanzaLimitError extends ProtocolError {
  readonly protocol = PROTOCOL;
  constructor(
    readonly limit: number,
    message: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${PROTOCOL}: ${message}`, options);
  }
}

/** Elements nested deeper than `maxDepth` inside one stanza. */
export class NestingTooDeepError extends StanzaLimitError {
  override readonly name = 'NestingTooDeepError';
  readonly code = 'ERR_NESTING_TOO_DEEP';
  constructor(limit: number, options: CrossTalkErrorOptions = {}) {
    super(limit, `elements nested deeper than ${limit}`, options);
  }
}

/** An element with more than `maxAttributes` attributes. */
export class TooManyAttributesError extends StanzaLimitError {
  override readonly name = 'TooManyAttributesError';
  readonly code = 'ERR_TOO_MANY_ATTRIBUTES';
  constructor(
    limit: number,
    readonly element: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(limit, `<${element.slice(0, 64)}> has more than ${limit} attributes`, options);
  }
}

/**
 * More namespace declarations than `maxNamespaceDeclarations` on one element (`per: 'element'`)
 * or than `maxStanzaNamespaceDeclarations` in one stanza (`per: 'stanza'`).
 */
export class TooManyNamespaceDeclarationsError extends StanzaLimitError {
  override readonly name = 'TooManyNamespaceDeclarationsError';
  readonly code = 'ERR_TOO_MANY_NAMESPACE_DECLARATIONS';
  constructor(
    limit: number,
    readonly per: 'element' | 'stanza',
    options: CrossTalkErrorOptions = {},
  ) {
    super(limit, `more than ${limit} namespace declarations in one ${per}`, options);
  }
}

/** More entity and character references than `maxReferences` in one stanza. */
export class TooManyReferencesError extends StanzaLimitError {
  override readonly name = 'TooManyReferencesError';
  readonly code = 'ERR_TOO_MANY_REFERENCES';
  constructor(limit: number, options: CrossTalkErrorOptions = {}) {
    super(limit, `more than ${limit} entity and character references in one stanza`, options);
  }
}

/** An element, attribute or processing-instruction name longer than `maxNameLength` characters. */
export class NameTooLongError extends StanzaLimitError {
  override readonly name = 'NameTooLongError';
  readonly code = 'ERR_NAME_TOO_LONG';
  constructor(limit: number, options: CrossTalkErrorOptions = {}) {
    super(limit, `a name longer than ${limit} characters`, options);
  }
}

const LIMIT_CODES: ReadonlySet<string> = new Set([
  'ERR_NESTING_TOO_DEEP',
  'ERR_TOO_MANY_ATTRIBUTES',
  'ERR_TOO_MANY_NAMESPACE_DECLARATIONS',
  'ERR_TOO_MANY_REFERENCES',
  'ERR_NAME_TOO_LONG',
]);

/** True for any of the errors above, whichever copy of this package threw it (by `code`). */
export function isStanzaLimitError(value: unknown): value is StanzaLimitError {
  return isCrossTalkError(value) && LIMIT_CODES.has(value.code);
}

/** The client refused an in-band bytestream the gateway opened to it, or one of its blocks (XEP-0047 §2.2, §2.3). */
export class IbbRefusedError extends ProtocolError {
  override readonly name = 'IbbRefusedError';
  readonly code = 'ERR_IBB_REFUSED';
  readonly protocol = PROTOCOL;
  constructor(
    /** The stanza error's condition (RFC 6120 §8.3.3), e.g. `not-acceptable`. */
    readonly condition: string,
    /** What was refused: `open` or `data`. */
    readonly refused: 'open' | 'data',
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${PROTOCOL}: the client refused the bytestream's ${refused} (${condition})`, options);
  }
}

/** The client wants blocks smaller than the smallest the gateway sends (XEP-0047 §2.2, resource-constraint). */
export class IbbBlockSizeError extends ProtocolError {
  override readonly name = 'IbbBlockSizeError';
  readonly code = 'ERR_IBB_BLOCK_SIZE';
  readonly protocol = PROTOCOL;
  constructor(
    /** The smallest block size the gateway offers. */
    readonly minimum: number,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${PROTOCOL}: the client refused blocks of ${minimum} bytes, the smallest offered`, options);
  }
}

/** The client closed an in-band bytestream before its last block (XEP-0047 §2.4). */
export class IbbClosedError extends ProtocolError {
  override readonly name = 'IbbClosedError';
  readonly code = 'ERR_IBB_CLOSED';
  readonly protocol = PROTOCOL;
  constructor(
    /** Bytes sent before the close. */
    readonly sent: number,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${PROTOCOL}: the client closed the bytestream after ${sent} bytes`, options);
  }
}

/** The client sent something on a bytestream the gateway opened that XEP-0047 does not let it send. */
export class IbbProtocolError extends ProtocolError {
  override readonly name = 'IbbProtocolError';
  readonly code = 'ERR_IBB_PROTOCOL';
  readonly protocol = PROTOCOL;
  constructor(message: string, options: CrossTalkErrorOptions = {}) {
    super(`${PROTOCOL}: ${message}`, options);
  }
}
