import { CrossTalkError, ProtocolError } from '@crosstalk/core';

// The transport's errors live in core (every G2G transport raises them); re-exported for the
// gateway's users, who import them from here as before.
export { G2gAuthError, G2gContactError, G2gHandshakeTimeoutError } from '@crosstalk/core';

/** Gateway-specific conditions; one class each, fixed `name` and `code` (see core's errors). */

/** A SOCKS4/4a request that breaks RFC-less but well-known SOCKS4 framing (NEC's SOCKS4 / SOCKS4a docs). */
export class SocksProtocolError extends ProtocolError {
  override readonly name = 'SocksProtocolError';
  readonly code = 'ERR_SOCKS_PROTOCOL';
  readonly protocol = 'socks4';
}

/** The client asked for a destination the gateway's policy does not allow. */
export class UpstreamBlockedError extends CrossTalkError {
  override readonly name = 'UpstreamBlockedError';
  readonly code = 'ERR_UPSTREAM_BLOCKED';
  constructor(
    /** The destination asked for. */
    readonly host: string,
    /** Its port. */
    readonly port: number,
  ) {
    super(`destination ${host}:${port} is not allowed by the gateway's upstream policy`);
  }
}

/** The destination a SOCKS client asked for did not answer in time or refused the connection. */
export class UpstreamUnreachableError extends CrossTalkError {
  override readonly name = 'UpstreamUnreachableError';
  readonly code = 'ERR_UPSTREAM_UNREACHABLE';
  override readonly isRetryable = true;
}

/**
 * A gateway whose last dial failed is not dialled again for a while (`G2gNodeOptions.dialHoldDown`):
 * sends to it fail at once with this, the dial's own failure as `cause`, rather than each waiting
 * out a dial of its own.
 */
