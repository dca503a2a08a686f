import {
  type Address,
  addressKey,
  type BuddyResponseEvent,
  eventFromJson,
  eventToJson,
  formatAddress,
} from '@crosstalk/core';
import type { PendingEvent } from '../../directory/directory.js';
import { TooManyPendingRequestsError } from '../../errors/errors.js';
import type { UserManager } from '../../manager/user-manager.js';
import { KeyedSerial } from '../../serial/keyed-serial.js';
import type { NodeCore } from '../core.js';
import { answered, type ForeignRoster } from '../roster/foreign-roster.js';

/** Default waits before each new try to deliver a held request to a recipient who may be online, ms. */
export const DEFAULT_HELD_RETRY: readonly number[] = [2_000, 5_000, 10_000, 20_000, 40_000];

/**
 * Default ms between reads of the directory for requests held for a user online here (a sender's
 * gateway that could not reach this one past its tries keeps them there): a few DHT reads a second
 * for a gateway of a thousand users.
 */
export const DEFAULT_HELD_POLL = 5 * 60 * 1000;

/**
 * Most held requests being tried again at once: each try is a directory lookup, and anyone can send
 * requests to addresses nobody uses; past this, a request is only held (delivered at a login).
 */
export const MAX_RETRYING = 256;

/**
 * Buddy requests and answers for users who are offline: signed into the directory under the
 * recipient's key, kept in hard state so they are re-signed while held (and survive a restart),
 * delivered at the recipient's next login, and released once answered (docs/ARCHITECTURE.md).
 * One held because the recipient was not found or not reachable at that moment (a directory or
 * capability graph that lags a login by seconds) is also tried again for a minute or so, and no
 * longer held once it arrives; the recipient's node shows each request once either way
 * (`isCopy`).
 */
export class PendingRequests {
  /** Held requests being tried again, by `pendingId`: the timer of the next try. */
  readonly #retrying = new Map<string, NodeJS.Timeout>();
  /** Reads of held requests under way, by user: a login's and a poll's never overlap (`deliverTo`). */
  readonly #delivering = new KeyedSerial();

  constructor(
    readonly core: NodeCore,
    readonly roster: ForeignRoster,
    /** Waits before each new try, ms (`NodeOptions.heldRetry`). */
    readonly retryDelays: readonly number[] = DEFAULT_HELD_RETRY,
  ) {}

  /**
   * Holds `event` for its offline recipient; throws `TooManyPendingRequestsError` when they have
   * too many.
   */
  async hold(event: PendingEvent): Promise<void> {
    const { core } = this;
    const value = await core.directory.holdPending(event);
    if (!value) {
      core.emit({ type: 'undeliverable', event, reason: 'ERR_TOO_MANY_PENDING' });
      throw new TooManyPendingRequestsError(`${formatAddress(event.to)} has too many held requests`);
    }
    await core.store.update(
      (s) => void s.pending.push({ request: eventToJson(event), value: Buffer.from(value).toString('hex') }),
    );
    core.emit({ type: 'pending-held', event });
  }

  /**
   * Tries again to deliver a request just held with `send`, after each of `retryDelays`,
   * until it is delivered (then it is no longer held) or the tries run out (it stays held for the
   * recipient's next login). Nothing is tried for an event without an id (the recipient could not
   * tell a second copy from a new request) or when `MAX_RETRYING` are being tried already.
   */
  retry(event: PendingEvent, send: () => Promise<unknown>): void {
    const { core } = this;
    const id = pendingId(event);
    if (!event.id || this.#retrying.has(id) || this.#retrying.size >= MAX_RETRYING || core.closing) return;
    let attempt = 0;
    const next = () => {
      const delay = this.retryDelays[attempt++];
      if (delay === undefined || core.closing) {
        this.#retrying.delete(id);
        return;
      }
      const timer = setTimeout(() => {
        const tried = send().then(
          async () => {
            this.#retrying.delete(id);
            core.log.info(
              { kind: event.kind, to: formatAddress(event.to), attempt },
              'held request delivered',
            );
            // Still held in the directory if this fails: the recipient's node shows it once anyway.
            await this.#release(event).catch((error) =>
              core.log.warn({ err: error }, 'could not release a held request a try delivered'),
            );
          },
          () => next(),
        );
        core.track(tried);
      }, delay);
      timer.unref();
      this.#retrying.set(id, timer);
    };
    next();
  }

  /** Stops every try (the node is closing; what is held stays held). */
  stopRetrying(): void {
    for (const timer of this.#retrying.values()) clearTimeout(timer);
    this.#retrying.clear();
  }

  /**
   * True for a copy of a request or answer already shown to its recipient here: the held one read
   * at a login after a try delivered it, or a try's after the login delivered the held one.
   */
  isCopy(event: PendingEvent): boolean {
    return event.id !== undefined && this.#wasShown(pendingId(event));
  }

  /** Remembers that `event` was shown to its recipient here (`isCopy`). */
  async shown(event: PendingEvent): Promise<void> {
    if (event.id !== undefined) await this.#markShown(pendingId(event));
  }

  /** Whether the request or answer `id` (`pendingId`) was shown to its recipient here. */
  #wasShown(id: string): boolean {
    return this.core.store.state.delivered.includes(id);
  }

