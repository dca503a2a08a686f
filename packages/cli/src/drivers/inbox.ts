/**
 * An ordered inbox of things a scripted client received, consumed by predicate: `next` returns the
 * oldest unconsumed match, or waits for one. Every driver keeps its canonical events in one.
 */
export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters = new Set<{ match: (item: T) => boolean; resolve: (item: T) => void }>();

  /** Adds an item: to the oldest waiter it matches, else to the inbox. */
  push(item: T): void {
    for (const w of this.#waiters) {
      if (w.match(item)) {
        this.#waiters.delete(w);
        w.resolve(item);
        return;
      }
    }
    this.#items.push(item);
  }

  /** All items received and not yet consumed. */
  get pending(): readonly T[] {
    return this.#items;
  }

  /** Takes the oldest item that matches, waiting for one up to `timeoutMs` (the error names `what`). */
  next(match: (item: T) => boolean, timeoutMs = 10_000, what = 'item'): Promise<T> {
    const at = this.#items.findIndex(match);
    if (at >= 0) return Promise.resolve(this.#items.splice(at, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve };
      this.#waiters.add(waiter);
      setTimeout(() => {
        if (this.#waiters.delete(waiter))
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs).unref();
    });
  }
}
