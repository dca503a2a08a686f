/**
 * Runs tasks one key at a time, in the order they were asked for: a task for a key starts once the
 * one asked for before it has settled, whether it succeeded or failed. Keys hold nothing once
 * their last task settles.
 */
export class KeyedSerial {
  /** The last task asked for per key, settled either way (what the next one waits for). */
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` after every task asked for `key` before it; resolves or rejects as `task` does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }

  /** Keys with a task under way or waiting. */
  get size(): number {
    return this.#tails.size;
  }
}
