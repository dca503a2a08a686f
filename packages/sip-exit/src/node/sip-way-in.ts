import type { Address, CallInviteEvent, CallSignal, CallSignalEvent } from '@crosstalk/core';
import { address, addressKey, type CanonicalEvent, isCrossTalkError, LIMITS } from '@crosstalk/core';
import { type CrossTalkNode, ExitRefusedError, type UserSession } from '@crosstalk/gateway';
import type { IncomingCall, PlaceCallOptions, SipCall } from '../calls/sip-calls.js';
import { SipCallFailedError } from '../errors/errors.js';
import type { SipDestination } from '../transaction/context.js';

/** Who a bridged call's signals are sent as: the phone's session on the node, or the exit speaking for the phone. */
interface Sender {
  /** Sends an event from the phone's address. */
  send(event: Omit<CallSignalEvent, 'from'>): Promise<unknown>;
  /** True once nothing more can be sent. */
  readonly closed: boolean;
}

/** A call between a phone here and a CrossTalk user elsewhere, by the call's id. */
type Bridged =
  | {
      /** A CrossTalk user called the phone (`placeCall`). */
      direction: 'to-phone';
      /** The CrossTalk party. */
      party: Address;
      /** The phone's session on the node, or the exit. */
      session: Sender;
      /** The SIP call, once placed. */
      call?: SipCall;
      /** The caller cancelled before `placeCall` resolved. */
      cancelled?: boolean;
      answered: boolean;
    }
  | {
      /** The phone called a CrossTalk user. */
      direction: 'from-phone';
      party: Address;
      session: Sender;
      incoming: IncomingCall;
      answered: boolean;
    };

/** What a SIP failure is as a call signal (RFC 3261 §21: 486 busy, 603 decline, 408/480 no answer). */
function signalOf(error: unknown): { signal: CallSignal; reason: string } | undefined {
  if (error instanceof SipCallFailedError) {
    const reason = `${error.status} ${error.reason}`.slice(0, LIMITS.name);
    if (error.status === 487) return undefined; // the caller's own cancel
    if (error.status === 486 || error.status === 600) return { signal: 'busy', reason };
    if (error.status === 603) return { signal: 'decline', reason };
    if (error.status === 408 || error.status === 480) return { signal: 'timeout', reason };
    return { signal: 'decline', reason };
  }
  return { signal: 'timeout', reason: isCrossTalkError(error) ? error.code : 'no answer' };
}

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
  /** Where a call to an address on a domain the exit exits to goes (its configured target), if anywhere. */
  outbound?: (domain: string) => SipDestination | undefined;
  /** Counts a refused call signal (`ERR_UNKNOWN_CALL`, `ERR_CALL_SIGNAL_REFUSED`). */
  refused?: (code: string, event: CallSignalEvent) => void;
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
    }
  | {
      /** A call signal from a CrossTalk user was refused (unknown call, not theirs to say). */
      type: 'signal-refused';
      /** The signal. */
      event: CallSignalEvent;
      /** `ERR_UNKNOWN_CALL` or `ERR_CALL_SIGNAL_REFUSED`. */
      code: string;
    };

/**
 * The SIP exit as a way in to a CrossTalk node (the engine's `attach`): each AOR registered at the
 * exit is a user of the node (`bob@<domain>`, protocol `sip`) while it has a binding, so a
 * `call-invite` any CrossTalk user sends to it reaches the exit, which calls the phone
 * (`placeCall`); and a phone's call to a CrossTalk user (`sip:alice@jabber.example` through the
 * exit) is sent as a `call-invite` from the phone's AOR. The call's progress crosses the node as
 * `call-signal` events both ways (180 -> ringing, 200 -> answer with the SDP, 486/603/408 -> busy,
 * decline, timeout, CANCEL -> cancel, BYE -> hangup, and back), and the way in keeps the rules of who
 * may say what: a signal for a call id it does not bridge is refused (`ERR_UNKNOWN_CALL`), and one
 * from anyone but the CrossTalk party of that call, or not theirs to say (a caller answering, a
 * callee cancelling), too (`ERR_CALL_SIGNAL_REFUSED`); each is counted.
 */
