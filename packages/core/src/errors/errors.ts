/**
 * One error class per condition, each with a fixed `name` and `code` so callers can branch
 * on them across ESM/CJS copies (never rely on `instanceof` across package copies: use
 * `isCrossTalkError(e, 'CODE')`). Modelled on js-libp2p's interface errors.
 */

const errorBrand = Symbol.for('@crosstalk/error');

/** A CrossTalk error as JSON (`toJSON`). */
export interface CrossTalkErrorJson {
  /** The error's class name. */
  name: string;
  /** Its machine-readable code. */
  code: string;
  /** What went wrong, for people. */
  message: string;
  /** Where in a byte stream it was found, when it came from the wire. */
  offset?: number;
}

/** Options every CrossTalk error takes. */
export interface CrossTalkErrorOptions {
  /** The error that led to this one. */
  cause?: unknown;
  /** Where in a byte stream the problem was found, when it came from the wire. */
  offset?: number;
}

/**
 * The base of every error this SDK throws: a fixed `name` and `code` per condition, so callers test `code`,
 * not messages or classes.
 */
export abstract class CrossTalkError extends Error {
  /** @internal The brand `isCrossTalkError` tests: an error from another copy of this package counts too. */
  readonly [errorBrand] = true;
  /** The error's class name, fixed per condition (`InvalidAddressError`). */
  declare readonly name: string;
  /** Stable machine-readable code, e.g. `ERR_INVALID_ADDRESS`. */
  abstract readonly code: string;
  /** True when trying the same operation again later may succeed. */
  readonly isRetryable: boolean = false;
  /** Byte offset in the input stream where the problem was detected, if any. */
  offset: number | undefined;

  constructor(message: string, options: CrossTalkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.offset = options.offset;
  }

  /** The error as JSON (what logs and the CLI print). */
  toJSON(): CrossTalkErrorJson {
    return this.offset === undefined
      ? { name: this.name, code: this.code, message: this.message }
      : { name: this.name, code: this.code, message: this.message, offset: this.offset };
  }
}

/** True for any CrossTalk error (optionally of one `code`), whichever copy of this package threw it. */
export function isCrossTalkError(value: unknown, code?: string): value is CrossTalkError {
  if (typeof value !== 'object' || value === null || !(errorBrand in value)) return false;
  return code === undefined || (value as CrossTalkError).code === code;
}

// ---------------------------------------------------------------- addresses and events

/** A string that is not a valid `user@network` address (`input` holds it, the message says why). */
export class InvalidAddressError extends CrossTalkError {
  override readonly name = 'InvalidAddressError';
  readonly code = 'ERR_INVALID_ADDRESS';
  constructor(
    /** The text that was given. */
    readonly input: string,
    /** Why it is not an address. */
    readonly reason: string,
  ) {
    super(`invalid address ${JSON.stringify(input)}: ${reason}`);
  }
}

/** An event that does not match the canonical model (`issues` lists what zod found). */
export class InvalidEventError extends CrossTalkError {
  override readonly name = 'InvalidEventError';
  readonly code = 'ERR_INVALID_EVENT';
  constructor(
    message: string,
    /** What zod found wrong, field by field. */
    readonly issues: readonly { path: readonly PropertyKey[]; message: string }[] = [],
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- wire protocols

/** Base of everything a framer, frame codec or proxy session raises about bytes from the wire. */
export abstract class ProtocolError extends CrossTalkError {
  /** The protocol whose rules were broken (`oscar`, `xmpp`, ...). */
  abstract readonly protocol: string;
}

/** A length field (or a frame being assembled) exceeds the configured cap. Checked before allocating. */
export class FrameTooLargeError extends ProtocolError {
  override readonly name = 'FrameTooLargeError';
  readonly code = 'ERR_FRAME_TOO_LARGE';
  constructor(
    readonly protocol: string,
    /** The frame's size as the wire states it, bytes. */
    readonly size: number,
    /** The cap, bytes. */
    readonly limit: number,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${protocol}: frame of ${size} bytes exceeds the limit of ${limit}`, options);
  }
}

/** More bytes are buffered without forming a frame than `maxBuffered` allows. */
export class BufferOverflowError extends ProtocolError {
  override readonly name = 'BufferOverflowError';
  readonly code = 'ERR_BUFFER_OVERFLOW';
  constructor(
    readonly protocol: string,
    /** The bytes that would have been held. */
    readonly size: number,
    /** The cap, bytes. */
    readonly limit: number,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${protocol}: ${size} bytes buffered without a complete frame (limit ${limit})`, options);
  }
}

/** The bytes do not follow the protocol's framing or syntax. */
export class MalformedFrameError extends ProtocolError {
  override readonly name = 'MalformedFrameError';
  readonly code = 'ERR_MALFORMED_FRAME';
  constructor(
    readonly protocol: string,
    message: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${protocol}: ${message}`, options);
  }
}

/**
 * `error` as a `ProtocolError`: a protocol's own typed error passes through (with `offset` filled
 * in when it has none); anything else (a bug, a library's throw) becomes a `MalformedFrameError`.
 */
export function toProtocolError(error: unknown, protocol: string, offset?: number): ProtocolError {
  if (isCrossTalkError(error) && 'protocol' in error) {
    const typed = error as ProtocolError;
    if (offset !== undefined) typed.offset ??= offset;
    return typed;
  }
  return new MalformedFrameError(protocol, error instanceof Error ? error.message : String(error), {
    cause: error,
    ...(offset === undefined ? {} : { offset }),
  });
}

/** Text on the wire is not valid in the encoding the protocol prescribes (UTF-8 decoded fatally). */
export class InvalidEncodingError extends ProtocolError {
  override readonly name = 'InvalidEncodingError';
  readonly code = 'ERR_INVALID_ENCODING';
  constructor(
    readonly protocol: string,
    message: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${protocol}: ${message}`, options);
  }
}

