import { CrossTalkError, type CrossTalkErrorOptions } from '@crosstalk/core';

/**
 * Conditions of the client API and of its file transfers; one class each, fixed `name` and `code`
 * (see core's errors). A file transfer's errors end that transfer only: its stream closes, the
 * client and its other transfers go on.
 */

// ---------------------------------------------------------------- file transfers

/** A file offer that does not match the canonical model, or that no transfer can follow (`reason` says why). */
export class InvalidFileOfferError extends CrossTalkError {
  override readonly name = 'InvalidFileOfferError';
  readonly code = 'ERR_INVALID_FILE_OFFER';
  constructor(
    /** Why the offer is refused. */
    readonly reason: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`invalid file offer: ${reason}`, options);
  }
}

/** A file larger than the configured limit: refused before a byte of it moves. */
export class FileTooLargeError extends CrossTalkError {
  override readonly name = 'FileTooLargeError';
  readonly code = 'ERR_FILE_TOO_LARGE';
  constructor(
    /** The file's size, bytes. */
    readonly size: number,
    /** The limit, bytes. */
    readonly limit: number,
  ) {
    super(`a file of ${size} bytes exceeds the limit of ${limit}`);
  }
}

/** The sender said or sent another size than the offer named (a lying size). */
export class FileSizeMismatchError extends CrossTalkError {
  override readonly name = 'FileSizeMismatchError';
  readonly code = 'ERR_FILE_SIZE_MISMATCH';
  constructor(
    /** The size the offer named, bytes. */
    readonly expected: number,
    /** What the sender said or sent, bytes. */
    readonly actual: number,
    detail: string,
  ) {
    super(`file size mismatch: the offer names ${expected} bytes, ${detail} ${actual}`);
  }
}

/** A chunk at an offset the receiver did not ask for, or of another length than that offset must have. */
export class ChunkOutOfBoundsError extends CrossTalkError {
  override readonly name = 'ChunkOutOfBoundsError';
  readonly code = 'ERR_CHUNK_OUT_OF_BOUNDS';
  constructor(
    /** Where the chunk says it starts. */
    readonly chunkOffset: number,
    /** Its length, bytes. */
    readonly length: number,
    /** What was expected there. */
    readonly expected: string,
  ) {
    super(`a chunk of ${length} bytes at offset ${chunkOffset}: expected ${expected}`);
  }
}

/** A chunk failed its hash as often as the receiver re-fetches one (`attempts` times). */
export class ChunkCorruptedError extends CrossTalkError {
  override readonly name = 'ChunkCorruptedError';
  readonly code = 'ERR_CHUNK_CORRUPTED';
  constructor(
    /** Where the chunk starts. */
    readonly chunkOffset: number,
    /** How many copies of it failed. */
    readonly attempts: number,
  ) {
    super(`the chunk at offset ${chunkOffset} failed its hash ${attempts} times`);
  }
}

/** The sender sent more bytes than the receiver granted (credit-based flow control). */
export class CreditExceededError extends CrossTalkError {
  override readonly name = 'CreditExceededError';
  readonly code = 'ERR_CREDIT_EXCEEDED';
  constructor(
    /** Bytes granted and not yet used. */
    readonly granted: number,
    /** Bytes the chunk carried. */
    readonly sent: number,
  ) {
    super(`the sender sent ${sent} bytes with ${granted} granted`);
  }
}

/** The whole file's SHA-256 is not the one the offer (or the sender's end of transfer) named. */
export class FileHashMismatchError extends CrossTalkError {
  override readonly name = 'FileHashMismatchError';
  readonly code = 'ERR_FILE_HASH_MISMATCH';
  constructor(
    /** The hash named, lower-case hex. */
    readonly expected: string,
    /** The hash of what was received (and what the sink held before), lower-case hex. */
    readonly actual: string,
  ) {
    super(`file hash mismatch: expected ${expected}, got ${actual}`);
  }
}

/** The peer made no progress for the stall timeout: a receiver that stopped reading, a sender that stopped sending. */
export class TransferStalledError extends CrossTalkError {
  override readonly name = 'TransferStalledError';
  readonly code = 'ERR_TRANSFER_STALLED';
  override readonly isRetryable = true;
  constructor(
    /** What this side was waiting for. */
    readonly waitingFor: string,
    /** For how long, ms. */
    readonly ms: number,
  ) {
    super(`file transfer stalled: no ${waitingFor} for ${ms} ms`);
  }
}

/** The transfer was cancelled on this side (an `AbortSignal`); what the sink holds stays, for a resume. */
export class TransferAbortedError extends CrossTalkError {
  override readonly name = 'TransferAbortedError';
  readonly code = 'ERR_TRANSFER_ABORTED';
  constructor(
    /** The bytes the sink holds now. */
    readonly held: number,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`file transfer aborted with ${held} bytes held`, options);
  }
}

