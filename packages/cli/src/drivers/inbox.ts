import { WaitingInbox } from '@crosstalk/core';

/**
 * An ordered inbox of things a scripted client received, consumed by predicate: `next` returns the
 * oldest unconsumed match, or waits for one. Every driver keeps its canonical events in one. It is
 * core's `WaitingInbox` (at most 10,000 items kept, the oldest dropped first; a timeout is a
 * `WaitTimeoutError`), whose pending waits do not keep the process alive.
 */
export class Inbox<T> extends WaitingInbox<T> {
  constructor() {
    super({ unrefTimers: true });
  }

  /** All items received and not yet consumed. */
  get pending(): readonly T[] {
    return this.items;
  }

  /** Takes the oldest item that matches, waiting for one up to `timeoutMs` (the error names `what`). */
  next(match: (item: T) => boolean, timeoutMs = 10_000, what = 'item'): Promise<T> {
    return this.take(match, { timeoutMs, what });
  }
}
