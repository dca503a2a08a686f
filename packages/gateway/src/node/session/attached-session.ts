import { type Address, type CanonicalEvent, NotLoggedInError, type RosterItem } from '@crosstalk/core';
import type { UserManager } from '../../manager/user-manager.js';
import type { OutgoingEvent, PresenceUpdate, SendOutcome, UserEndpoint, UserSession } from '../api.js';

/** What an attachment asks of its node (implemented by the node, with `Outbound`). */
export interface SessionHost {
  /** Routes an event the user sent (stamped, or refused, there). */
  send(session: AttachedSession, event: CanonicalEvent, validate: boolean): Promise<SendOutcome>;
  /** Something the user said about itself (its presence): mirrored to the directory and buddies. */
  mirror(session: AttachedSession, event: CanonicalEvent, validate: boolean): Promise<void>;
  /** The session ended: the user goes offline when it was their last. */
  detach(session: AttachedSession, reason: string): Promise<void>;
  /** The user's foreign buddies as stored. */
  foreignBuddies(user: Address): RosterItem[];
}

/** How the node made the attachment (internal: the SOCKS front's events are checked by their codec). */
export interface AttachedSessionInit {
  id: string;
  protocol: string;
  clientAddress: string | undefined;
  shared: boolean;
  /** Check events against the canonical model's limits (every way in but a codec session's). */
  validate: boolean;
}

/** One attachment of a user to the node: the `UserSession` a way in holds, and the endpoint it gave. */
export class AttachedSession implements UserSession {
  readonly address: Address;
  readonly id: string;
  /** The protocol the attachment speaks (`AttachInfo.protocol`). */
  readonly protocol: string;
  /** Where the user's client connects from, when the way in said. */
  readonly clientAddress: string | undefined;
  /** Whether other attachments of the same user may join (`AttachInfo.shared`). */
  readonly shared: boolean;
  readonly #validate: boolean;
  #detached: Promise<void> | undefined;

  constructor(
    readonly host: SessionHost,
    /** The user's manager on the node. */
    readonly manager: UserManager,
    readonly endpoint: UserEndpoint,
    init: AttachedSessionInit,
  ) {
    this.address = manager.address;
    this.id = init.id;
    this.protocol = init.protocol;
    this.clientAddress = init.clientAddress;
    this.shared = init.shared;
    this.#validate = init.validate;
  }

  get closed(): boolean {
    return this.#detached !== undefined;
  }

  /** How well the endpoint can show `event` (0 once detached). */
  affinity(event: CanonicalEvent): number {
    if (this.closed) return 0;
    return this.endpoint.affinity ? this.endpoint.affinity(event) : 1;
  }

  send(event: OutgoingEvent): Promise<SendOutcome> {
    if (this.closed) return Promise.reject(this.#closedError(event.kind));
    const full = this.#withSender(event);
    // A presence without a recipient is the user's own, as a codec session's `self` event is.
    if (full.kind === 'presence' && full.to === undefined)
      return this.host.mirror(this, full, this.#validate).then(() => 'local');
    return this.host.send(this, full, this.#validate);
  }

  setPresence(presence: PresenceUpdate): Promise<void> {
    if (this.closed) return Promise.reject(this.#closedError('presence'));
    const { to: _to, ...rest } = presence as PresenceUpdate & { to?: Address };
    return this.host.mirror(
      this,
      { ...rest, kind: 'presence', from: presence.from ?? this.address },
      this.#validate,
    );
  }

  /**
   * Something the user's client said about itself (a codec session's `self` event, of any kind):
   * its sender is checked as `send` checks it; a presence is mirrored, anything else is the client's
   * own server's business.
   */
  mirror(event: CanonicalEvent): Promise<void> {
    if (this.closed) return Promise.reject(this.#closedError(event.kind));
    return this.host.mirror(this, event, this.#validate);
  }

  foreignBuddies(): RosterItem[] {
    return this.host.foreignBuddies(this.address);
  }

  detach(): Promise<void> {
    return this.close('detached');
  }

  /** Detaches with a reason (the SOCKS front: why the connection closed). */
  close(reason: string): Promise<void> {
    this.#detached ??= this.host.detach(this, reason);
    return this.#detached;
  }

  /** The node ended the session itself (closing): the user is detached, then the endpoint told. */
  end(reason: string): Promise<void> {
    if (this.#detached) return this.#detached;
    this.#detached = this.host.detach(this, reason);
    try {
      this.endpoint.detached?.(reason);
    } catch {
      // the way in's own business; the session is over either way
    }
    return this.#detached;
  }

  #withSender(event: OutgoingEvent): CanonicalEvent {
    if (event.kind === 'roster' || ('from' in event && event.from !== undefined))
      return event as CanonicalEvent;
    return { ...event, from: this.address } as CanonicalEvent;
  }

  #closedError(kind: string): NotLoggedInError {
    return new NotLoggedInError(`session ${this.id} of this user is detached: cannot send a ${kind}`);
  }
}