/** The other side ended the transfer: `refusal` is its error code (`ERR_UNKNOWN_FILE_OFFER`, its cancel, ...). */
export class TransferRefusedError extends CrossTalkError {
  override readonly name = 'TransferRefusedError';
  readonly code = 'ERR_TRANSFER_REFUSED';
  constructor(
    /** The peer's error code. */
    readonly refusal: string,
    /** The peer's explanation, as it sent it. */
    readonly detail: string,
  ) {
    super(`the peer ended the file transfer: ${refusal}${detail ? ` (${detail})` : ''}`);
  }
}

/** The stream carrying a transfer closed before the transfer ended; resuming may succeed. */
export class TransferInterruptedError extends CrossTalkError {
  override readonly name = 'TransferInterruptedError';
  readonly code = 'ERR_TRANSFER_INTERRUPTED';
  override readonly isRetryable = true;
}

/** The offer id is unknown to the sender, expired, or offered to someone else. */
export class UnknownFileOfferError extends CrossTalkError {
  override readonly name = 'UnknownFileOfferError';
  readonly code = 'ERR_UNKNOWN_FILE_OFFER';
  constructor(
    /** The offer id asked for. */
    readonly offerId: string,
  ) {
    super(`no file offer ${JSON.stringify(offerId)} for this peer`);
  }
}

/** A transfer asked for a range the file does not have, or with a chunk size or window out of bounds. */
export class InvalidTransferRequestError extends CrossTalkError {
  override readonly name = 'InvalidTransferRequestError';
  readonly code = 'ERR_INVALID_TRANSFER_REQUEST';
}

/** A `FileSink` that cannot take this transfer: a bad `offset`, or held bytes that are not `offset` long. */
export class InvalidSinkError extends CrossTalkError {
  override readonly name = 'InvalidSinkError';
  readonly code = 'ERR_INVALID_SINK';
}

/** The sink's `write` (or `read`) threw: the transfer ends, the sender is told, the error is the `cause`. */
export class SinkFailedError extends CrossTalkError {
  override readonly name = 'SinkFailedError';
  readonly code = 'ERR_SINK_FAILED';
}

/** The file being sent could not be read (removed, shortened, an I/O error): the error is the `cause`. */
export class SourceFailedError extends CrossTalkError {
  override readonly name = 'SourceFailedError';
  readonly code = 'ERR_SOURCE_FAILED';
}

// ---------------------------------------------------------------- the client

/** The client was closed (`close()`): nothing more can be sent or fetched through it. */
export class ClientClosedError extends CrossTalkError {
  override readonly name = 'ClientClosedError';
  readonly code = 'ERR_CLIENT_CLOSED';
  constructor(operation: string) {
    super(`the client is closed: cannot ${operation}`);
  }
}

/** `createClient` options that cannot make a client (`reason` says which and why). */
export class InvalidClientOptionsError extends CrossTalkError {
  override readonly name = 'InvalidClientOptionsError';
  readonly code = 'ERR_INVALID_CLIENT_OPTIONS';
}

/** The directory has never heard of the user: no node serves them now, and none has served them. */
export class UnknownUserError extends CrossTalkError {
  override readonly name = 'UnknownUserError';
  readonly code = 'ERR_UNKNOWN_USER';
  constructor(
    /** The user, as `user@network`. */
    readonly user: string,
  ) {
    super(`no node of the CrossTalk network knows ${user}`);
  }
}

/** The recipient's node is known but could not be reached or refused the event; retrying may succeed. */
export class NoRouteError extends CrossTalkError {
  override readonly name = 'NoRouteError';
  readonly code = 'ERR_NO_ROUTE';
  override readonly isRetryable = true;
}

/** A message over the canonical model's text limit (core `LIMITS.text` characters). */
export class MessageTooLargeError extends CrossTalkError {
  override readonly name = 'MessageTooLargeError';
  readonly code = 'ERR_MESSAGE_TOO_LARGE';
  constructor(
    /** Its length, characters. */
    readonly length: number,
    /** The limit, characters. */
    readonly limit: number,
  ) {
    super(`a message of ${length} characters exceeds the limit of ${limit}`);
  }
}

/**
 * `dialCall` to someone calls cannot reach: no chain of translations carries calls to their node (a
 * user of a protocol without calls, who is told by IM who called), or no SIP exit knows the AOR.
 */
export class NoCallRouteError extends CrossTalkError {
  override readonly name = 'NoCallRouteError';
  readonly code = 'ERR_NO_CALL_ROUTE';
}

