import { randomUUID } from 'node:crypto';
import {
  type Address,
  addressKey,
  type CallDeclineReason,
  type CallEnd,
  type CallInviteEvent,
  type CallSession,
  type CallSignal,
  type CallSignalEvent,
  formatAddress,
  InvalidEventError,
  LIMITS,
} from '@crosstalk/core';
import {
  CallBusyError,
  CallDeclinedError,
  CallEndedError,
  CallSignalRefusedError,
  CallUnansweredError,
  TooManyCallsError,
  UnknownCallError,
} from '../errors/errors.js';

/** The error `answered` rejects with when the call ends for `signal` before an answer. */
function failure(signal: CallSignal, message: string): Error {
  if (signal === 'decline') return new CallDeclinedError(message);
  if (signal === 'busy') return new CallBusyError(message);
  if (signal === 'timeout') return new CallUnansweredError(message);
  return new CallEndedError(message);
}

/** Defaults of the client's calls. */
export const CALL_DEFAULTS = {
  /** ms a dialled call rings before the caller cancels it: 60 s. */
  ringTimeout: 60_000,
  /** Calls (dialled, ringing here or answered) at once. */
  maxCalls: 16,
  /** ms an ended call's id is remembered, so late signals for it are told apart from unknown ids: 60 s. */
  linger: 60_000,
} as const;

/** What the calls need from the client. */
export interface ClientCallsOptions {
  /** The user. */
  self: Address;
  /** Sends a call event as the user (over the node, to the other party's node). */
  send(event: Omit<CallInviteEvent, 'from'> | Omit<CallSignalEvent, 'from'>): Promise<unknown>;
  /** Counts a refused signal (the node's `crosstalk_refused_total{reason}`). */
  refused(code: string, event: CallSignalEvent): void;
  /** Tells the application about a signal it accepted. */
  emit(event: CallSignalEvent): void;
  /** ms a dialled call rings before it is cancelled. */
  ringTimeout: number;
  /** Calls at once. */
  maxCalls: number;
}

/** Which side of the call this client is. */
type Role = 'caller' | 'callee';
type State = 'ringing' | 'answered' | 'ended';

