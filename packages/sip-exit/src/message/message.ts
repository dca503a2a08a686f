import type { SipHeaders } from './headers.js';

/** A SIP request (RFC 3261 §7.1). */
export interface SipRequest {
  /** Tells requests and responses apart. */
  readonly kind: 'request';
  /** `INVITE`, `REGISTER`, ... (case-sensitive, RFC 3261 §7.1). */
  method: string;
  /** The Request-URI, as written. */
  uri: string;
  /** The header section. */
  headers: SipHeaders;
  /** The body (an SDP offer, ...), exactly Content-Length bytes. */
  body: Uint8Array;
}

/** A SIP response (RFC 3261 §7.2). */
export interface SipResponse {
  /** Tells requests and responses apart. */
  readonly kind: 'response';
  /** The status code, 100 to 699. */
  status: number;
  /** The reason phrase. */
  reason: string;
  /** The header section. */
  headers: SipHeaders;
  /** The body, exactly Content-Length bytes. */
  body: Uint8Array;
}

/** A SIP request or response. */
export type SipMessage = SipRequest | SipResponse;

/** Caps on what the parser reads; every length is checked against them before it is allocated. */
export interface SipLimits {
  /** Largest header section (start line and headers), bytes. */
  maxHeaderBytes: number;
  /** Largest body (the Content-Length a message may state), bytes. */
  maxBodyBytes: number;
  /** Most header lines in one message. */
  maxHeaderCount: number;
}

/**
 * Defaults: a header section of 16 KiB holds the 70 Vias Max-Forwards allows with room to spare;
 * a body of 64 KiB holds any SDP (core's `LIMITS.sdp`).
 */
export const DEFAULT_SIP_LIMITS: SipLimits = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
  maxHeaderCount: 256,
});

/** RFC 3261 §21: the reason phrases this exit writes. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  513: 'Message Too Large',
  603: 'Decline',
};
