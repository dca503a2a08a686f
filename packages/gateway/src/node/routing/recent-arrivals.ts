import { addressKey, type CanonicalEvent } from '@crosstalk/core';

/**
 * How long an IM that arrived over G2G is remembered, ms (at least this, at most twice): a sender
 * that lost its link with the IM unacknowledged sends it again once it has a new link (at most an
 * ACK timeout of 10 s plus a dial later); a copy that arrives within this is not delivered again.
 */
export const RECENT_ARRIVAL_MS = 30_000;

/**
 * IMs one generation holds at most (about 10 MB in all): a gateway flooding IMs from users it
 * invents turns the generations over sooner rather than growing them (a copy of an IM then older
 * than a generation may be shown again).
 */
export const MAX_RECENT_ARRIVALS = 50_000;

/**
 * IMs that arrived over G2G lately, so that a resent one is delivered once. A G2G sender that did
 * not hear the ACK (the link closed, or the ACK timed out while the receiver waited on the DHT)
 * cannot tell an IM that arrived from one that did not, and sends it again: at-least-once
 * delivery, made once by the receiver. Only IMs: a presence or typing state shown again changes
 * nothing, held buddy requests have their own copy check, and a call's signals share its id.
 * Two generations of a map, turned over every `RECENT_ARRIVAL_MS` or when one is full
 * (`MAX_RECENT_ARRIVALS`): no timer or timestamp per IM.
 */
export class RecentArrivals {
  /** By IM: its delivery while under way, then the protocol it was delivered in (a shared string). */
  #current = new Map<string, Promise<string> | string>();
  #previous = new Map<string, Promise<string> | string>();
  #turnedAt: number;

  constructor(
    readonly now: () => number,
    /** A copy arrived and was not delivered again. */
    readonly onCopy: () => void = () => {},
    readonly max = MAX_RECENT_ARRIVALS,
  ) {
    this.#turnedAt = now();
  }

  /**
   * Delivers `event` with `deliver` unless the same IM arrived lately; a copy gets the first one's
   * outcome (waiting for it if it is still under way). A delivery that failed is forgotten, so the
   * sender's next try is delivered.
   */
  once(event: CanonicalEvent, deliver: () => Promise<string>): Promise<string> {
    if (event.kind !== 'im') return deliver();
    const now = this.now();
    if (now - this.#turnedAt >= RECENT_ARRIVAL_MS || this.#current.size >= this.max) {
      this.#previous = now - this.#turnedAt >= 2 * RECENT_ARRIVAL_MS ? new Map() : this.#current;
      this.#current = new Map();
      this.#turnedAt = now;
    }
    // The same sender, id and sending time: a copy (ids alone may repeat across a client's sessions).
    // Joined, not a template: a template's pieces stay alive as a rope (372 bytes an IM against 87).
    const key = [event.id, event.sentAt, addressKey(event.from), addressKey(event.to)].join('\u0000');
    const earlier = this.#current.get(key) ?? this.#previous.get(key);
    if (earlier !== undefined) {
      this.onCopy();
      return typeof earlier === 'string' ? Promise.resolve(earlier) : earlier;
    }
    const delivery = deliver();
    this.#current.set(key, delivery);
    const settled = (outcome: string | undefined) => {
      for (const map of [this.#current, this.#previous])
        if (map.get(key) === delivery) outcome === undefined ? map.delete(key) : map.set(key, outcome);
    };
    delivery.then(settled, () => settled(undefined));
    return delivery;
  }

  /** IMs remembered. */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}
