import type { SipScheduler } from '../../src/index.js';

/** A fake clock for the transaction timers: time moves only when the test says. */
export class ManualClock implements SipScheduler {
  now = 0;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #next = 1;

  set(ms: number, fn: () => void): unknown {
    const id = this.#next++;
    this.#timers.push({ at: this.now + ms, fn, id });
    return id;
  }

  clear(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Pending timers. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order (and those they set, if due). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const due = this.#timers[0];
      if (!due || due.at > end) break;
      this.#timers.shift();
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
}
