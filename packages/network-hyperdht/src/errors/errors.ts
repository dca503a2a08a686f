import { CrossTalkError, ProtocolError } from '@crosstalk/core';

/** Conditions of the hyperdht store; one class each, fixed `name` and `code` (see core's errors). */

/**
 * A store or DHT node was asked to start without an explicit bootstrap list: hyperdht would then
 * join the public network through its built-in bootstrap nodes, which this package never does.
 */
export class DhtBootstrapRequiredError extends CrossTalkError {
  override readonly name = 'DhtBootstrapRequiredError';
  readonly code = 'ERR_DHT_BOOTSTRAP_REQUIRED';
  constructor(detail = 'pass an explicit bootstrap list (host and port of DHT nodes you run)') {
    super(`refusing to use hyperdht's public bootstrap nodes: ${detail}`);
  }
}

/** A record read from the DHT is not a well-formed store record (it is ignored, and counted). */
export class DhtRecordError extends CrossTalkError {
  override readonly name = 'DhtRecordError';
  readonly code = 'ERR_DHT_RECORD';
}

/** A record is well formed but not entitled to its place (wrong topic, certificate, dates). */
export class DhtRecordRefusedError extends CrossTalkError {
  override readonly name = 'DhtRecordRefusedError';
  readonly code = 'ERR_DHT_RECORD_REFUSED';
}

/** The DHT did not take a write (no node answered, or every node refused it). */
export class DhtUnavailableError extends CrossTalkError {
  override readonly name = 'DhtUnavailableError';
  readonly code = 'ERR_DHT_UNAVAILABLE';
  override readonly isRetryable = true;
}

/** A peer broke the G2G flow control over hyperdht: a malformed frame, or more than it was granted. */
export class FlowControlError extends ProtocolError {
  override readonly name = 'FlowControlError';
  readonly code = 'ERR_G2G_FLOW_CONTROL';
  readonly protocol = 'g2g';
}
