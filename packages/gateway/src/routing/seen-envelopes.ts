import { G2gRefusedError, refusalCode } from '../g2g/link.js';

/** What came of an envelope: the protocol it was delivered in (or handed on), or the refusal's code. */
type Outcome = { protocol: string | undefined } | { refusal: string };

/**
 * Envelopes a gateway took, by origin and id, each with what came of it, until its signature is
 * too old to be accepted anyway. The same envelope again is answered with the first one's outcome
 * (an ACK naming the same protocol, or a NACK with the same code) and never handled twice: its
 * origin's G2G send goes again on a new link when the first closed unacknowledged (the hop cannot
 * tell whether the first arrived), and a relay replaying it gains nothing. Loops are refused
 * before this, from the chain itself (`checkChain`). Bounded: past `max`, the oldest are
 * forgotten (and their age limit still refuses them soon).
 */
export class SeenEnvelopes {
  /** By origin and id: until when, and the handling while under way, then its outcome. */
  readonly #seen = new Map<string, { until: number; outcome: Promise<string | undefined> | Outcome }>();

  constructor(
    private readonly now: () => number,
    private readonly max = 100_000,
  ) {}

  /**
   * Handles envelope (origin, id) with `handle` unless it was taken before `until` ran out; then
   * `onRepeat` is told and the first handling's outcome is given again (waited for while under way).
   */
  once(
    origin: string,
    id: string,
    until: number,
    handle: () => Promise<string | undefined>,
    onRepeat: () => void = () => {},
  ): Promise<string | undefined> {
    // Joined, not a template: a Map keeps a template's pieces alive as a rope (recent-arrivals.ts).
    const key = [origin, id].join(' ');
    const now = this.now();
    const known = this.#seen.get(key);
    if (known && known.until > now) {
      onRepeat();
      const { outcome } = known;
      if (outcome instanceof Promise) return outcome;
      return 'refusal' in outcome
        ? Promise.reject(new G2gRefusedError(outcome.refusal))
        : Promise.resolve(outcome.protocol);
    }
    if (this.#seen.size >= this.max) this.#prune(now);
    const handling = handle();
    const entry = { until, outcome: handling as Promise<string | undefined> | Outcome };
    this.#seen.set(key, entry);
    // Settled, only what an answer needs is kept (not the promise, nor an error and its stack).
    handling.then(
      (protocol) => {
        entry.outcome = { protocol };
      },
      (error) => {
        entry.outcome = { refusal: refusalCode(error) };
      },
    );
    return handling;
  }

  /** How many are held. */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [key, { until }] of this.#seen) if (until <= now) this.#seen.delete(key);
    // Still full: forget the oldest (a Map iterates in insertion order).
    for (const key of this.#seen.keys()) {
      if (this.#seen.size < this.max) break;
      this.#seen.delete(key);
    }
  }
}
