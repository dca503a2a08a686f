import type { Address, CanonicalEvent, PresenceEvent } from '@crosstalk/core';
import type { AttachedSession } from '../node/session/attached-session.js';

/** The highest affinity a session gives (core `ProxySession.affinity`: the event's own conversation). */
const CONVERSATION_AFFINITY = 2;

/**
 * One verified user on this node: their live attachments (a SOCKS login can span several
 * connections, e.g. an MSNP notification connection and its switchboards) and their own presence as
 * last seen.
 */
export class UserManager {
  /** The attachments that are still live. */
  readonly sessions = new Set<AttachedSession>();
  /** The user's own presence, as they last said it (online at login). */
  presence: PresenceEvent;
  /** The timer that re-signs the user's records. */
  refreshTimer: NodeJS.Timeout | undefined;
  /** Set once the login is recorded (its DHT work goes on in the background). */
  ready: Promise<void> = Promise.resolve();
  /** True once `ready` settled: deliveries then go on without waiting a turn for it. */
  isReady = false;
  /** Settles once the login's presence reached (or failed to reach) the buddies on this node. */
  toldHere: Promise<void> = Promise.resolve();
  /** Settles once the login's presence reached (or failed to reach) the buddies elsewhere. */
  toldElsewhere: Promise<void> = Promise.resolve();
  /** A refresh of this user's records in flight. */
  publishing: Promise<void> | undefined;
  /**
   * When the user's location record that last went into the directory was signed (ms): it lapses a
   * soft TTL later, and only then may buddies elsewhere have been shown the user offline.
   */
  locationSignedAt: number | undefined;

  constructor(
    readonly address: Address,
    readonly key: string,
  ) {
    this.presence = { kind: 'presence', from: address, status: 'online' };
  }

  /** The attachment best placed to deliver `event` (highest affinity), if any can. */
  bestSession(event: CanonicalEvent): AttachedSession | undefined {
    let best: AttachedSession | undefined;
    let score = 0;
    for (const s of this.sessions) {
      const a = s.affinity(event);
      if (a > score) {
        best = s;
        score = a;
        // Nothing scores above the conversation the event belongs to (ProxySession.affinity), and the
        // first best wins: an MSN user's dozens of switchboards need not all be asked.
        if (a >= CONVERSATION_AFFINITY) break;
      }
    }
    return best;
  }

  /** The protocol this user's client speaks (remembered after its connections close, for the last words). */
  protocol: string | undefined;
}
