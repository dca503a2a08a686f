import { type CanonicalEvent, WaitingInbox } from '@crosstalk/core';
import type { UserEndpoint } from '../node/api.js';

/**
 * A `UserEndpoint` for tests of a node (`node.attach(user, inbox)`): keeps what the node delivers,
 * and waits for what the test expects (a `WaitingInbox` from `@crosstalk/core`, so at most its
 * default capacity of events is kept, the oldest dropped first).
 */
export class EndpointInbox implements UserEndpoint {
  readonly #inbox = new WaitingInbox<CanonicalEvent>();
  /** While false, `deliver` says it cannot show anything (a client that is not ready). */
  showing = true;

  /** What was delivered and not yet taken by `next`, oldest first (a live view). */
  get events(): CanonicalEvent[] {
    return this.#inbox.items as CanonicalEvent[];
  }

  /** The node delivers an event: kept (false while `showing` is off). */
  deliver(event: CanonicalEvent): boolean {
    if (!this.showing) return false;
    this.#inbox.push(event);
    return true;
  }

  /**
   * The first event (already kept, or from now on) that matches, taken from the inbox; rejects
   * with a `WaitTimeoutError` naming `what` after `timeoutMs`.
   */
  next(match: (e: CanonicalEvent) => boolean, what: string, timeoutMs = 10_000): Promise<CanonicalEvent> {
    return this.#inbox.take(match, { what, timeoutMs });
  }
}
