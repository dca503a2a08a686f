import { CrossTalkError, ProtocolError } from '@crosstalk/core';
import type { SipHeaders } from '../message/headers.js';

/** SIP exit conditions; one class each, fixed `name` and `code` (see core's errors). */

/**
 * A SIP message that breaks RFC 3261's grammar (§7, §25) or its rules for a well-formed request
 * (§8.1.1: the mandatory headers, a CSeq method that matches the request's). A request gets a 400
 * when enough of it was read to address a response (`headers`); anything else is dropped.
 */
export class SipSyntaxError extends ProtocolError {
  override readonly name = 'SipSyntaxError';
  readonly code = 'ERR_SIP_SYNTAX';
  readonly protocol = 'sip';
  constructor(
    message: string,
    /** The headers read before the error, when the header section parsed (to answer 400). */
    readonly headers?: SipHeaders,
    /** True when the message's start line was a request line. */
    readonly isRequest = false,
  ) {
    super(message);
  }
}

/** A SIP message (or its header section, or its body) larger than the configured cap: 513 or a closed connection. */
export class SipMessageTooLargeError extends ProtocolError {
  override readonly name = 'SipMessageTooLargeError';
  readonly code = 'ERR_SIP_MESSAGE_TOO_LARGE';
  readonly protocol = 'sip';
  constructor(
    /** What was too large: the header section, the body or the whole message. */
    readonly part: 'headers' | 'body' | 'message',
    /** The size the wire states or that was buffered, bytes. */
    readonly size: number,
    /** The cap, bytes. */
    readonly limit: number,
    /** The headers read before the error, when the header section parsed (to answer 513). */
    readonly headers?: SipHeaders,
  ) {
    super(`sip: ${part} of ${size} bytes exceeds the limit of ${limit}`);
  }
}

/** The body is shorter than the Content-Length says (RFC 3261 §18.3: a request gets 400, a response is dropped). */
export class SipContentLengthError extends ProtocolError {
  override readonly name = 'SipContentLengthError';
  readonly code = 'ERR_SIP_CONTENT_LENGTH';
  readonly protocol = 'sip';
  constructor(
    message: string,
    /** The headers read (to answer 400). */
    readonly headers?: SipHeaders,
    /** True when the message's start line was a request line. */
    readonly isRequest = false,
  ) {
    super(`sip: ${message}`);
  }
}

/** A SIP transaction ended without a final response: Timer B or F fired (RFC 3261 §17.1). */
export class SipTransactionTimeoutError extends CrossTalkError {
  override readonly name = 'SipTransactionTimeoutError';
  readonly code = 'ERR_SIP_TRANSACTION_TIMEOUT';
  override readonly isRetryable = true;
}

/** A SIP message could not be sent: no connection, a refused connection, a closed socket (RFC 3261 §17.1.4). */
export class SipTransportError extends CrossTalkError {
  override readonly name = 'SipTransportError';
  readonly code = 'ERR_SIP_TRANSPORT';
  override readonly isRetryable = true;
}

/** A SIP peer stopped reading: its connection's backlog passed the cap, so only it is closed. */
export class SipSlowConsumerError extends CrossTalkError {
  override readonly name = 'SipSlowConsumerError';
  readonly code = 'ERR_SIP_SLOW_CONSUMER';
}

/** The SIP exit was used after `close()`. */
export class SipExitClosedError extends CrossTalkError {
  override readonly name = 'SipExitClosedError';
  readonly code = 'ERR_SIP_EXIT_CLOSED';
}

/** The SIP exit's configuration is invalid (the message names the field). */
export class SipExitConfigError extends CrossTalkError {
  override readonly name = 'SipExitConfigError';
  readonly code = 'ERR_SIP_EXIT_CONFIG';
}

/** A call to a SIP address of record ended with a SIP failure response (404, 480, 486, 603, ...). */
export class SipCallFailedError extends CrossTalkError {
  override readonly name = 'SipCallFailedError';
  readonly code = 'ERR_SIP_CALL_FAILED';
  constructor(
    /** The final response's status code. */
    readonly status: number,
    /** Its reason phrase. */
    readonly reason: string,
  ) {
    super(`sip call failed: ${status} ${reason}`);
  }
}

/**
 * An outbound target (where an exit sends calls for a domain it exits to) that is not a loopback
 * address and port (`127.0.0.1:5070`, `tcp:[::1]:5070`), or a domain that is not a host name.
 */
export class SipOutboundTargetError extends CrossTalkError {
  override readonly name = 'SipOutboundTargetError';
  readonly code = 'ERR_SIP_OUTBOUND_TARGET';
}