export class G2gPeerUnreachableError extends CrossTalkError {
  override readonly name = 'G2gPeerUnreachableError';
  readonly code = 'ERR_G2G_PEER_UNREACHABLE';
  override readonly isRetryable = true;
  constructor(
    /** The peer's id (its public key, hex). */
    readonly peer: string,
    /** ms until it is dialled again. */
    readonly retryIn: number,
    cause: unknown,
  ) {
    super(
      `gateway ${peer.slice(0, 12)}… did not answer its last dial; dialled again in ${retryIn} ms (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
  }
}

/** A peer that stops reading: its backlog passed the cap, so only its connection is closed. */
export class SlowConsumerError extends CrossTalkError {
  override readonly name = 'SlowConsumerError';
  readonly code = 'ERR_SLOW_CONSUMER';
  constructor(
    /** Bytes written and not yet taken by the peer. */
    readonly backlog: number,
  ) {
    super(`peer stopped reading: ${backlog} bytes waiting`);
  }
}

/** A client stopped acknowledging the blocks of a file pushed to it (`GatewayOptions.files`). */
export class FilePushStalledError extends CrossTalkError {
  override readonly name = 'FilePushStalledError';
  readonly code = 'ERR_FILE_PUSH_STALLED';
  constructor(
    /** ms waited for the client's answer. */
    readonly waited: number,
  ) {
    super(`the client answered no block of the file for ${waited} ms`);
  }
}

export class G2gProtocolError extends ProtocolError {
  override readonly name = 'G2gProtocolError';
  readonly code = 'ERR_G2G_PROTOCOL';
  readonly protocol = 'g2g';
}

/** An event arrived over a link that the directory does not name for its sender (anti-spoofing). */
export class SpoofedEventError extends CrossTalkError {
  override readonly name = 'SpoofedEventError';
  readonly code = 'ERR_SPOOFED_EVENT';
}

/**
 * A verified user's client named someone else as the sender (YMSG key 1, an XMPP `from`): the
 * engine stamps the connection's verified user on everything it sends, and refuses a mismatch.
 */
export class SpoofedSenderError extends CrossTalkError {
  override readonly name = 'SpoofedSenderError';
  readonly code = 'ERR_SPOOFED_SENDER';
}

/** A directory record whose signature does not verify, or that names another publisher. */
export class InvalidRecordError extends CrossTalkError {
  override readonly name = 'InvalidRecordError';
  readonly code = 'ERR_INVALID_RECORD';
}

/** A directory record dated further ahead than the clock-skew limit (it would win "newest" for good). */
export class FutureRecordError extends CrossTalkError {
  override readonly name = 'FutureRecordError';
  readonly code = 'ERR_RECORD_FROM_FUTURE';
}

/**
 * A well-signed directory record from a gateway that may not say it (docs/ARCHITECTURE.md, "Who
 * may say what"): presence not from the user's location holder, a pending request or answer not
 * from its sender's gateway, a publisher outside the trust list.
 */
export class UnauthorisedRecordError extends CrossTalkError {
  override readonly name = 'UnauthorisedRecordError';
  readonly code = 'ERR_UNAUTHORISED_RECORD';
}

/**
 * The recipient is not online at any gateway (or not at the one the directory named); retrying later may
 * succeed.
 */
export class UserOfflineError extends CrossTalkError {
  override readonly name = 'UserOfflineError';
  readonly code = 'ERR_USER_OFFLINE';
  override readonly isRetryable = true;
}

/** A user already has as many buddy requests held for them as the directory keeps. */
export class TooManyPendingRequestsError extends CrossTalkError {
  override readonly name = 'TooManyPendingRequestsError';
  readonly code = 'ERR_TOO_MANY_PENDING';
}

/** Gateway options or a config file that cannot be used; the message names the field. */
export class InvalidConfigError extends CrossTalkError {
  override readonly name = 'InvalidConfigError';
  readonly code = 'ERR_INVALID_CONFIG';
}

/** A client connected through the gateway to one of the gateway's own listeners (a proxy loop). */
export class ProxyLoopError extends CrossTalkError {
  override readonly name = 'ProxyLoopError';
  readonly code = 'ERR_PROXY_LOOP';
  constructor(
    /** The destination asked for. */
    readonly host: string,
    /** Its port: one of the gateway's own listeners. */
    readonly port: number,
  ) {
    super(`destination ${host}:${port} is this gateway's own listener`);
  }
}

/** A SOCKS client did not complete its request in time (idle, or a slowloris sending a byte at a time). */
export class SocksTimeoutError extends CrossTalkError {
  override readonly name = 'SocksTimeoutError';
  readonly code = 'ERR_SOCKS_TIMEOUT';
  constructor(
    /** The deadline that passed, ms. */
    readonly timeoutMs: number,
  ) {
    super(`no complete SOCKS request within ${timeoutMs} ms`);
  }
}

/** A listener already holds as many connections (of the kind it caps) as it allows. */
export class TooManyConnectionsError extends CrossTalkError {
  override readonly name = 'TooManyConnectionsError';
  readonly code = 'ERR_TOO_MANY_CONNECTIONS';
  constructor(
    /** The listener (`socks`, `g2g`). */
    readonly listener: string,
    /** Its cap. */
    readonly limit: number,
  ) {
    super(`the ${listener} listener is full (${limit} connections)`);
  }
}

/** One source address already holds as many connections (of the kind capped) as it may. */
export class TooManyFromSourceError extends CrossTalkError {
  override readonly name = 'TooManyFromSourceError';
  readonly code = 'ERR_TOO_MANY_FROM_SOURCE';
  constructor(
    /** The listener (`socks`, `g2g`). */
    readonly listener: string,
    /** The source address. */
    readonly source: string,
    /** The cap per source. */
    readonly limit: number,
  ) {
    super(`${source} already holds ${limit} connections to the ${listener} listener`);
  }
}

/** The hard-state file cannot be used (not JSON, wrong shape); `path` names it. */
export class InvalidStateFileError extends CrossTalkError {
  override readonly name = 'InvalidStateFileError';
  readonly code = 'ERR_INVALID_STATE_FILE';
  constructor(
    /** The state file. */
    readonly path: string,
    reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(`state file ${path}: ${reason}`, options);
  }
}

/** The gateway's key (in the state file named by `source`) is not a usable ed25519 private key. */
export class InvalidIdentityKeyError extends CrossTalkError {
  override readonly name = 'InvalidIdentityKeyError';
  readonly code = 'ERR_INVALID_IDENTITY_KEY';
  constructor(
    /** Where the key came from (the state file). */
    readonly source: string,
    reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(`the gateway key in ${source} is unusable: ${reason}`, options);
  }
}

// ---------------------------------------------------------------- capability routing

/** A routed event's envelope that cannot be read: too short, a header too long, not JSON, a field out of bounds. */
export class InvalidEnvelopeError extends CrossTalkError {
  override readonly name = 'InvalidEnvelopeError';
  readonly code = 'ERR_INVALID_ENVELOPE';
}

/**
 * A routed event whose origin signature does not verify, or whose payload is not the event the
 * origin signed (another sender, recipient or kind).
 */
export class ForgedEnvelopeError extends CrossTalkError {
  override readonly name = 'ForgedEnvelopeError';
  readonly code = 'ERR_FORGED_ENVELOPE';
}

/** A routed event signed too long ago (or dated ahead of the clock-skew limit): a replay, or a clock far off. */
export class StaleEnvelopeError extends CrossTalkError {
  override readonly name = 'StaleEnvelopeError';
  readonly code = 'ERR_STALE_ENVELOPE';
}

/** A routed event reached a gateway that is not its chain's next step, or that does not perform that step. */
export class NotNextHopError extends CrossTalkError {
  override readonly name = 'NotNextHopError';
  readonly code = 'ERR_NOT_NEXT_HOP';
}

/** A routed event arrived with no transfers left (its hop limit ran out), or with more than its signed limit. */
export class HopLimitError extends CrossTalkError {
  override readonly name = 'HopLimitError';
  readonly code = 'ERR_HOP_LIMIT';
}

/** A routed event came over a link from a gateway other than its chain's previous step. */
export class WrongPreviousHopError extends CrossTalkError {
  override readonly name = 'WrongPreviousHopError';
  readonly code = 'ERR_WRONG_PREVIOUS_HOP';
}

/** A routed event whose chain revisits a format or comes back to a gateway. */
export class RouteLoopError extends CrossTalkError {
  override readonly name = 'RouteLoopError';
  readonly code = 'ERR_ROUTE_LOOP';
}

/** No gateway advertises a chain to the recipient's network (or to the recipient's gateway) now. */
export class NoRouteError extends CrossTalkError {
  override readonly name = 'NoRouteError';
  readonly code = 'ERR_NO_ROUTE';
  constructor(
    /** The network that cannot be reached. */
    readonly network: string,
    /** Why, for people. */
    readonly reason: string,
  ) {
    super(`no route to ${network}: ${reason}`);
  }
  override readonly isRetryable = true;
}

/**
 * A way in attached a user who is attached already (`CrossTalkNode.attach`) without both
 * attachments being `shared` (the connections of one SOCKS login are): the first stays.
 */
export class AlreadyAttachedError extends CrossTalkError {
  override readonly name = 'AlreadyAttachedError';
  readonly code = 'ERR_ALREADY_ATTACHED';
}

/**
 * A worker of a `--workers N` host could not start (its own words in the message: a port taken,
 * a bad key) or ended before it was ready; the host does not start.
 */
export class WorkerStartFailedError extends CrossTalkError {
  override readonly name = 'WorkerStartFailedError';
  readonly code = 'ERR_WORKER_START_FAILED';
  constructor(
    /** The worker's index. */
    readonly worker: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An exit (a node's way out to a foreign network, `exit:<name>`) refused a routed event: its
 * recipient is on a network the exit does not exit to, the event is of a kind the exit does not
 * carry, or the chain does not end at the exit.
 */
export class ExitRefusedError extends CrossTalkError {
  override readonly name = 'ExitRefusedError';
  readonly code = 'ERR_EXIT_REFUSED';
}
