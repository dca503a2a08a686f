import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  type EventKind,
  formatAddress,
  isCrossTalkError,
  type PresenceStatus,
  type TypingState,
  WaitTimeoutError,
} from '@crosstalk/core';
import type { UserDriver } from './driver.js';
import { Inbox } from './inbox.js';

type EventOf<K extends EventKind> = Extract<CanonicalEvent, { kind: K }>;

/** A canonical event as the client received it, numbered in order of arrival. */
interface Received {
  seq: number;
  event: CanonicalEvent;
}

/**
 * The half of a `UserDriver` that is the same for every protocol: the waits (`nextIm`,
 * `nextTyping`, `nextPresence`, `nextBuddyRequest`, `nextBuddyResponse`) and `onIm`, over an inbox
 * of the canonical events the user's client received. A protocol's driver logs in, sends, and hands
 * every event its client reads to `received`; the hooks below let it say how its network compares
 * names and what else a wait should know.
 */
export abstract class EventDriver implements UserDriver {
  abstract readonly address: Address;
  readonly #inbox = new Inbox<Received>();
  #seq = 0;
  #imListener: ((from: Address, text: string) => void) | undefined;

  /**
   * Whether a presence supersedes every earlier one from the same user: a wait that returns one
   * drops the older ones, so no later wait sees them.
   */
  protected readonly presenceIsState: boolean = false;

  abstract login(): Promise<void>;
  abstract logout(): Promise<void>;
  abstract disconnect(): Promise<void>;
  abstract addBuddy(buddy: Address, message?: string): Promise<void>;
  abstract answerBuddyRequest(from: Address, accept: boolean): Promise<void>;
  abstract buddies(): Address[];
  abstract sendIm(to: Address, text: string): Promise<void>;
  abstract sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void>;
  abstract setPresence(status: 'online' | 'away', text?: string): Promise<void>;

  /** An event the client received: an IM goes to the `onIm` listener when there is one, the rest to the inbox. */
  protected received(event: CanonicalEvent): void {
    if (event.kind === 'im' && this.#imListener) this.#imListener(event.from, event.text);
    else this.#inbox.push({ seq: ++this.#seq, event });
  }

  /** Whether `a` and `b` are the same user as this client sees them (default: the same canonical address). */
  protected same(a: Address, b: Address): boolean {
    return addressEquals(a, b);
  }

  /** Told of the user every wait is for, before it waits. */
  protected awaiting(_from: Address): void {}

  /** What went wrong in the background meanwhile, named in a wait's timeout error. */
  protected problems(): readonly string[] {
    return [];
  }

  onIm(listener: (from: Address, text: string) => void): () => void {
    this.#imListener = listener;
    return () => {
      if (this.#imListener === listener) this.#imListener = undefined;
    };
  }

  async nextIm(from: Address, timeoutMs?: number): Promise<string> {
    return (await this.nextEvent(['im'], from, timeoutMs)).text;
  }

  async nextTyping(from: Address, timeoutMs?: number): Promise<TypingState> {
    return (await this.nextEvent(['typing'], from, timeoutMs)).state;
  }

  async nextBuddyRequest(from: Address, timeoutMs?: number): Promise<{ message?: string }> {
    const e = await this.nextEvent(['buddy-request'], from, timeoutMs);
    return e.message !== undefined ? { message: e.message } : {};
  }

  async nextBuddyResponse(from: Address, timeoutMs?: number): Promise<{ accepted: boolean }> {
    return { accepted: (await this.nextEvent(['buddy-response'], from, timeoutMs)).accepted };
  }

  async nextPresence(from: Address, status?: PresenceStatus, timeoutMs?: number): Promise<PresenceStatus> {
    const isFrom = (e: CanonicalEvent) => e.kind === 'presence' && this.same(e.from, from);
    const got = await this.#wait(
      ({ event: e }) => isFrom(e) && (status === undefined || (e.kind === 'presence' && e.status === status)),
      from,
      `presence${status ? ` ${status}` : ''}`,
      timeoutMs,
    );
    if (this.presenceIsState) {
      const older = (r: Received) => r.seq < got.seq && isFrom(r.event);
      while (this.#inbox.pending.some(older)) void this.#inbox.next(older);
    }
    return (got.event as EventOf<'presence'>).status;
  }

  /**
   * The oldest event not yet returned of one of `kinds` from `from`, or the next to arrive; a kind
   * after the first counts only while `also` holds.
   */
  protected async nextEvent<K extends EventKind>(
    kinds: readonly K[],
    from: Address,
    timeoutMs: number | undefined,
    also: () => boolean = () => true,
  ): Promise<EventOf<K>> {
    const match = (e: CanonicalEvent) =>
      (e.kind === kinds[0] || (kinds.includes(e.kind as K) && also())) &&
      'from' in e &&
      this.same(e.from, from);
    return (await this.#wait((r) => match(r.event), from, kinds[0]!, timeoutMs)).event as EventOf<K>;
  }

  async #wait(match: (r: Received) => boolean, from: Address, what: string, timeoutMs = 10_000) {
    this.awaiting(from);
    try {
      return await this.#inbox.next(match, timeoutMs, `${what} from ${formatAddress(from)}`);
    } catch (error) {
      const problems = this.problems();
      if (isCrossTalkError(error, 'ERR_WAIT_TIMEOUT')) {
        const { what, timeoutMs } = error as WaitTimeoutError;
        const detail = problems.length ? problems.join('; ') : undefined;
        throw new WaitTimeoutError(what, timeoutMs, formatAddress(this.address), detail);
      }
      const why = problems.length ? ` (${problems.join('; ')})` : '';
      throw new Error(`${formatAddress(this.address)}: ${(error as Error).message}${why}`);
    }
  }
}
