import { CrossTalkError, type CrossTalkErrorOptions } from '@crosstalk/core';

/**
 * Conditions of the shim's base client (`createShim`, the XMPP adapter); one class each, fixed
 * `name` and `code`. A base client's failure to log in fails `createShim`; a failure later ends
 * the shim (the user is logged out of CrossTalk too).
 */

/** The base server could not be reached at all (nothing listens, the name does not resolve). */
export class BaseUnreachableError extends CrossTalkError {
  override readonly name = 'BaseUnreachableError';
  readonly code = 'ERR_BASE_UNREACHABLE';
  constructor(
    /** Where the base client tried to connect, `host:port`. */
    readonly target: string,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`the base server at ${target} could not be reached`, options);
  }
}

/**
 * The base server does not offer encryption, or refused it: the base client never logs in without
 * it (this is the shim for encrypted clients; a plain one can go through a SOCKS gateway).
 */
export class BaseTlsUnavailableError extends CrossTalkError {
  override readonly name = 'BaseTlsUnavailableError';
  readonly code = 'ERR_BASE_TLS_UNAVAILABLE';
}

/** The TLS handshake with the base server failed: most often its certificate did not verify (`cause`). */
export class BaseTlsFailedError extends CrossTalkError {
  override readonly name = 'BaseTlsFailedError';
  readonly code = 'ERR_BASE_TLS_FAILED';
}

/** The base server refused the user's login (a wrong password, an unknown account: `condition`). */
export class BaseLoginFailedError extends CrossTalkError {
  override readonly name = 'BaseLoginFailedError';
  readonly code = 'ERR_BASE_LOGIN_FAILED';
  constructor(
    /** The server's reason, as its protocol names it (SASL's `not-authorized`), when it gave one. */
    readonly condition: string | undefined,
    options: CrossTalkErrorOptions = {},
  ) {
    super(`the base server refused the login${condition ? ` (${condition})` : ''}`, options);
  }
}

/**
 * The connection to the base server ended (the server closed it, a stream error, the network, or
 * something it sent broke the protocol's limits: `cause`). Operations through the base client
 * reject with it from then on.
 */
export class BaseConnectionLostError extends CrossTalkError {
  override readonly name = 'BaseConnectionLostError';
  readonly code = 'ERR_BASE_CONNECTION_LOST';
}

/** The base client cannot do this (an adapter without files, asked to send one to a user of its network). */
export class BaseUnsupportedError extends CrossTalkError {
  override readonly name = 'BaseUnsupportedError';
  readonly code = 'ERR_BASE_UNSUPPORTED';
}
