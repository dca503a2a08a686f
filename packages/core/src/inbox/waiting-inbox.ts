import { WaitTimeoutError } from '../errors/errors.js';

/** The most items a `WaitingInbox` keeps unless told otherwise. */
export const DEFAULT_INBOX_CAPACITY = 10_000;

/** How long a `WaitingInbox` waits unless told otherwise, ms. */
export const DEFAULT_INBOX_TIMEOUT_MS = 10_000;

/** Options of `new WaitingInbox(options)`. */
export interface WaitingInboxOptions<T> {
  /**
   * The most items kept (default {@link DEFAULT_INBOX_CAPACITY}); when one more arrives the oldest
   * is dropped (counted in `dropped`), so a long run does not grow without bound. `Infinity` keeps
   * everything: only for a caller that bounds its run otherwise (a short test that reads it all).
   */
  capacity?: number;
  /** How long a wait lasts when it does not say, ms (default {@link DEFAULT_INBOX_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Who waits, put before a timeout's message and in its `waiter` (`bob@localhost (@xmpp/client)`). */
  name?: string;
  /** What the inbox held, for a timeout's message and its `detail` (say, the lines a process wrote). */
  describe?: (items: readonly T[]) => string;
  /**
   * Let a pending wait's timer not keep a Node process alive (default false): for a long-lived
   * client whose waits may be abandoned; a test or a script wants its timeout to fire.
   */
  unrefTimers?: boolean;
}

/** Options of one wait (`waitFor`, `take`). */
export interface WaitOptions {
  /** How long to wait, ms (default: the inbox's `timeoutMs`). */
  timeoutMs?: number;
  /** What is awaited, for the timeout's message (default `a matching item`). */
  what?: string;
  /** Only an item pushed from now on counts, not one already kept (default false). */
  onlyNew?: boolean;
}

interface Waiter<T> {
  readonly match: (item: T) => boolean;
  /** Whether the item it gets leaves the inbox. */
  readonly take: boolean;
  readonly resolve: (item: T) => void;
  readonly reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** What `push` walks when nobody waits. */
const NO_WAITERS: readonly never[] = [];

/**
 * Keeps what arrives (`push`) and waits for what a test or a scripted client expects: `waitFor`
 * resolves with the oldest kept item that matches, or with the first matching one to arrive from
 * now on; `take` does the same and removes it, so the next `take` finds the one after. A wait that
 * sees nothing matching before its deadline rejects with a `WaitTimeoutError` (or with the reason
 * given to `close`, when nothing more can come); a settled wait leaves no listener and no timer behind. At most `capacity` items are kept, the oldest dropped first.
 *
 * @example
 * const inbox = new WaitingInbox<string>({ name: 'alice' });
 * inbox.push('hello');
 * await inbox.take((line) => line.startsWith('hel')); // 'hello', already there
 * const later = inbox.waitFor((line) => line === 'bye', { timeoutMs: 1000, what: 'a goodbye' });
 * inbox.push('bye');
 * await later; // 'bye' (still kept: waitFor does not take)
 */
export class WaitingInbox<T> {
  readonly #items: T[] = [];
  readonly #waiters = new Set<Waiter<T>>();
  readonly #capacity: number;
  readonly #timeoutMs: number;
  readonly #name: string | undefined;
  readonly #describe: ((items: readonly T[]) => string) | undefined;
  readonly #unref: boolean;
  #dropped = 0;
  #closed: { reason: unknown } | undefined;

  constructor(options: WaitingInboxOptions<T> = {}) {
    const capacity = options.capacity ?? DEFAULT_INBOX_CAPACITY;
    if (capacity !== Number.POSITIVE_INFINITY && (!Number.isInteger(capacity) || capacity < 1))
      throw new RangeError(`an inbox's capacity is a whole number of items, at least 1 (got ${capacity})`);
    this.#capacity = capacity;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_INBOX_TIMEOUT_MS;
    this.#name = options.name;
    this.#describe = options.describe;
    this.#unref = options.unrefTimers ?? false;
  }

