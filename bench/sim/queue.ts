/**
 * The simulation's clock: a queue of events in virtual time (ms). `run` takes them in time order
 * (events at the same time in the order they were scheduled) and awaits each one's handler before
 * the next, so the directory work an event starts is finished, and counted against it, before
 * anything else happens. Nothing here waits for real time.
 */
export class EventQueue {
  #now = 0;
  #seq = 0;
  /** A binary min-heap on (at, seq). */
  readonly #heap: { at: number; seq: number; run: () => unknown }[] = [];

  /** The current virtual time, ms. */
  get now(): number {
    return this.#now;
  }

  /** Events waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `run` at virtual time `at`, rounded up to a whole ms as clocks read (never before now). */
  at(at: number, run: () => unknown): void {
    const item = { at: Math.max(Math.ceil(at), this.#now), seq: this.#seq++, run };
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Schedules `run` after `delay` ms of virtual time. */
  after(delay: number, run: () => unknown): void {
    this.at(this.#now + delay, run);
  }

  /** Runs events in order until the queue is empty or the next one is later than `until`. */
  async run(until = Number.POSITIVE_INFINITY): Promise<number> {
    let ran = 0;
    while (this.#heap.length > 0 && this.#heap[0]!.at <= until) {
      const item = this.#pop();
      this.#now = item.at;
      await item.run();
      ran++;
    }
    if (Number.isFinite(until)) this.#now = Math.max(this.#now, until);
    return ran;
  }

  #pop(): { at: number; seq: number; run: () => unknown } {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

const before = (a: { at: number; seq: number }, b: { at: number; seq: number }) =>
  a.at < b.at || (a.at === b.at && a.seq < b.seq);
