/** Throws a RangeError unless `n` is a whole number of at least 1 (`what` names it in the message). */
export function assertLimit(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${what} is a whole number of at least 1, not ${n}`);
}

/**
 * A task's place in an `OperationQueue`, given to `run`: `hurry()` moves it to the urgent lane
 * while it waits (a read that an urgent reader joined); once the task runs, it does nothing.
 */
export class QueuePlace {
  #hurry: (() => void) | undefined;

  hurry(): void {
    this.#hurry?.();
  }

  /** Set by the queue while the task waits in the lane that is not urgent. */
  waiting(hurry: (() => void) | undefined): void {
    this.#hurry = hurry;
  }
}

/**
 * Runs at most `limit` tasks at once; the others wait their turn in order, urgent ones ahead of
 * the rest. A finished task hands its place straight to the next, so no newcomer slips in
 * between and the limit holds exactly.
 */
export class OperationQueue {
  #running = 0;
  readonly #urgent: (() => void)[] = [];
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly limit: number,
    what = "an operation queue's limit",
  ) {
    assertLimit(limit, what);
  }

  /**
   * Runs `task` once a place is free (before every waiting task that is not urgent, when
   * `urgent`); `place`, when given, can move it ahead later (`QueuePlace.hurry`).
   */
  async run<T>(task: () => Promise<T>, urgent = false, place?: QueuePlace): Promise<T> {
    if (this.#running < this.limit) this.#running++;
    else if (urgent) await new Promise<void>((resolve) => this.#urgent.push(resolve));
    else {
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        place?.waiting(() => this.#hurry(resolve));
      });
      place?.waiting(undefined);
    }
    try {
      return await task();
    } finally {
      const next = this.#urgent.shift() ?? this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /** Moves a waiting task to the end of the urgent lane (it keeps its place if it already left). */
  #hurry(resolve: () => void): void {
    const at = this.#waiting.indexOf(resolve);
    if (at < 0) return;
    this.#waiting.splice(at, 1);
    this.#urgent.push(resolve);
  }

  /** Tasks waiting for a place. */
  get waiting(): number {
    return this.#urgent.length + this.#waiting.length;
  }
}