  async #markShown(id: string): Promise<void> {
    await this.core.store.update((s) => void s.delivered.push(id));
  }

  /** No longer holds `event` (a try delivered it): out of the directory and of hard state. */
  async #release(event: PendingEvent): Promise<void> {
    const id = pendingId(event);
    // Found by what it is: republishing re-signs a held entry in place, so its value changes.
    await this.#releaseHeld(
      event.to,
      this.core.store.state.pending.filter((p) => heldId(p.request) === id),
    );
  }

  /** Releases held entries for `to` from the directory and hard state, and stops their tries. */
  async #releaseHeld(to: Address, held: readonly HeldEntry[]): Promise<void> {
    if (held.length === 0) return;
    const { core } = this;
    for (const p of held) {
      const id = heldId(p.request);
      if (id !== undefined) {
        clearTimeout(this.#retrying.get(id));
        this.#retrying.delete(id);
      }
      await core.directory.releasePending(to, Buffer.from(p.value, 'hex'));
    }
    await core.store.update((s) => {
      s.pending = s.pending.filter((p) => !held.includes(p));
    });
  }

  /** Re-signs every held request in place; returns the first failure (that request stays held). */
  async republish(): Promise<unknown> {
    const { core } = this;
    // Each held entry is re-signed in place; entries added or released meanwhile are left as they are.
    const replaced = new Map<object, { request: unknown; value: string } | undefined>();
    let failed: unknown;
    for (const held of [...core.store.state.pending]) {
      try {
        const event = eventFromJson(held.request);
        if (event.kind !== 'buddy-request' && event.kind !== 'buddy-response') {
          replaced.set(held, undefined);
          continue;
        }
        const value = await core.directory.holdPending(event, Buffer.from(held.value, 'hex'));
        replaced.set(held, value && { request: held.request, value: Buffer.from(value).toString('hex') });
      } catch (error) {
        // Kept as it is (the DHT may be unreachable now); the next round tries again.
        core.log.warn({ err: error }, 'could not republish a held request; it stays held');
        failed ??= error;
      }
    }
    // Released while its re-signed copy was on the way (answered, or delivered by a try): that
    // copy is withdrawn too, or the recipient would be shown it again at a login.
    const withdrawn: HeldEntry[] = [];
    await core.store.update((s) => {
      for (const [p, next] of replaced) if (next && !s.pending.includes(p as HeldEntry)) withdrawn.push(next);
      s.pending = s.pending.flatMap((p) => {
        if (!replaced.has(p)) return [p];
        const next = replaced.get(p);
        return next ? [next] : [];
      });
    });
    for (const w of withdrawn)
      await core.directory.releasePending(
        (eventFromJson(w.request) as PendingEvent).to,
        Buffer.from(w.value, 'hex'),
      );
    return failed;
  }

  /** An answer reached the requester: update their foreign buddy, and stop holding the request. */
  async recordAnswer(answer: BuddyResponseEvent): Promise<void> {
    const { core } = this;
    await this.roster.set(answer.to, answer.from, answered(answer.accepted));
    const held = core.store.state.pending.filter((p) => {
      const r = p.request as { kind?: string; from?: string; to?: string };
      return (
        r.kind === 'buddy-request' &&
        r.from === formatAddress(answer.to) &&
        r.to === formatAddress(answer.from)
      );
    });
    // Answered: no longer held, and no longer tried.
    await this.#releaseHeld(answer.from, held);
  }

  /**
   * At login, and now and then while the user is online (`NodeOptions.heldPoll`): the requests and
   * answers held for the user, each delivered once. One read at a time per user, so two reads
   * cannot both find a request not yet shown.
   */
  deliverTo(m: UserManager): Promise<void> {
    return this.#delivering.run(m.key, () => this.#deliverHeld(m));
  }

  async #deliverHeld(m: UserManager): Promise<void> {
    const { core } = this;
    const held = await core.directory.pendingFor(m.address);
    let shown = 0;
    for (const { request } of held) {
      // Id-less ones too (held by an older node): at most one per kind and pair is shown.
      const id = pendingId(request);
      if (this.#wasShown(id)) continue;
      if (request.kind === 'buddy-response') await this.recordAnswer(request);
      if (core.deliverTo(m, request)) {
        shown++;
        await this.#markShown(id);
        if (request.kind === 'buddy-response' && request.accepted) core.presenceTo(m, request.from);
      }
    }
    core.log.debug({ user: formatAddress(m.address), held: held.length, shown }, 'read held requests');
  }
}

/** A held entry as the state file keeps it. */
type HeldEntry = { request: unknown; value: string };

/** The `pendingId` of a held entry's stored request; undefined for one that no longer parses. */
function heldId(request: unknown): string | undefined {
  try {
    const event = eventFromJson(request);
    return event.kind === 'buddy-request' || event.kind === 'buddy-response' ? pendingId(event) : undefined;
  } catch {
    return undefined;
  }
}

function pendingId(event: PendingEvent): string {
  return `${event.kind}:${event.id ?? ''}:${addressKey(event.from)}>${addressKey(event.to)}`;
}
