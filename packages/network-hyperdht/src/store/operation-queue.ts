/** Throws a RangeError unless `n` is a whole number of at least 1 (`what` names it in the message). */
export function assertLimit(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${what} is a whole number of at least 1, not ${n}`);
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

  /** Runs `task` once a place is free (before every waiting task that is not urgent, when `urgent`). */
  async run<T>(task: () => Promise<T>, urgent = false): Promise<T> {
    if (this.#running < this.limit) this.#running++;
    else await new Promise<void>((resolve) => (urgent ? this.#urgent : this.#waiting).push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#urgent.shift() ?? this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /** Tasks waiting for a place. */
  get waiting(): number {
    return this.#urgent.length + this.#waiting.length;
  }
}
