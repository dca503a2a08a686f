import {
  addressKey,
  type CanonicalEvent,
  formatAddress,
  isCrossTalkError,
  isSystemAddress,
  validateEvent,
} from '@crosstalk/core';
import { SpoofedSenderError } from '../../errors/errors.js';
import { G2gRefusedError } from '../../g2g/link.js';
import type { SendOutcome } from '../api.js';
import type { NodeCore } from '../core.js';
import type { PendingRequests } from '../pending/pending-requests.js';
import { answered, type ForeignRoster } from '../roster/foreign-roster.js';
import type { Router } from '../routing/router.js';
import type { AttachedSession } from './attached-session.js';

const reported = new WeakSet<object>();

/** True for an error the node already counted, logged and reported to observers (a way in need not). */
export function wasReported(error: unknown): boolean {
  return typeof error === 'object' && error !== null && reported.has(error);
}

function markReported<E>(error: E): E {
  if (typeof error === 'object' && error !== null) reported.add(error);
  return error;
}

/**
 * Whether a buddy request or answer that failed with `error` may reach its recipient later: they
 * are offline or not found yet, no route reaches their network now, or their gateway could not be
 * reached (a refusal by that gateway is its answer, and is not tried again).
 */
function mayReachLater(error: unknown): boolean {
  if (isCrossTalkError(error, 'ERR_USER_OFFLINE') || isCrossTalkError(error, 'ERR_NO_ROUTE')) return true;
  if (!isCrossTalkError(error, 'ERR_DELIVERY_FAILED')) return false;
  return !(error instanceof G2gRefusedError) || error.refusal === 'ERR_DELIVERY_FAILED';
}

/**
 * What an attached user sends, whichever way in it came through: stamped with the attached user
 * (a claim naming anyone else is refused), then routed, held for an offline recipient, or answered
 * here; and what the user says about itself (its presence), mirrored to the directory and buddies.
 */
export class Outbound {
  constructor(
    readonly core: NodeCore,
    readonly router: Router,
    readonly roster: ForeignRoster,
    readonly pending: PendingRequests,
  ) {}

  async send(session: AttachedSession, event: CanonicalEvent, validate: boolean): Promise<SendOutcome> {
    const { core } = this;
    const m = session.manager;
    event = this.#stamp(session, event, validate);
    // An id, so a recipient's node can tell a held copy from a new request (most protocols give
    // requests none; one the client gave is kept: the client API pairs an answer with its request by it).
    if ((event.kind === 'buddy-request' || event.kind === 'buddy-response') && !event.id)
      event = { ...event, id: core.newId() };
    if ('to' in event && event.to && isSystemAddress(event.to)) {
      // For the node itself: answered here, never routed (other kinds mean nothing to it).
      if (event.kind === 'im') await core.pluginHost.system(core.pluginUser(m), event);
      return 'local';
    }
    switch (event.kind) {
      case 'buddy-request':
        await this.roster.set(m.address, event.to, (item) => ({ ...item, pending: true }));
        break;
      case 'buddy-response':
        await this.roster.set(m.address, event.to, answered(event.accepted));
        break;
      case 'roster':
        return 'local'; // the client's own list edits reach its server; foreign items are in our store
      default:
        break;
    }
    try {
      await this.router.route(m, event, session.protocol);
      // Newly mutual buddies see each other at once, not only at the next presence change.
      if (event.kind === 'buddy-response' && event.accepted) core.presenceTo(m, event.to);
      return 'delivered';
    } catch (error) {
      const reason = isCrossTalkError(error) ? error.code : String(error);
      if ((event.kind === 'buddy-request' || event.kind === 'buddy-response') && mayReachLater(error)) {
        // Held for the recipient's next login: also when no gateway serves their network now (a
        // client-API user's node, or a gateway that is restarting), as before capability routing,
        // or theirs cannot be reached at this moment. The log says why; it is tried again (below).
        core.log.info(
          { kind: event.kind, to: formatAddress(event.to), reason, why: (error as Error).message },
          'held for the recipient',
        );
        await this.pending.hold(event).catch((failure) => Promise.reject(markReported(failure)));
        // And tried again for a while: the recipient may be online and only not found yet.
        const held = event;
        this.pending.retry(held, async () => {
          await this.router.route(m, held, session.protocol);
          if (held.kind === 'buddy-response' && held.accepted && core.managers.get(m.key) === m)
            core.presenceTo(m, held.to);
        });
        return 'held';
      }
      core.metrics.undeliverable.inc({ kind: event.kind, reason });
      core.emit({ type: 'undeliverable', event, reason });
      core.log.info(
        { kind: event.kind, to: 'to' in event && event.to ? formatAddress(event.to) : undefined, reason },
        'undeliverable',
      );
      // No chain reaches the recipient: said in the sender's own client, not left to silence.
      if (event.kind === 'im' && isCrossTalkError(error, 'ERR_NO_ROUTE'))
        core.tell(
          m.address,
          `CrossTalk could not deliver your message to ${formatAddress(event.to)}: ${error.message}.`,
        );
      throw markReported(error);
    }
  }

  /** The user said something about itself (its presence): mirror it to the directory and foreign buddies. */
  async mirror(session: AttachedSession, event: CanonicalEvent, validate: boolean): Promise<void> {
    const { core } = this;
    const m = session.manager;
    event = this.#stamp(session, event, validate);
    if (event.kind !== 'presence') return;
    m.presence = { ...event, from: m.address };
    // Buddies hear it whether or not the DHT takes it (a buddy on this node needs no DHT).
    // The presence rides in the user's location record: re-signed with it.
    const published = core.publishUser(m);
    await core.tellBuddies(m, m.presence);
    await published;
  }

  /**
   * The sender of everything an attachment sends is its verified user, whatever the client's bytes
   * (or the program) claim (YMSG key 1, an XMPP `from`): the event leaves stamped with the user's
   * address, and a claim naming anyone else is refused, counted and logged (docs/ARCHITECTURE.md,
   * "Who may say what"). A way in that has no codec in front also has its events checked against
   * the canonical model's limits.
   */
  #stamp(session: AttachedSession, event: CanonicalEvent, validate: boolean): CanonicalEvent {
    const m = session.manager;
    const claimed = event.kind === 'roster' ? event.owner : event.from;
    if (addressKey(claimed) !== m.key) {
      const error = new SpoofedSenderError(
        `${formatAddress(m.address)} sent a ${event.kind} as ${formatAddress(claimed)}`,
      );
      this.core.refuse(error, { connection: session.id, kind: event.kind, claimed: formatAddress(claimed) });
      throw markReported(error);
    }
    const stamped: CanonicalEvent =
      event.kind === 'roster' ? { ...event, owner: m.address } : { ...event, from: m.address };
    if (validate) {
      try {
        validateEvent(stamped);
      } catch (error) {
        this.core.refuse(error as Error, { connection: session.id, kind: event.kind });
        throw markReported(error);
      }
    }
    return stamped;
  }
}