  /** The items kept, oldest first: a live view (not a copy), to read and not to change. */
  get items(): readonly T[] {
    return this.#items;
  }

  /** How many items were dropped, oldest first, to keep at most `capacity`. */
  get dropped(): number {
    return this.#dropped;
  }

  /** How many waits are pending (each holds one timer until it settles). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * An item arrived: it is kept (so a predicate that reads `items` sees it), then every pending
   * `waitFor` it matches resolves with it, and the oldest pending `take` it matches gets it and
   * removes it (the waits are tried in the order they began, each predicate once). When more than
   * `capacity` stay kept, the oldest is dropped.
   */
  push(item: T): void {
    this.#items.push(item);
    let taken = false;
    // Copied only when someone waits: a load generator's clients push every message they receive.
    for (const waiter of this.#waiters.size > 0 ? [...this.#waiters] : NO_WAITERS) {
      // Settled meanwhile (a predicate closed the inbox), or a take when the item is already taken.
      if (!this.#waiters.has(waiter) || (taken && waiter.take)) continue;
      let matches: boolean;
      try {
        matches = waiter.match(item);
      } catch (error) {
        // A predicate that throws fails its own wait, not the producer that pushed.
        this.#settle(waiter);
        waiter.reject(error);
        continue;
      }
      if (!matches) continue;
      this.#settle(waiter);
      waiter.resolve(item);
      if (waiter.take) taken = true;
    }
    if (taken) {
      const at = this.#items.lastIndexOf(item);
      if (at >= 0) this.#items.splice(at, 1);
      return;
    }
    if (this.#items.length > this.#capacity) {
      this.#items.shift();
      this.#dropped++;
    }
  }

  /** The oldest kept item that matches (left in the inbox), or the first matching one to arrive. */
  waitFor(match: (item: T) => boolean, options: WaitOptions = {}): Promise<T> {
    return this.#wait(match, false, options);
  }

  /** The oldest kept item that matches, or the first matching one to arrive; removed from the inbox. */
  take(match: (item: T) => boolean, options: WaitOptions = {}): Promise<T> {
    return this.#wait(match, true, options);
  }

  /**
   * Nothing more will arrive (the connection closed or failed): every pending wait rejects with
   * `reason`, and so does every later wait that finds no kept match. The first reason stays; kept
   * items can still be waited for, and a later `push` still keeps one.
   */
  close(reason: unknown): void {
    this.#closed ??= { reason };
    for (const waiter of [...this.#waiters]) {
      this.#settle(waiter);
      waiter.reject(this.#closed.reason);
    }
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Drops every kept item (pending waits go on waiting). */
  clear(): void {
    this.#items.length = 0;
  }

  #wait(match: (item: T) => boolean, take: boolean, options: WaitOptions): Promise<T> {
    let at = -1;
    try {
      if (!options.onlyNew) at = this.#items.findIndex(match);
    } catch (error) {
      return Promise.reject(error);
    }
    if (at >= 0) return Promise.resolve(take ? this.#items.splice(at, 1)[0]! : this.#items[at]!);
    if (this.#closed) return Promise.reject(this.#closed.reason);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const what = options.what ?? 'a matching item';
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { match, take, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        let detail: string | undefined;
        try {
          detail = this.#describe?.(this.#items);
        } catch (error) {
          detail = `(describing the inbox failed: ${String(error)})`;
        }
        reject(new WaitTimeoutError(what, timeoutMs, this.#name, detail));
      }, timeoutMs);
      if (this.#unref) (waiter.timer as { unref?: () => void }).unref?.();
      this.#waiters.add(waiter);
    });
  }

  #settle(waiter: Waiter<T>): void {
    this.#waiters.delete(waiter);
    clearTimeout(waiter.timer);
  }
}
