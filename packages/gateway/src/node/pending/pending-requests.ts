import {
  addressKey,
  type BuddyResponseEvent,
  eventFromJson,
  eventToJson,
  formatAddress,
} from '@crosstalk/core';
import type { PendingEvent } from '../../directory/directory.js';
import { TooManyPendingRequestsError } from '../../errors/errors.js';
import type { UserManager } from '../../manager/user-manager.js';
import type { NodeCore } from '../core.js';
import { answered, type ForeignRoster } from '../roster/foreign-roster.js';

/**
 * Buddy requests and answers for users who are offline: signed into the directory under the
 * recipient's key, kept in hard state so they are re-signed while held (and survive a restart),
 * delivered at the recipient's next login, and released once answered (docs/ARCHITECTURE.md).
 */
export class PendingRequests {
  constructor(
    readonly core: NodeCore,
    readonly roster: ForeignRoster,
  ) {}

  /** Holds `event` for its offline recipient; throws `TooManyPendingRequestsError` when they have too many. */
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
    await core.store.update((s) => {
      s.pending = s.pending.flatMap((p) => {
        if (!replaced.has(p)) return [p];
        const next = replaced.get(p);
        return next ? [next] : [];
      });
    });
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
    for (const p of held) await core.directory.releasePending(answer.from, Buffer.from(p.value, 'hex'));
    if (held.length) {
      await core.store.update((s) => {
        s.pending = s.pending.filter((p) => !held.includes(p));
      });
    }
  }

  /** At login: the requests and answers held for the user, each delivered once. */
  async deliverTo(m: UserManager): Promise<void> {
    const { core } = this;
    const delivered = new Set(core.store.state.delivered);
    for (const { request } of await core.directory.pendingFor(m.address)) {
      const id = pendingId(request);
      if (delivered.has(id)) continue;
      if (request.kind === 'buddy-response') await this.recordAnswer(request);
      if (core.deliverTo(m, request)) {
        await core.store.update((s) => {
          s.delivered.push(id);
        });
        if (request.kind === 'buddy-response' && request.accepted) core.presenceTo(m, request.from);
      }
    }
  }
}

function pendingId(event: PendingEvent): string {
  return `${event.kind}:${event.id ?? ''}:${addressKey(event.from)}>${addressKey(event.to)}`;
}