// ---------------------------------------------------------------- calls

/** The callee declined the call (SIP 603). */
export class CallDeclinedError extends CrossTalkError {
  override readonly name = 'CallDeclinedError';
  readonly code = 'ERR_CALL_DECLINED';
}

/** The callee is busy (SIP 486). */
export class CallBusyError extends CrossTalkError {
  override readonly name = 'CallBusyError';
  readonly code = 'ERR_CALL_BUSY';
  override readonly isRetryable = true;
}

/** Nobody answered before the ring timeout (the caller's, or the callee's side: SIP 408/480). */
export class CallUnansweredError extends CrossTalkError {
  override readonly name = 'CallUnansweredError';
  readonly code = 'ERR_CALL_UNANSWERED';
  override readonly isRetryable = true;
}

/** The call ended before an answer: cancelled here, or hung up. */
export class CallEndedError extends CrossTalkError {
  override readonly name = 'CallEndedError';
  readonly code = 'ERR_CALL_ENDED';
}

/** A call id this client does not know: a signal for it is refused, and it cannot be answered or declined. */
export class UnknownCallError extends CrossTalkError {
  override readonly name = 'UnknownCallError';
  readonly code = 'ERR_UNKNOWN_CALL';
  constructor(
    /** The call id. */
    readonly callId: string,
  ) {
    super(`no call ${JSON.stringify(callId.slice(0, 64))} is known here`);
  }
}

/** A call signal from a party who may not say it, or that does not fit the call's state (refused). */
export class CallSignalRefusedError extends CrossTalkError {
  override readonly name = 'CallSignalRefusedError';
  readonly code = 'ERR_CALL_SIGNAL_REFUSED';
  constructor(
    /** The signal refused. */
    readonly signal: string,
    /** Why. */
    readonly why: string,
  ) {
    super(`call signal ${signal} refused: ${why}`);
  }
}

/** More calls at once than the client's limit. */
export class TooManyCallsError extends CrossTalkError {
  override readonly name = 'TooManyCallsError';
  readonly code = 'ERR_TOO_MANY_CALLS';
  override readonly isRetryable = true;
  constructor(
    /** Calls under way. */
    readonly calls: number,
  ) {
    super(`${calls} calls are under way (the limit)`);
  }
}

/** More file transfers (or open offers) at once than the client's limit; retrying later may succeed. */
export class TooManyTransfersError extends CrossTalkError {
  override readonly name = 'TooManyTransfersError';
  readonly code = 'ERR_TOO_MANY_TRANSFERS';
  override readonly isRetryable = true;
}

/** An operation cancelled through its `AbortSignal` before it completed (the signal's reason is the `cause`). */
export class OperationAbortedError extends CrossTalkError {
  override readonly name = 'OperationAbortedError';
  readonly code = 'ERR_ABORTED';
}

// ---------------------------------------------------------------- file data channel

/**
 * The receiver could not open the data channel its sender granted (nobody answered at the port,
 * the TLS handshake failed or timed out): the transfer falls back to the file stream itself.
 */
export class DataChannelUnavailableError extends CrossTalkError {
  override readonly name = 'DataChannelUnavailableError';
  readonly code = 'ERR_DATA_CHANNEL_UNAVAILABLE';
  override readonly isRetryable = true;
}

/** A connection to the data channel's port named a PSK identity the listener did not issue, or one already used. */
export class DataChannelUnknownIdentityError extends CrossTalkError {
  override readonly name = 'DataChannelUnknownIdentityError';
  readonly code = 'ERR_DATA_CHANNEL_UNKNOWN_IDENTITY';
}

/** A connection to the data channel's port did not complete its TLS handshake in time. */
export class DataChannelHandshakeTimeoutError extends CrossTalkError {
  override readonly name = 'DataChannelHandshakeTimeoutError';
  readonly code = 'ERR_DATA_CHANNEL_HANDSHAKE_TIMEOUT';
}

/**
 * A connection to the data channel's port failed its TLS handshake: a wrong key, or a version or
 * cipher other than TLS 1.2 with `PSK-AES256-GCM-SHA384`.
 */
export class DataChannelHandshakeError extends CrossTalkError {
  override readonly name = 'DataChannelHandshakeError';
  readonly code = 'ERR_DATA_CHANNEL_HANDSHAKE';
}

/** The receiver did not connect to a data channel granted to it before the grant expired. */
export class DataChannelExpiredError extends CrossTalkError {
  override readonly name = 'DataChannelExpiredError';
  readonly code = 'ERR_DATA_CHANNEL_EXPIRED';
  override readonly isRetryable = true;
}
