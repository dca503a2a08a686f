import type { CallInviteEvent } from '@crosstalk/core';
import { address, type CanonicalEvent } from '@crosstalk/core';
import type { CrossTalkNode, UserSession } from '@crosstalk/gateway';
import type { IncomingCall, PlaceCallOptions, SipCall } from '../calls/sip-calls.js';

/** What the way in needs from the exit. */
export interface SipWayInOptions {
  /** The node SIP users are attached to. */
  node: CrossTalkNode;
  /** Places a call to a phone (the exit's `placeCall`). */
  placeCall(invite: CallInviteEvent, options?: PlaceCallOptions): Promise<SipCall>;
  /** ms a phone's call to a CrossTalk user rings before it is answered 480 (nothing answers it over G2G yet). */
  ringTimeout: number;
  /** Told about calls placed and offered, for logs and tests. */
  onCall?: (event: SipWayInEvent) => void;
}

/** What the way in reports. */
export type SipWayInEvent =
  | {
      /** A `call-invite` from a CrossTalk user became a SIP call to a phone. */
      type: 'call-placed';
      /** The invite. */
      invite: CallInviteEvent;
      /** The call. */
      call: SipCall;
    }
  | {
      /** A `call-invite` could not become a SIP call (nobody registered, a refused target). */
      type: 'call-failed';
      /** The invite. */
      invite: CallInviteEvent;
      /** Why. */
      error: Error;
    }
  | {
      /** A phone's call went to a CrossTalk user as a `call-invite` over the node. */
      type: 'call-offered';
      /** The invite. */
      invite: CallInviteEvent;
    };

/**
 * The SIP exit as a way in to a CrossTalk node (the engine's `attach`): each AOR registered at the
 * exit is a user of the node (`bob@<domain>`, protocol `sip`) while it has a binding, so a
 * `call-invite` any CrossTalk user sends to it reaches the exit, which calls the phone
 * (`placeCall`); and a phone's call to a CrossTalk user (`sip:alice@jabber.example` through the
 * exit) is sent as a `call-invite` from the phone's AOR. Only the invitation crosses the node: the
 * answer and the hangup need canonical call events that core does not have yet.
 */
export class SipWayIn {
  readonly #o: SipWayInOptions;
  readonly #sessions = new Map<string, Promise<UserSession | undefined>>();

  constructor(options: SipWayInOptions) {
    this.#o = options;
  }

  /** An AOR got its first binding: attach it. */
  registered(aor: string): void {
    if (this.#sessions.has(aor)) return;
    const at = aor.lastIndexOf('@');
    const user = address(aor.slice(0, at), aor.slice(at + 1));
    const endpoint = {
      deliver: (event: CanonicalEvent) => this.#deliver(event),
      affinity: (event: CanonicalEvent) => (event.kind === 'call-invite' ? 1 : 0),
    };
    this.#sessions.set(
      aor,
      this.#o.node.attach(user, endpoint, { protocol: 'sip', id: `sip:${aor}` }).catch(() => undefined),
    );
  }

  /** An AOR lost its last binding: detach it. */
  async unregistered(aor: string): Promise<void> {
    const session = this.#sessions.get(aor);
    this.#sessions.delete(aor);
    await (await session)?.detach();
  }

  /** A `call-invite` for a registered AOR: call the phone. Other events mean nothing to a phone here. */
  #deliver(event: CanonicalEvent): boolean {
    if (event.kind !== 'call-invite') return false;
    this.#o.placeCall(event).then(
      (call) => {
        call.answered.catch(() => {});
        this.#o.onCall?.({ type: 'call-placed', invite: event, call });
      },
      (error: Error) => this.#o.onCall?.({ type: 'call-failed', invite: event, error }),
    );
    return true;
  }

  /** A phone calls an address no phone registered: a `call-invite` from the phone's AOR, if it is attached. */
  incoming(call: IncomingCall): boolean {
    const from = call.invite.from;
    const session = this.#sessions.get(`${from.user}@${from.network}`);
    if (!session) return false;
    void session.then(async (s) => {
      if (!s) return call.decline('unavailable');
      try {
        await s.send(call.invite);
        this.#o.onCall?.({ type: 'call-offered', invite: call.invite });
      } catch {
        call.decline('unavailable');
        return;
      }
      // Nothing can answer it over the node yet (core has no answer event): 480 after the ring timeout.
      const timer = setTimeout(() => call.decline('unavailable'), this.#o.ringTimeout);
      timer.unref?.();
      void call.ended.then(() => clearTimeout(timer));
    });
    return true;
  }

  /** Detaches every SIP user. */
  async close(): Promise<void> {
    const all = [...this.#sessions.keys()];
    for (const aor of all) await this.unregistered(aor);
  }
}