/** One call this client is a party of. */
class ClientCall implements CallSession {
  readonly answered: Promise<{ sdp: string }>;
  readonly ended: Promise<CallEnd>;
  state: State = 'ringing';
  #resolveAnswer!: (answer: { sdp: string }) => void;
  #rejectAnswer!: (error: Error) => void;
  #resolveEnd!: (end: CallEnd) => void;
  #timer: NodeJS.Timeout | undefined;
  onRinging: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly peer: Address,
    readonly role: Role,
    readonly calls: ClientCalls,
  ) {
    this.answered = new Promise((resolve, reject) => {
      this.#resolveAnswer = resolve;
      this.#rejectAnswer = reject;
    });
    // A caller who only awaits `ended` does not leave an unhandled rejection behind.
    this.answered.catch(() => {});
    this.ended = new Promise((resolve) => {
      this.#resolveEnd = resolve;
    });
  }

  /** Cancels the call when nobody answered in `ms`. */
  ringFor(ms: number): void {
    this.#timer = setTimeout(() => {
      if (this.state !== 'ringing') return;
      this.finish('none', 'no answer', new CallUnansweredError(`${formatAddress(this.peer)} did not answer`));
      void this.calls.signal(this, 'cancel', 'no answer').catch(() => {});
    }, ms);
    this.#timer.unref?.();
  }

  answer(sdp: string): void {
    if (this.state !== 'ringing') return;
    this.state = 'answered';
    clearTimeout(this.#timer);
    this.#resolveAnswer({ sdp });
  }

  /** Ends the call: the answer rejects with `error` when it had not come. */
  finish(by: CallEnd['by'], reason: string, error?: Error): void {
    if (this.state === 'ended') return;
    const wasRinging = this.state === 'ringing';
    this.state = 'ended';
    clearTimeout(this.#timer);
    if (wasRinging)
      this.#rejectAnswer(error ?? new CallEndedError(`the call ended before an answer (${reason})`));
    this.#resolveEnd({ by, reason });
    this.calls.forget(this);
  }

  async hangup(reason?: string): Promise<void> {
    if (this.state === 'ended') return;
    const signal: CallSignal =
      this.state === 'answered' ? 'hangup' : this.role === 'caller' ? 'cancel' : 'decline';
    const why = reason ?? signal;
    this.finish(
      'local',
      why,
      new CallEndedError(`the call was ${signal === 'cancel' ? 'cancelled' : 'ended'} here`),
    );
    await this.calls.signal(this, signal, why);
  }
}

/**
 * The client's calls (issue 19): the offer/answer of core's `CallSession` carried as canonical
 * `call-invite` and `call-signal` events to the other party's node, and the receiver's rules on who
 * may say what (docs/ARCHITECTURE.md "Calls"): a signal for a call id this client does not know is
 * refused (`ERR_UNKNOWN_CALL`); only the callee answers, declines, is busy or times out; only the
 * caller cancels; only the two parties hang up; a signal that does not fit the call's state is refused
 * (`ERR_CALL_SIGNAL_REFUSED`). The node already checked that the link's node serves the sender.
 */
export class ClientCalls {
  readonly #o: ClientCallsOptions;
  readonly #calls = new Map<string, ClientCall>();
  /** Invitations received and not yet answered, by call id. */
  readonly #invites = new Map<string, CallInviteEvent>();
  /** Ids of calls that ended lately: a late signal for one is dropped, not refused as unknown. */
  readonly #ended = new Map<string, number>();
  /** Each call's events, sent one after another (a ringing never overtakes its answer on G2G). */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: ClientCallsOptions) {
    this.#o = options;
  }

  /** Sends a call's event after its earlier ones; resolves or rejects with this one's outcome. */
  #send(event: Omit<CallInviteEvent, 'from'> | Omit<CallSignalEvent, 'from'>): Promise<unknown> {
    const previous = this.#queues.get(event.id) ?? Promise.resolve();
    const sending = previous.catch(() => {}).then(() => this.#o.send(event));
    const settled = sending.catch(() => {});
    this.#queues.set(event.id, settled);
    void settled.then(() => {
      if (this.#queues.get(event.id) === settled) this.#queues.delete(event.id);
    });
    return sending;
  }

  /** Calls under way (dialled, ringing or answered). */
  get size(): number {
    return this.#calls.size;
  }

  async dial(
    to: Address,
    sdp: string,
    media: readonly ('audio' | 'video')[],
    options: { ringTimeout?: number; onRinging?: () => void; signal?: AbortSignal },
  ): Promise<CallSession> {
    checkSdp(sdp);
    if (media.length === 0 || media.some((m) => m !== 'audio' && m !== 'video'))
      throw new InvalidEventError('media is audio, video or both');
    if (this.#calls.size >= this.#o.maxCalls) throw new TooManyCallsError(this.#calls.size);
    const call = new ClientCall(randomUUID(), to, 'caller', this);
    call.onRinging = options.onRinging;
    this.#calls.set(call.id, call);
    try {
      await this.#send({ kind: 'call-invite', id: call.id, to, sdp, media: [...new Set(media)] });
    } catch (error) {
      this.#calls.delete(call.id);
      throw error;
    }
    call.ringFor(options.ringTimeout ?? this.#o.ringTimeout);
    if (options.signal) {
      const abort = () => void call.hangup('aborted').catch(() => {});
      if (options.signal.aborted) abort();
      else options.signal.addEventListener('abort', abort, { once: true });
      void call.ended.then(() => options.signal?.removeEventListener('abort', abort));
    }
    return call;
  }

  /** An invitation arrived for the user: remembered until answered, declined or cancelled. */
  invited(invite: CallInviteEvent): boolean {
    if (this.#calls.has(invite.id) || this.#invites.has(invite.id)) return false;
    if (this.#calls.size + this.#invites.size >= this.#o.maxCalls) {
      // Busy: too many calls at once (the caller hears busy).
      void this.#send({
        kind: 'call-signal',
        id: invite.id,
        to: invite.from,
        signal: 'busy',
        reason: 'too many calls',
      }).catch(() => {});
      return true;
    }
    this.#invites.set(invite.id, invite);
    // The caller hears it ring (SIP's 180): the application has it.
    void this.#send({ kind: 'call-signal', id: invite.id, to: invite.from, signal: 'ringing' }).catch(
      () => {},
    );
    return true;
  }

  async answer(invite: CallInviteEvent, sdp: string): Promise<CallSession> {
    checkSdp(sdp);
    const held = this.#invites.get(invite?.id);
    if (!held || addressKey(held.from) !== addressKey(invite.from))
      throw new UnknownCallError(String(invite?.id));
    this.#invites.delete(held.id);
    const call = new ClientCall(held.id, held.from, 'callee', this);
    this.#calls.set(call.id, call);
    call.answer(sdp);
    try {
      await this.signal(call, 'answer', undefined, sdp);
    } catch (error) {
      call.finish('none', 'the answer could not be sent');
      throw error;
    }
    return call;
  }

  async decline(invite: CallInviteEvent, reason: CallDeclineReason): Promise<void> {
    if (reason !== 'decline' && reason !== 'busy') throw new InvalidEventError('a call is declined or busy');
    const held = this.#invites.get(invite?.id);
    if (!held || addressKey(held.from) !== addressKey(invite.from))
      throw new UnknownCallError(String(invite?.id));
    this.#invites.delete(held.id);
    this.#remember(held.id);
    await this.#send({ kind: 'call-signal', id: held.id, to: held.from, signal: reason });
  }

  /** @internal Sends a signal about `call` to its other party. */
  signal(call: ClientCall, signal: CallSignal, reason?: string, sdp?: string): Promise<unknown> {
    return this.#send({
      kind: 'call-signal',
      id: call.id,
      to: call.peer,
      signal,
      ...(sdp === undefined ? {} : { sdp }),
      ...(reason === undefined ? {} : { reason: reason.slice(0, LIMITS.name) }),
    });
  }

  /** @internal The call is over. */
  forget(call: ClientCall): void {
    this.#calls.delete(call.id);
    this.#remember(call.id);
  }

  /**
   * A signal arrived: applied when the rules allow it, else refused and counted. Returns whether
   * it was accepted (a refused one is undeliverable for the sender).
   */
  received(event: CallSignalEvent): boolean {
    const refuse = (error: Error & { code: string }) => {
      this.#o.refused(error.code, event);
      return false;
    };
    const from = addressKey(event.from);
    const invite = this.#invites.get(event.id);
    if (invite) {
      // Ringing here: only its caller may cancel it.
      if (addressKey(invite.from) !== from)
        return refuse(new CallSignalRefusedError(event.signal, 'it is not a party of the call'));
      if (event.signal !== 'cancel' && event.signal !== 'hangup')
        return refuse(
          new CallSignalRefusedError(event.signal, 'only the callee says that, and the callee is here'),
        );
      this.#invites.delete(event.id);
      this.#remember(event.id);
      this.#o.emit(event);
      return true;
    }
    const call = this.#calls.get(event.id);
    if (!call) {
      if (this.#ended.has(event.id)) return true; // late (a hangup crossing ours): nothing to do
      return refuse(new UnknownCallError(event.id));
    }
    if (addressKey(call.peer) !== from)
      return refuse(new CallSignalRefusedError(event.signal, 'it is not a party of the call'));
    switch (event.signal) {
      case 'ringing':
      case 'answer':
      case 'decline':
      case 'busy':
      case 'timeout':
        if (call.role !== 'caller' || call.state !== 'ringing')
          return refuse(
            new CallSignalRefusedError(event.signal, 'only the callee says that, while the call rings'),
          );
        if (event.signal === 'ringing') call.onRinging?.();
        else if (event.signal === 'answer') {
          if (event.sdp === undefined)
            return refuse(new CallSignalRefusedError('answer', 'an answer carries SDP'));
          call.answer(event.sdp);
        } else
          call.finish(
            'remote',
            event.reason ?? event.signal,
            failure(event.signal, `${formatAddress(call.peer)}: ${event.reason ?? event.signal}`),
          );
        break;
      case 'cancel':
        if (call.role !== 'callee' || call.state !== 'ringing')
          return refuse(new CallSignalRefusedError('cancel', 'only the caller cancels, before the answer'));
        call.finish('remote', event.reason ?? 'cancel');
        break;
      case 'hangup':
        call.finish('remote', event.reason ?? 'hangup', new CallEndedError('the other party hung up'));
        break;
    }
    this.#o.emit(event);
    return true;
  }

  /** Ends every call (the client closes): a hangup or cancel to each other party. */
  async close(): Promise<void> {
    for (const invite of this.#invites.values())
      await this.#send({
        kind: 'call-signal',
        id: invite.id,
        to: invite.from,
        signal: 'decline',
        reason: 'closed',
      }).catch(() => {});
    this.#invites.clear();
    for (const call of [...this.#calls.values()]) await call.hangup('closed').catch(() => {});
  }

  #remember(id: string): void {
    const now = Date.now();
    for (const [old, at] of this.#ended) {
      if (at > now - CALL_DEFAULTS.linger && this.#ended.size < 1024) break;
      this.#ended.delete(old);
    }
    this.#ended.set(id, now);
  }
}

function checkSdp(sdp: unknown): asserts sdp is string {
  if (typeof sdp !== 'string' || sdp.length === 0)
    throw new InvalidEventError('a call needs an SDP offer or answer');
  if (sdp.length > LIMITS.sdp) throw new InvalidEventError(`SDP over ${LIMITS.sdp} characters`);
}