export class SipWayIn {
  readonly #o: SipWayInOptions;
  readonly #sessions = new Map<string, Promise<UserSession | undefined>>();
  readonly #calls = new Map<string, Bridged>();

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
      affinity: (event: CanonicalEvent) =>
        event.kind === 'call-invite' || event.kind === 'call-signal' ? 1 : 0,
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

  /** Calls bridged now (tests, metrics). */
  get bridged(): number {
    return this.#calls.size;
  }

  /** A `call-invite` for a registered AOR: call the phone; a `call-signal`: a bridged call's progress. */
  #deliver(event: CanonicalEvent): boolean {
    if (event.kind === 'call-signal') return this.#signal(event);
    if (event.kind !== 'call-invite') return false;
    if (this.#calls.has(event.id)) return false;
    const phone = `${event.to.user}@${event.to.network}`;
    const pending = this.#sessions.get(phone);
    if (!pending) return false;
    void pending.then((session) => {
      if (session) this.#place(event, session);
    });
    return true;
  }

  /**
   * A `call-invite` whose chain ended at the exit (`canonical:<form>>exit:sip`) for an address on a
   * domain it exits to: the call goes to that domain's configured target. A `call-signal`: a bridged
   * call's progress, checked as from a registered phone's caller. Anything else is refused.
   */
  exitDeliver(event: CanonicalEvent, send: (event: CallSignalEvent) => Promise<unknown>): boolean {
    if (event.kind === 'call-signal') return this.#signal(event);
    if (event.kind !== 'call-invite' || this.#calls.has(event.id)) return false;
    const target = this.#o.outbound?.(event.to.network);
    if (!target) throw new ExitRefusedError(`the SIP exit has no outbound target for ${event.to.network}`);
    const phone = event.to;
    let closed = false;
    this.#place(
      event,
      {
        send: (e) =>
          send({ ...e, from: phone }).catch((error: unknown) => {
            // The caller's node is gone: nothing more goes to it.
            if (isCrossTalkError(error, 'ERR_USER_OFFLINE')) closed = true;
            throw error;
          }),
        get closed() {
          return closed;
        },
      },
      target,
    );
    return true;
  }

