import type { Address, CanonicalEvent, PresenceEvent } from '@crosstalk/core';
import type { ProxiedConnection } from '../engine/connection.js';

/**
 * One verified user on this gateway: their live connections (a login can span several, e.g. an
 * MSNP notification connection and its switchboards) and their own presence as last seen.
 */
export class UserManager {
  readonly connections = new Set<ProxiedConnection>();
  presence: PresenceEvent;
  refreshTimer: NodeJS.Timeout | undefined;
  /** Set once the login is recorded (its DHT work goes on in the background). */
  ready: Promise<void> = Promise.resolve();
  /** Settle once the login's presence reached (or failed to reach) the buddies on this gateway, and the others. */
  toldHere: Promise<void> = Promise.resolve();
  toldElsewhere: Promise<void> = Promise.resolve();
  /** A refresh of this user's records in flight. */
  publishing: Promise<void> | undefined;

  constructor(
    readonly address: Address,
    readonly key: string,
  ) {
    this.presence = { kind: 'presence', from: address, status: 'online' };
  }

  /** The connection best placed to deliver `event` (highest affinity), if any can. */
  bestConnection(event: CanonicalEvent): ProxiedConnection | undefined {
    let best: ProxiedConnection | undefined;
    let score = 0;
    for (const c of this.connections) {
      if (c.closed) continue;
      const s = c.session.affinity(event);
      if (s > score) {
        best = c;
        score = s;
      }
    }
    return best;
  }

  /** The protocol this user's client speaks (remembered after its connections close, for the last words). */
  protocol: string | undefined;
}
