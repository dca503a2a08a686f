import type { CanonicalEvent } from '@crosstalk/core';
import type { UserEndpoint } from '../node/api.js';

/**
 * A `UserEndpoint` for tests of a node (`node.attach(user, inbox)`): keeps what the node delivers,
 * and waits for what the test expects.
 */
export class EndpointInbox implements UserEndpoint {
  /** What was delivered and not yet taken by `next`, oldest first. */
  readonly events: CanonicalEvent[] = [];
  readonly #waiters = new Set<() => void>();
  /** While false, `deliver` says it cannot show anything (a client that is not ready). */
  showing = true;

  /** The node delivers an event: kept (false while `showing` is off). */
  deliver(event: CanonicalEvent): boolean {
    if (!this.showing) return false;
    this.events.push(event);
    for (const wake of [...this.#waiters]) wake();
    return true;
  }

  /**
   * The first event (already kept, or from now on) that matches, taken from the inbox; rejects
   * naming `what` after `timeoutMs`.
   */
  async next(
    match: (e: CanonicalEvent) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<CanonicalEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.events.findIndex(match);
      if (at >= 0) return this.events.splice(at, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }
}