/** A framer or session was used after it failed or ended; it stays terminal and says why. */
export class StreamClosedError extends ProtocolError {
  override readonly name = 'StreamClosedError';
  readonly code = 'ERR_STREAM_CLOSED';
  constructor(
    readonly protocol: string,
    /** Why the stream was closed. */
    readonly reason: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${protocol}: stream is closed: ${reason}`, options);
  }
}

/** The stream ended in the middle of a frame. */
export class TruncatedStreamError extends ProtocolError {
  override readonly name = 'TruncatedStreamError';
  readonly code = 'ERR_TRUNCATED_STREAM';
  constructor(
    readonly protocol: string,
    /** Bytes of the incomplete frame. */
    readonly pending: number,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`${protocol}: stream ended with ${pending} bytes of an incomplete frame`, options);
  }
}

/** A canonical event cannot be expressed in this protocol (e.g. `call-invite` over YMSG). */
export class UnsupportedEventError extends CrossTalkError {
  override readonly name = 'UnsupportedEventError';
  readonly code = 'ERR_UNSUPPORTED_EVENT';
  constructor(
    /** The protocol that cannot carry it. */
    readonly protocol: string,
    /** The event's kind. */
    readonly kind: string,
    detail?: string,
  ) {
    super(`${protocol} cannot carry a ${kind} event${detail ? `: ${detail}` : ''}`);
  }
}

/** A session was asked to do something its state does not allow (e.g. inject before login). */
export class SessionStateError extends CrossTalkError {
  override readonly name = 'SessionStateError';
  readonly code = 'ERR_SESSION_STATE';
}

// ---------------------------------------------------------------- registries and composition

/** No registered codec handles the protocol asked for. */
export class CodecNotFoundError extends CrossTalkError {
  override readonly name = 'CodecNotFoundError';
  readonly code = 'ERR_CODEC_NOT_FOUND';
  constructor(
    /** The protocol asked for. */
    readonly protocol: string,
    /** The protocols that are registered. */
    readonly available: readonly string[],
  ) {
    super(
      available.length === 0
        ? `no codec for protocol "${protocol}": no codecs are registered`
        : `no codec for protocol "${protocol}"; available: ${available.join(', ')}`,
    );
  }
}

/**
 * A codec that breaks the contract (`defineCodec`: a bad protocol id, no networks, a missing function), or
 * one registered twice.
 */
export class InvalidCodecError extends CrossTalkError {
  override readonly name = 'InvalidCodecError';
  readonly code = 'ERR_INVALID_CODEC';
}

/** A capability the graph refuses: no id, no `from` or `to`, a loop onto its own format, a negative or infinite cost. */
export class InvalidCapabilityError extends CrossTalkError {
  override readonly name = 'InvalidCapabilityError';
  readonly code = 'ERR_INVALID_CAPABILITY';
}

/** No chain of capabilities connects two formats while keeping the required features. */
export class NoTranslationPathError extends CrossTalkError {
  override readonly name = 'NoTranslationPathError';
  readonly code = 'ERR_NO_TRANSLATION_PATH';
  constructor(
    /** The format the chain was to start at. */
    readonly from: string,
    /** The format it was to end at. */
    readonly to: string,
    /** The features every hop had to preserve. */
    readonly required: readonly string[],
  ) {
    super(
      `no translation chain from ${from} to ${to}` +
        (required.length ? ` that keeps ${required.join(', ')}` : ''),
    );
  }
}

// ---------------------------------------------------------------- DHT

/** A DHT key longer than the DHT's `maxKeyBytes`. */
export class DhtKeyTooLargeError extends CrossTalkError {
  override readonly name = 'DhtKeyTooLargeError';
  readonly code = 'ERR_DHT_KEY_TOO_LARGE';
  constructor(
    /** The key's size, UTF-8 bytes. */
    readonly size: number,
    /** The DHT's `maxKeyBytes`. */
    readonly limit: number,
  ) {
    super(`DHT key of ${size} bytes exceeds the limit of ${limit}`);
  }
}

/** A DHT key that is not a non-empty string. */
export class DhtInvalidKeyError extends CrossTalkError {
  override readonly name = 'DhtInvalidKeyError';
  readonly code = 'ERR_DHT_INVALID_KEY';
  constructor() {
    super('DHT keys must be non-empty strings');
  }
}

/** A DHT value larger than the DHT's `maxValueBytes`. */
export class DhtValueTooLargeError extends CrossTalkError {
  override readonly name = 'DhtValueTooLargeError';
  readonly code = 'ERR_DHT_VALUE_TOO_LARGE';
  constructor(
    /** The value's size, bytes. */
    readonly size: number,
    /** The DHT's `maxValueBytes`. */
    readonly limit: number,
  ) {
    super(`DHT value of ${size} bytes exceeds the limit of ${limit}`);
  }
}

/** A DHT key already holds `maxValuesPerKey` values; retry later, when some have expired. */
export class DhtKeyFullError extends CrossTalkError {
  override readonly name = 'DhtKeyFullError';
  readonly code = 'ERR_DHT_KEY_FULL';
  override readonly isRetryable = true;
  constructor(
    /** The DHT's `maxValuesPerKey`. */
    readonly limit: number,
  ) {
    super(`DHT key already holds the maximum of ${limit} values`);
  }
}

/** `remove` named a value that was stored under a different secret (or none). */
/** One publisher (one secret) already holds its share of a key: others keep room to publish. */
export class DhtPublisherQuotaError extends CrossTalkError {
  override readonly name = 'DhtPublisherQuotaError';
  readonly code = 'ERR_DHT_PUBLISHER_QUOTA';
  constructor(
    /** The DHT's `maxValuesPerPublisher`. */
    readonly limit: number,
  ) {
    super(`this publisher already holds the maximum of ${limit} values under this DHT key`);
  }
}

/** A removal with a secret other than the one the value was stored with. */
export class DhtSecretMismatchError extends CrossTalkError {
  override readonly name = 'DhtSecretMismatchError';
  readonly code = 'ERR_DHT_SECRET_MISMATCH';
  constructor() {
    super('the secret does not match the one the value was stored with');
  }
}

/** A put naming a slot but no secret: a slot is its publisher's, and only a secret says who that is. */
export class DhtSlotSecretRequiredError extends CrossTalkError {
  override readonly name = 'DhtSlotSecretRequiredError';
  readonly code = 'ERR_DHT_SLOT_SECRET_REQUIRED';
  constructor() {
    super('a put into a slot needs a secret');
  }
}

/** A time to live that is not a positive number of milliseconds within the DHT's maximum. */
export class InvalidTtlError extends CrossTalkError {
  override readonly name = 'InvalidTtlError';
  readonly code = 'ERR_INVALID_TTL';
  constructor(
    /** The TTL given, ms. */
    readonly ttl: number,
    /** The longest TTL allowed, ms. */
    readonly limit: number,
  ) {
    super(`TTL ${ttl} ms is not in 1..${limit} ms`);
  }
}

/** An operation on a DHT after `close()`. */
export class DhtClosedError extends CrossTalkError {
  override readonly name = 'DhtClosedError';
  readonly code = 'ERR_DHT_CLOSED';
  constructor() {
    super('the DHT has been closed');
  }
}

// ---------------------------------------------------------------- gateway-to-gateway transports

/**
 * A G2G peer did not prove the key it was expected to hold: another key answered the dial, the
 * Noise handshake failed, or a gateway tried to link to itself.
 */
export class G2gAuthError extends CrossTalkError {
  override readonly name = 'G2gAuthError';
  readonly code = 'ERR_G2G_AUTH';
}

/** A G2G peer did not complete its handshake in time (accepted and dialled connections alike). */
export class G2gHandshakeTimeoutError extends CrossTalkError {
  override readonly name = 'G2gHandshakeTimeoutError';
  readonly code = 'ERR_G2G_HANDSHAKE_TIMEOUT';
  constructor(
    /** The deadline that passed, ms. */
    readonly timeoutMs: number,
  ) {
    super(`no G2G handshake within ${timeoutMs} ms`);
  }
}

/** A contact (from a location record) this transport cannot dial: another transport's, or malformed. */
export class G2gContactError extends CrossTalkError {
  override readonly name = 'G2gContactError';
  readonly code = 'ERR_G2G_CONTACT';
}

// ---------------------------------------------------------------- plugins and client API

/** A plugin definition that breaks the contract (its name, its commands). */
export class InvalidPluginError extends CrossTalkError {
  override readonly name = 'InvalidPluginError';
  readonly code = 'ERR_INVALID_PLUGIN';
}

/** A plugin threw or timed out while answering a command (`plugin` names it; the cause is attached). */
export class PluginFailedError extends CrossTalkError {
  override readonly name = 'PluginFailedError';
  readonly code = 'ERR_PLUGIN_FAILED';
  constructor(
    /** The plugin's name. */
    readonly plugin: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`plugin ${plugin} failed`, options);
  }
}

/** A plugin did not answer within the host's deadline (its `signal` was aborted). */
export class PluginTimeoutError extends CrossTalkError {
  override readonly name = 'PluginTimeoutError';
  readonly code = 'ERR_PLUGIN_TIMEOUT';
  override readonly isRetryable = true;
  constructor(
    /** The plugin's name. */
    readonly plugin: string,
    /** The deadline it missed, ms. */
    readonly timeoutMs: number,
  ) {
    super(`plugin ${plugin} did not answer within ${timeoutMs} ms`);
  }
}

/** A plugin's reply is not a reply: no text, not a string, or characters no IM can carry. */
export class InvalidPluginReplyError extends CrossTalkError {
  override readonly name = 'InvalidPluginReplyError';
  readonly code = 'ERR_INVALID_PLUGIN_REPLY';
}

/** A plugin's reply is longer than the host lets one IM be. */
export class PluginReplyTooLongError extends CrossTalkError {
  override readonly name = 'PluginReplyTooLongError';
  readonly code = 'ERR_PLUGIN_REPLY_TOO_LONG';
  constructor(
    /** The plugin's name. */
    readonly plugin: string,
    /** The length of the reply's text (or of its `html`), UTF-16 code units. */
    readonly length: number,
    /** The most the host sends of that part, UTF-16 code units. */
    readonly max: number,
  ) {
    super(`plugin ${plugin} answered ${length} characters; at most ${max} are sent`);
  }
}

/** One sender asked for more plugin answers than the host allows in a while. */
export class PluginRateLimitedError extends CrossTalkError {
  override readonly name = 'PluginRateLimitedError';
  readonly code = 'ERR_PLUGIN_RATE_LIMITED';
  override readonly isRetryable = true;
}

/** A plugin's per-user store would pass its caps (keys, key or value length). */
export class PluginStoreFullError extends CrossTalkError {
  override readonly name = 'PluginStoreFullError';
  readonly code = 'ERR_PLUGIN_STORE_FULL';
}

/** A client operation that needs a logged-in user, before login or after logout. */
export class NotLoggedInError extends CrossTalkError {
  override readonly name = 'NotLoggedInError';
  readonly code = 'ERR_NOT_LOGGED_IN';
}

/** An event or connection could not reach its destination (nobody answered); retrying later may succeed. */
export class DeliveryFailedError extends CrossTalkError {
  override readonly name = 'DeliveryFailedError';
  readonly code = 'ERR_DELIVERY_FAILED';
  override readonly isRetryable = true;
}

// ---------------------------------------------------------------- waiting

/** Nothing matching arrived in a `WaitingInbox` before the wait's deadline (`what` names what was awaited). */
export class WaitTimeoutError extends CrossTalkError {
  override readonly name = 'WaitTimeoutError';
  readonly code = 'ERR_WAIT_TIMEOUT';
  constructor(
    /** What was awaited, as the caller named it (`an im from bob@yahoo`). */
    readonly what: string,
    /** The deadline that passed, ms. */
    readonly timeoutMs: number,
    /** Who waited, when the inbox was named (`alice@localhost (@xmpp/client)`). */
    readonly waiter?: string,
    /** What the inbox held at the deadline, when it was asked to say (for diagnosis). */
    readonly detail?: string,
  ) {
    super(
      `${waiter ? `${waiter}: ` : ''}timed out after ${timeoutMs} ms waiting for ${what}` +
        (detail === undefined ? '' : `; ${detail}`),
    );
  }
}