  /** Calls the phone for a CrossTalk user's invite; the call's progress goes back as signals from `session`. */
  #place(event: CallInviteEvent, session: Sender, outbound?: SipDestination): void {
    const bridged: Bridged = { direction: 'to-phone', party: event.from, session, answered: false };
    this.#calls.set(event.id, bridged);
    const tell = (signal: CallSignal, extra: { sdp?: string; reason?: string } = {}) =>
      this.#tell(session, event.id, event.from, signal, extra);
    this.#o.placeCall(event, { onRinging: () => tell('ringing'), ...(outbound ? { outbound } : {}) }).then(
      (call) => {
        bridged.call = call;
        this.#o.onCall?.({ type: 'call-placed', invite: event, call });
        if (bridged.cancelled) void call.hangup().catch(() => {});
        call.answered.then(
          ({ sdp }) => {
            bridged.answered = true;
            tell('answer', { sdp });
          },
          (error: unknown) => {
            const s = signalOf(error);
            if (s && !bridged.cancelled) tell(s.signal, { reason: s.reason });
          },
        );
        void call.ended.then((end) => {
          this.#calls.delete(event.id);
          // The phone hung up (BYE) an answered call: the CrossTalk party is told.
          if (end.by === 'remote' && bridged.answered) tell('hangup', { reason: end.reason });
        });
      },
      (error: Error) => {
        this.#calls.delete(event.id);
        this.#o.onCall?.({ type: 'call-failed', invite: event, error });
        const s = signalOf(error);
        if (s && !bridged.cancelled) tell(s.signal, { reason: s.reason });
      },
    );
  }

  /** A CrossTalk party's signal about a bridged call, checked before the phone hears it. */
  #signal(event: CallSignalEvent): boolean {
    const refuse = (code: string) => {
      this.#o.refused?.(code, event);
      this.#o.onCall?.({ type: 'signal-refused', event, code });
      return false;
    };
    const bridged = this.#calls.get(event.id);
    if (!bridged) return refuse('ERR_UNKNOWN_CALL');
    if (addressKey(bridged.party) !== addressKey(event.from)) return refuse('ERR_CALL_SIGNAL_REFUSED');
    if (bridged.direction === 'to-phone') {
      // The CrossTalk party is the caller: it cancels while the phone rings, hangs up once answered.
      if (event.signal === 'cancel' && !bridged.answered) {
        bridged.cancelled = true;
        void bridged.call?.hangup().catch(() => {});
        return true;
      }
      if (event.signal === 'hangup') {
        bridged.cancelled = !bridged.answered;
        void bridged.call?.hangup().catch(() => {});
        return true;
      }
      return refuse('ERR_CALL_SIGNAL_REFUSED');
    }
    // The CrossTalk party is the callee: it rings, answers, declines, is busy or does not answer; hangs up.
    const { incoming } = bridged;
    switch (event.signal) {
      case 'ringing':
        return !bridged.answered || refuse('ERR_CALL_SIGNAL_REFUSED');
      case 'answer':
        if (bridged.answered || event.sdp === undefined) return refuse('ERR_CALL_SIGNAL_REFUSED');
        bridged.answered = true;
        incoming.accept(event.sdp);
        return true;
      case 'decline':
      case 'busy':
      case 'timeout':
        if (bridged.answered) return refuse('ERR_CALL_SIGNAL_REFUSED');
        this.#calls.delete(event.id);
        incoming.decline(
          event.signal === 'busy' ? 'busy' : event.signal === 'decline' ? 'decline' : 'unavailable',
        );
        return true;
      case 'hangup':
        this.#calls.delete(event.id);
        if (bridged.answered) void incoming.hangup().catch(() => {});
        else incoming.decline('decline');
        return true;
      default:
        return refuse('ERR_CALL_SIGNAL_REFUSED');
    }
  }

  /** The signals of each call, sent one after another (a ringing never overtakes its answer on G2G). */
  readonly #queues = new Map<string, Promise<unknown>>();

  /** Sends a signal from the phone's session to the CrossTalk party, after the call's earlier ones. */
  #tell(
    session: Sender,
    id: string,
    to: Address,
    signal: CallSignal,
    extra: { sdp?: string; reason?: string } = {},
  ): void {
    if (session.closed) return;
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => session.send({ kind: 'call-signal', id, to, signal, ...extra }))
      .catch(() => {});
    this.#queues.set(id, next);
    // The last signal of a call ends its queue.
    void next.then(() => {
      if (this.#queues.get(id) === next && !this.#calls.has(id)) this.#queues.delete(id);
    });
  }

  /** A phone calls an address no phone registered: a `call-invite` from the phone's AOR, if it is attached. */
  incoming(call: IncomingCall): boolean {
    const from = call.invite.from;
    const session = this.#sessions.get(`${from.user}@${from.network}`);
    if (!session) return false;
    const id = call.invite.id;
    void session.then(async (s) => {
      if (!s) return call.decline('unavailable');
      const bridged: Bridged = {
        direction: 'from-phone',
        party: call.invite.to,
        session: s,
        incoming: call,
        answered: false,
      };
      this.#calls.set(id, bridged);
      try {
        await s.send(call.invite);
        this.#o.onCall?.({ type: 'call-offered', invite: call.invite });
      } catch {
        this.#calls.delete(id);
        call.decline('unavailable');
        return;
      }
      // Nobody answered within the ring timeout: 480 to the phone, a cancel to the CrossTalk user.
      const timer = setTimeout(() => {
        if (bridged.answered || !this.#calls.has(id)) return;
        this.#calls.delete(id);
        call.decline('unavailable');
        this.#tell(s, id, bridged.party, 'cancel', { reason: 'no answer' });
      }, this.#o.ringTimeout);
      timer.unref?.();
      // The phone gave up (CANCEL): the CrossTalk user is told.
      call.cancelled.addEventListener(
        'abort',
        () => {
          if (!this.#calls.delete(id)) return;
          this.#tell(s, id, bridged.party, 'cancel', { reason: 'CANCEL' });
        },
        { once: true },
      );
      void call.ended.then((end) => {
        clearTimeout(timer);
        // The phone hung up (BYE) an answered call.
        if (this.#calls.delete(id) && end.by === 'remote')
          this.#tell(s, id, bridged.party, 'hangup', { reason: end.reason });
      });
    });
    return true;
  }

  /** Detaches every SIP user. */
  async close(): Promise<void> {
    const all = [...this.#sessions.keys()];
    for (const aor of all) await this.unregistered(aor);
  }
}
