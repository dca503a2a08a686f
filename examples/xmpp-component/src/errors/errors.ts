import { isStanzaLimitError } from '@crosstalk/codec-xmpp';
import { CrossTalkError, isCrossTalkError } from '@crosstalk/core';

/**
 * What the component refuses, one class per condition (fixed `name` and `code`, as core's errors),
 * and the XMPP stanza error (RFC 6120 §8.3.3) each becomes in the reply to the sender.
 */

/** The stanza's sender is not a user of one of the server's own user domains the component serves. */
export class SenderNotAllowedError extends CrossTalkError {
  override readonly name = 'SenderNotAllowedError';
  readonly code = 'ERR_SENDER_NOT_ALLOWED';
}

/** The stanza's recipient is not `user%network@<component>` with a valid user of a foreign network served here. */
export class UnknownForeignUserError extends CrossTalkError {
  override readonly name = 'UnknownForeignUserError';
  readonly code = 'ERR_UNKNOWN_FOREIGN_USER';
}

/** The stanza asks for something the component does not offer (a message to the component itself, an iq it does not know). */
export class NoSuchServiceError extends CrossTalkError {
  override readonly name = 'NoSuchServiceError';
  readonly code = 'ERR_NO_SUCH_SERVICE';
}

/**
 * A stanza that always means something (a message with a body, a subscription request or answer)
 * gave no canonical event: what it carries is past the canonical model's limits (core `LIMITS`: a
 * message of more than 64 Ki characters, an id of more than 256).
 */
export class UntranslatableStanzaError extends CrossTalkError {
  override readonly name = 'UntranslatableStanzaError';
  readonly code = 'ERR_UNTRANSLATABLE_STANZA';
}

/** One user has more stanzas waiting to be handled than the component keeps (`maxQueuedPerUser`). */
export class UserBacklogError extends CrossTalkError {
  override readonly name = 'UserBacklogError';
  readonly code = 'ERR_USER_BACKLOG';
  override readonly isRetryable = true;
}

/** The XMPP server refused the component's handshake (XEP-0114 §3: wrong secret, or an unknown component domain). */
export class ComponentAuthError extends CrossTalkError {
  override readonly name = 'ComponentAuthError';
  readonly code = 'ERR_COMPONENT_AUTH';
}

/** The component stream could not be opened (the server is unreachable or closed the stream). */
export class ComponentConnectError extends CrossTalkError {
  override readonly name = 'ComponentConnectError';
  readonly code = 'ERR_COMPONENT_CONNECT';
  override readonly isRetryable = true;
}

/** An RFC 6120 §8.3.2 error type and §8.3.3 defined condition. */
export interface StanzaErrorCondition {
  type: 'auth' | 'cancel' | 'modify' | 'wait';
  condition: string;
}

const CONDITIONS: Readonly<Record<string, StanzaErrorCondition>> = {
  ERR_SENDER_NOT_ALLOWED: { type: 'auth', condition: 'forbidden' },
  ERR_SPOOFED_SENDER: { type: 'auth', condition: 'forbidden' },
  ERR_UNKNOWN_FOREIGN_USER: { type: 'cancel', condition: 'item-not-found' },
  ERR_NO_SUCH_SERVICE: { type: 'cancel', condition: 'service-unavailable' },
  ERR_USER_BACKLOG: { type: 'wait', condition: 'resource-constraint' },
  // A stanza past codec-xmpp's caps (size, depth, attributes, ...): the service's policy (§8.3.3.12).
  ERR_FRAME_TOO_LARGE: { type: 'modify', condition: 'policy-violation' },
  ERR_MALFORMED_FRAME: { type: 'modify', condition: 'bad-request' },
  ERR_INVALID_ENCODING: { type: 'modify', condition: 'bad-request' },
  // An event past core's LIMITS (a 64 Ki-character message, a 1 Ki-character name).
  ERR_INVALID_EVENT: { type: 'modify', condition: 'not-acceptable' },
  ERR_UNTRANSLATABLE_STANZA: { type: 'modify', condition: 'not-acceptable' },
  // RFC 6121 §8.5.2.1.1: a message to a contact who is not online, with no offline storage.
  ERR_USER_OFFLINE: { type: 'cancel', condition: 'service-unavailable' },
  ERR_TOO_MANY_PENDING: { type: 'wait', condition: 'resource-constraint' },
  // The user is attached to the node another way already (a SOCKS-mode login of the same address).
  ERR_ALREADY_ATTACHED: { type: 'cancel', condition: 'conflict' },
  ERR_DELIVERY_FAILED: { type: 'wait', condition: 'remote-server-timeout' },
  ERR_G2G_AUTH: { type: 'cancel', condition: 'remote-server-not-found' },
  ERR_G2G_CONTACT: { type: 'cancel', condition: 'remote-server-not-found' },
  ERR_G2G_HANDSHAKE_TIMEOUT: { type: 'wait', condition: 'remote-server-timeout' },
  // The recipient's gateway did not answer its last dial; it is dialled again after a short hold-down.
  ERR_G2G_PEER_UNREACHABLE: { type: 'wait', condition: 'remote-server-timeout' },
};

/** The stanza error a refusal or a failed send becomes. */
export function stanzaErrorFor(error: unknown): StanzaErrorCondition {
  if (!isCrossTalkError(error)) return { type: 'cancel', condition: 'internal-server-error' };
  const known = CONDITIONS[error.code];
  if (known) return known;
  // codec-xmpp's parser caps (depth, attributes, namespace declarations, references, names).
  if (isStanzaLimitError(error)) return { type: 'modify', condition: 'policy-violation' };
  return error.isRetryable
    ? { type: 'wait', condition: 'remote-server-timeout' }
    : { type: 'cancel', condition: 'internal-server-error' };
}
