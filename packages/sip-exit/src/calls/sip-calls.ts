import { randomBytes } from 'node:crypto';
import { type Address, address, type CallInviteEvent, type CallSession, LIMITS } from '@crosstalk/core';
import { SipCallFailedError, SipTransactionTimeoutError, SipTransportError } from '../errors/errors.js';
import { parseCSeq } from '../grammar/cseq.js';
import { parseNameAddr, tagOf } from '../grammar/name-addr.js';
import { parseSipUri } from '../grammar/uri.js';
import { SipHeaders } from '../message/headers.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { newTag, responseFor } from '../message/responses.js';
import { destinationOf, type ExitAddresses } from '../proxy/routing.js';
import type { Location } from '../proxy/sip-proxy.js';
import { EXIT_HOP_PARAM } from '../proxy/sip-proxy.js';
import type { SipDestination } from '../transaction/context.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import { newBranch, type TransactionLayer } from '../transaction/transaction-layer.js';

/** How a call ended. */
export interface CallEnd {
  /** Who ended it: this side (`hangup`), the far end (BYE, CANCEL), or neither (no answer, a failure). */
  by: 'local' | 'remote' | 'none';
  /** Why, for people (`BYE`, `487 Request Terminated`, ...). */
  reason: string;
}

/** What a phone answered with. */
export interface CallAnswer {
  /** The callee's SDP answer. */
  sdp: string;
}

/** A call the exit placed to a phone (`SipExit.placeCall`): core's `CallSession`, with its end. */
export interface SipCall extends CallSession {
  /** Resolves with the callee's SDP answer on 200; rejects when the call fails (see `placeCall`). */
  readonly answered: Promise<CallAnswer>;
  /** Resolves when the call is over, answered or not. */
  readonly ended: Promise<CallEnd>;
}

/** Options of `SipExit.placeCall`. */
export interface PlaceCallOptions {
  /** Aborting it hangs up (CANCEL before the answer, BYE after). */
  signal?: AbortSignal;
  /** ms to wait for an answer before cancelling (default: the exit's `ringTimeout`). */
  ringTimeout?: number;
  /** Told when the phone rings (180, 183). */
  onRinging?: () => void;
  /**
   * Sends the INVITE to this address (an exit's configured target for the callee's domain) with the
   * Request-URI `sip:<user>@<domain>`, instead of finding a registered phone.
   */
  outbound?: SipDestination;
}

/** Why an incoming call is declined: 486 Busy Here, 603 Decline, 480 Temporarily Unavailable. */
export type DeclineReason = 'busy' | 'decline' | 'unavailable';

/**
 * A call from a phone to an address no phone has registered (`alice@<network>`), offered to the
 * exit's `onCallInvite`: the canonical `call-invite` and how to answer it.
 */
export interface IncomingCall {
  /** The call as a canonical `call-invite` event (the caller's SDP offer in `sdp`). */
  readonly invite: CallInviteEvent;
  /** Aborted when the caller cancels before an answer. */
  readonly cancelled: AbortSignal;
  /** Resolves when the call is over. */
  readonly ended: Promise<CallEnd>;
  /** Answers with an SDP answer (200 OK). */
  accept(sdp: string): void;
  /** Declines (486, 603 or 480). */
  decline(reason: DeclineReason): void;
  /** Ends an answered call (BYE). */
  hangup(): Promise<void>;
}

/** What the calls need from the exit. */
export interface SipCallsOptions {
  /** The transaction layer. */
  layer: TransactionLayer;
  /** Sends a message without a transaction (ACK for 2xx, 2xx retransmissions). */
  send(message: SipRequest | SipResponse, to: SipDestination): void;
  /** Where the exit listens. */
  addresses(): ExitAddresses;
  /** The location service. */
  locate(aor: string): Promise<Location>;
  /** The AOR (`user@domain`) a SIP URI stands for (the exit's own host is its domain). */
  aorOf(uri: string): string | undefined;
  /** Whether requests may go to an address. */
  allowTarget(destination: SipDestination): boolean;
  /** ms a call may ring unanswered (the exit's `ringTimeout`). */
  ringTimeout: number;
  /** Told of calls from phones to addresses no phone registered; true when it takes the call. */
  onCallInvite?: (call: IncomingCall) => boolean;
}

/** One dialog this exit is an end of (RFC 3261 §12), as the caller (UAC) or the callee (UAS). */
interface Dialog {
  callId: string;
  localTag: string;
  remoteTag: string | undefined;
  localUri: string;
  remoteUri: string;
  /** Where in-dialog requests go (the far end's Contact). */
  remoteTarget: string | undefined;
  /** Route set, in the order requests carry it. */
  routes: string[];
  localSeq: number;
  /** The ACK for the 2xx (UAC): sent again when the 2xx is retransmitted. */
  ack?: { request: SipRequest; to: SipDestination };
  /** Handles a request inside the dialog (BYE, ACK); true when handled. */
  onRequest(request: SipRequest, server: ServerTransaction | undefined): void;
  ended: boolean;
}

const DECLINE_STATUS: Record<DeclineReason, number> = { busy: 486, decline: 603, unavailable: 480 };

/** RFC 3261 §25.1 user-part characters; others are escaped. */
function escapeUser(user: string): string {
  return [...new TextEncoder().encode(user)]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/.test(c)
        ? c
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** The media an SDP offers (RFC 4566 `m=` lines), audio when it names none we know. */
function mediaOf(sdp: string): ('audio' | 'video')[] {
  const media = new Set<'audio' | 'video'>();
  for (const m of sdp.matchAll(/^m=(audio|video) /gm)) media.add(m[1] as 'audio' | 'video');
  return media.size > 0 ? [...media] : ['audio'];
}

/** The CrossTalk address of an AOR (`user@domain`, the user unescaped). */
function addressOfAor(aor: string): Address {
  const at = aor.lastIndexOf('@');
  return address(decodeURIComponent(aor.slice(0, at)), aor.slice(at + 1));
}

/**
 * The exit as a SIP user agent (RFC 3261 §12-15): calls it places to phones for CrossTalk users
 * (core's `CallSession`: ringing, the callee's SDP answer, busy, decline, timeout, CANCEL, BYE), and
 * calls from phones to CrossTalk users offered as canonical `call-invite` events. Signalling only:
 * media goes between the endpoints the SDP names.
 */
export class SipCalls {
  readonly #o: SipCallsOptions;
  readonly #dialogs = new Map<string, Dialog>();
  /** Incoming calls not answered yet, by their INVITE's server transaction. */
  readonly #ringing = new Map<ServerTransaction, { cancel(): void }>();

  constructor(options: SipCallsOptions) {
    this.#o = options;
  }

  /** Dialogs alive. */
  get size(): number {
    return this.#dialogs.size;
  }

  #contact(transport: 'udp' | 'tcp'): string {
    const a = this.#o.addresses();
    const port = transport === 'tcp' ? a.tcpPort : a.udpPort;
    return `<sip:crosstalk@${a.host}:${port}${transport === 'tcp' ? ';transport=tcp' : ''}>`;
  }

  #via(transport: 'udp' | 'tcp', exitHop = false): string {
    const a = this.#o.addresses();
    const port = transport === 'tcp' ? a.tcpPort : a.udpPort;
    return `SIP/2.0/${transport.toUpperCase()} ${a.host}:${port};branch=${newBranch()};rport${exitHop ? `;${EXIT_HOP_PARAM}` : ''}`;
  }

  /** Where an in-dialog request goes: the first Route, or the remote target (RFC 3261 §12.2.1.1, loose routing). */
  async #nextHop(dialog: Dialog): Promise<SipDestination> {
    const first = dialog.routes[0];
    return destinationOf(
      parseSipUri(first ? parseNameAddr(first).uri : (dialog.remoteTarget ?? dialog.remoteUri)),
    );
  }

  #inDialogRequest(dialog: Dialog, method: string, seq: number, transport: 'udp' | 'tcp'): SipRequest {
    const headers = new SipHeaders();
    headers.append('Via', this.#via(transport));
    headers.append('Max-Forwards', '70');
    for (const route of dialog.routes) headers.append('Route', route);
    headers.append('From', `<${dialog.localUri}>;tag=${dialog.localTag}`);
    headers.append('To', `<${dialog.remoteUri}>${dialog.remoteTag ? `;tag=${dialog.remoteTag}` : ''}`);
    headers.append('Call-ID', dialog.callId);
    headers.append('CSeq', `${seq} ${method}`);
    return {
      kind: 'request',
      method,
      uri: dialog.remoteTarget ?? dialog.remoteUri,
      headers,
      body: new Uint8Array(0),
    };
  }

  /** Sends BYE in a dialog and waits for its answer (or its timeout). */
  async #bye(dialog: Dialog): Promise<void> {
    const to = await this.#nextHop(dialog);
    if (!this.#o.allowTarget(to)) return;
    dialog.localSeq += 1;
    const bye = this.#inDialogRequest(dialog, 'BYE', dialog.localSeq, to.transport);
    await new Promise<void>((resolve) => {
      this.#o.layer.startClient(bye, to, {
        onResponse: (r) => {
          if (r.status >= 200) resolve();
        },
        onTimeout: () => resolve(),
        onTransportError: () => resolve(),
      });
    });
  }

  #key(callId: string, localTag: string): string {
    return `${callId}|${localTag}`;
  }

  // ------------------------------------------------------------ outgoing: a CrossTalk user calls a phone

  /**
   * Places a call for `invite.from` to the phone registered as `invite.to` (`user@domain`): INVITE
   * with the offer to the contact the location service finds (here, or through the exit that holds
   * it). Rejects with `SipCallFailedError` (404, 480) when nobody is registered; otherwise resolves
   * at once with the call, whose `answered` resolves with the callee's SDP on 200, or rejects with
   * `SipCallFailedError` (486 busy, 603 declined, 408 unanswered, 487 cancelled, ...),
   * `SipTransactionTimeoutError` or `SipTransportError`.
   */
  async place(invite: CallInviteEvent, options: PlaceCallOptions = {}): Promise<SipCall> {
    const aor = `${invite.to.user}@${invite.to.network}`;
    const location: Location = options.outbound
      ? { kind: 'exit', exit: '', destination: options.outbound }
      : await this.#o.locate(aor);
    if (location.kind === 'none')
      throw new SipCallFailedError(
        location.known ? 480 : 404,
        location.known ? 'Temporarily Unavailable' : 'Not Found',
      );
    let destination: SipDestination;
    let requestUri: string;
    if (location.kind === 'exit') {
      destination = location.destination;
      requestUri = `sip:${escapeUser(invite.to.user)}@${invite.to.network}`;
    } else {
      destination = location.via ?? (await destinationOf(parseSipUri(location.uri)));
      requestUri = location.uri;
    }
    if (!this.#o.allowTarget(destination)) throw new SipCallFailedError(403, 'Target Not Allowed');
    const callId = `${randomBytes(12).toString('hex')}@crosstalk`;
    const dialog: Dialog = {
      callId,
      localTag: newTag(),
      remoteTag: undefined,
      localUri: `sip:${escapeUser(invite.from.user)}@${invite.from.network}`,
      remoteUri: `sip:${escapeUser(invite.to.user)}@${invite.to.network}`,
      remoteTarget: undefined,
      routes: [],
      localSeq: 1,
      onRequest: () => {},
      ended: false,
    };
    const headers = new SipHeaders();
    // The exit-to-exit mark only for another exit (an outbound target is a SIP server or phone).
    headers.append('Via', this.#via(destination.transport, location.kind === 'exit' && !options.outbound));
    headers.append('Max-Forwards', '70');
    headers.append(
      'From',
      `"${invite.from.user}@${invite.from.network}" <${dialog.localUri}>;tag=${dialog.localTag}`,
    );
    headers.append('To', `<${dialog.remoteUri}>`);
    headers.append('Call-ID', callId);
    headers.append('CSeq', '1 INVITE');
    headers.append('Contact', this.#contact(destination.transport));
    headers.append('Content-Type', 'application/sdp');
    const request: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: requestUri,
      headers,
      body: new TextEncoder().encode(invite.sdp),
    };

    let resolveAnswer!: (a: { sdp: string }) => void;
    let rejectAnswer!: (e: Error) => void;
    const answered = new Promise<{ sdp: string }>((resolve, reject) => {
      resolveAnswer = resolve;
      rejectAnswer = reject;
    });
    answered.catch(() => {}); // a caller that never looks at `answered` must not crash the process
    let resolveEnd!: (e: CallEnd) => void;
    const ended = new Promise<CallEnd>((resolve) => {
      resolveEnd = resolve;
    });
    let state: 'calling' | 'ringing' | 'answered' | 'ended' = 'calling';
    let cancelWanted = false;
    let cancelSent = false;
    let provisional = false;
    let timer: unknown;
    const scheduler = this.#o.layer.scheduler;
    const key = this.#key(callId, dialog.localTag);
    const finish = (end: CallEnd) => {
      if (state === 'ended') return;
      state = 'ended';
      dialog.ended = true;
      if (timer !== undefined) scheduler.clear(timer);
      // The dialog stays a little for 2xx retransmissions (re-ACK), then goes.
      scheduler.set(64 * this.#o.layer.timers.T1, () => this.#dialogs.delete(key));
      resolveEnd(end);
    };
    const sendCancel = () => {
      if (cancelSent) return;
      cancelSent = true;
      const cancel: SipRequest = {
        kind: 'request',
        method: 'CANCEL',
        uri: request.uri,
        headers: new SipHeaders()
          .append('Via', headers.list('via')[0] ?? '')
          .append('Max-Forwards', '70')
          .append('From', headers.get('from') ?? '')
          .append('To', headers.get('to') ?? '')
          .append('Call-ID', callId)
          .append('CSeq', '1 CANCEL'),
        body: new Uint8Array(0),
      };
      this.#o.layer.startClient(cancel, destination, {
        onResponse() {},
        onTimeout() {},
        onTransportError() {},
      });
    };
    const cancel = () => {
      if (state === 'answered' || state === 'ended' || cancelWanted) return;
      cancelWanted = true;
      // §9.1: a CANCEL only once a provisional response came.
      if (provisional) sendCancel();
    };
    dialog.onRequest = (req, server) => {
      if (req.method === 'BYE' && server) {
        server.respond(responseFor(req, 200));
        finish({ by: 'remote', reason: 'BYE' });
      } else if (server) server.respond(responseFor(req, req.method === 'ACK' ? 200 : 405));
    };
    this.#dialogs.set(key, dialog);

    this.#o.layer.startClient(request, destination, {
      onResponse: (response) => {
        const status = response.status;
        if (status < 200) {
          provisional = true;
          if (status > 100 && state === 'calling') {
            state = 'ringing';
            options.onRinging?.();
          }
          if (cancelWanted) sendCancel();
          return;
        }
        if (status < 300) {
          void this.#answered(dialog, response, destination).then((ack) => {
            dialog.ack = ack;
          });
          if (state === 'ended' || cancelWanted) {
            // Answered while we hung up: end it at once (§15: BYE after the ACK).
            state = 'answered';
            void this.#bye(dialog).then(() => finish({ by: 'local', reason: 'BYE' }));
            rejectAnswer(new SipCallFailedError(487, 'Request Terminated'));
            return;
          }
          state = 'answered';
          if (timer !== undefined) scheduler.clear(timer);
          resolveAnswer({ sdp: new TextDecoder().decode(response.body) });
          return;
        }
        rejectAnswer(new SipCallFailedError(status, response.reason));
        finish({
          by: status === 487 && cancelWanted ? 'local' : 'remote',
          reason: `${status} ${response.reason}`,
        });
      },
      onTimeout: () => {
        rejectAnswer(new SipTransactionTimeoutError(`no final response to the INVITE for ${aor}`));
        finish({ by: 'none', reason: 'timeout' });
      },
      onTransportError: () => {
        rejectAnswer(new SipTransportError(`the INVITE for ${aor} could not be sent`));
        finish({ by: 'none', reason: 'transport error' });
      },
    });
    timer = scheduler.set(options.ringTimeout ?? this.#o.ringTimeout, () => {
      timer = undefined;
      if (state !== 'calling' && state !== 'ringing') return;
      cancel();
      rejectAnswer(new SipCallFailedError(408, 'Request Timeout (no answer)'));
      finish({ by: 'none', reason: 'no answer' });
    });
    const hangup = async () => {
      if (state === 'answered') {
        state = 'ended';
        await this.#bye(dialog);
        dialog.ended = true;
        if (timer !== undefined) scheduler.clear(timer);
        scheduler.set(64 * this.#o.layer.timers.T1, () => this.#dialogs.delete(key));
        resolveEnd({ by: 'local', reason: 'BYE' });
        return;
      }
      cancel();
      await ended;
    };
    options.signal?.addEventListener('abort', () => void hangup(), { once: true });
    return { id: invite.id, peer: invite.to, answered, ended, hangup: async () => hangup() };
  }

  /** Records the dialog a 2xx made and sends its ACK (§13.2.2.4); returns the ACK, kept for retransmitted 2xx. */
  async #answered(
    dialog: Dialog,
    response: SipResponse,
    fallback: SipDestination,
  ): Promise<{ request: SipRequest; to: SipDestination }> {
    dialog.remoteTag = tagOf(response.headers.get('to'));
    const contact = response.headers.list('contact')[0];
    try {
      if (contact) dialog.remoteTarget = parseNameAddr(contact).uri;
    } catch {
      // no usable Contact: requests go to the To URI
    }
    // §12.1.2: the UAC's route set is the Record-Route in reverse.
    dialog.routes = response.headers.list('record-route').reverse();
    const to = dialog.routes.length > 0 || dialog.remoteTarget ? await this.#nextHop(dialog) : fallback;
    const seq = parseCSeq(response.headers.get('cseq') ?? '1 INVITE').seq;
    const ack = this.#inDialogRequest(dialog, 'ACK', seq, to.transport);
    if (this.#o.allowTarget(to)) this.#o.send(ack, to);
    return { request: ack, to };
  }

  // ------------------------------------------------------------ incoming: a phone calls a CrossTalk user

  /**
   * An INVITE for an AOR no phone registered: offered to `onCallInvite` as a `call-invite`. True
   * when taken: the exit rings the caller (180) and answers as the handler says.
   */
  incoming(request: SipRequest, server: ServerTransaction, aor: string): boolean {
    const handler = this.#o.onCallInvite;
    if (!handler) return false;
    const h = request.headers;
    const callId = h.get('call-id') ?? '';
    let invite: CallInviteEvent;
    let from: string;
    try {
      from = parseNameAddr(h.get('from') ?? '').uri;
      const sdp = new TextDecoder('utf-8', { fatal: true }).decode(request.body);
      if (sdp.length > LIMITS.sdp || callId.length > LIMITS.id) return false;
      const caller = this.#o.aorOf(from);
      if (caller === undefined) return false;
      invite = {
        kind: 'call-invite',
        id: callId,
        from: addressOfAor(caller),
        to: addressOfAor(aor),
        sdp,
        media: mediaOf(sdp),
      };
    } catch {
      return false;
    }
    const controller = new AbortController();
    let resolveEnd!: (e: CallEnd) => void;
    const ended = new Promise<CallEnd>((resolve) => {
      resolveEnd = resolve;
    });
    const localTag = newTag();
    const contact = h.list('contact')[0];
    const dialog: Dialog = {
      callId,
      localTag,
      remoteTag: tagOf(h.get('from')),
      localUri: parseNameAddr(h.get('to') ?? '').uri,
      remoteUri: from,
      remoteTarget: contact ? parseNameAddr(contact).uri : undefined,
      // §12.1.1: the UAS's route set is the Record-Route as it came.
      routes: h.list('record-route'),
      localSeq: 0,
      onRequest: () => {},
      ended: false,
    };
    let state: 'ringing' | 'answered' | 'ended' = 'ringing';
    const scheduler = this.#o.layer.scheduler;
    const key = this.#key(callId, localTag);
    let retransmit: unknown;
    const finish = (end: CallEnd) => {
      if (dialog.ended) return;
      dialog.ended = true;
      state = 'ended';
      if (retransmit !== undefined) scheduler.clear(retransmit);
      this.#ringing.delete(server);
      scheduler.set(64 * this.#o.layer.timers.T1, () => this.#dialogs.delete(key));
      resolveEnd(end);
    };
    dialog.onRequest = (req, tx) => {
      if (req.method === 'ACK') {
        if (retransmit !== undefined) scheduler.clear(retransmit);
        retransmit = undefined;
        return;
      }
      if (req.method === 'BYE' && tx) {
        tx.respond(responseFor(req, 200));
        finish({ by: 'remote', reason: 'BYE' });
        return;
      }
      tx?.respond(responseFor(req, 405));
    };
    this.#dialogs.set(key, dialog);
    this.#ringing.set(server, {
      cancel: () => {
        controller.abort();
        finish({ by: 'remote', reason: 'CANCEL' });
      },
    });
    const call: IncomingCall = {
      invite,
      cancelled: controller.signal,
      ended,
      accept: (sdp) => {
        if (state !== 'ringing' || server.answered) return;
        state = 'answered';
        this.#ringing.delete(server);
        const ok = responseFor(request, 200, {
          toTag: localTag,
          headers: [
            ...h.list('record-route').map((r): [string, string] => ['Record-Route', r]),
            ['Contact', this.#contact(server.source.transport)],
            ['Content-Type', 'application/sdp'],
          ],
          body: new TextEncoder().encode(sdp),
        });
        server.respond(ok);
        // §13.3.1.4: the UAS retransmits its 2xx until the ACK, T1 doubling up to T2, for 64*T1.
        if (server.source.transport === 'udp') {
          const { T1, T2 } = this.#o.layer.timers;
          let waited = 0;
          const again = (interval: number) => {
            retransmit = scheduler.set(interval, () => {
              waited += interval;
              if (waited > 64 * T1) return;
              this.#o.send(ok, server.source);
              again(Math.min(interval * 2, T2));
            });
          };
          again(T1);
        }
      },
      decline: (reason) => {
        if (state !== 'ringing' || server.answered) return;
        server.respond(responseFor(request, DECLINE_STATUS[reason], { toTag: localTag }));
        finish({ by: 'local', reason });
      },
      hangup: async () => {
        if (state === 'ringing') {
          call.decline('unavailable');
          return;
        }
        if (state !== 'answered') return;
        state = 'ended';
        await this.#bye(dialog);
        finish({ by: 'local', reason: 'BYE' });
      },
    };
    let taken = false;
    try {
      taken = handler(call);
    } catch {
      taken = false;
    }
    if (!taken) {
      this.#dialogs.delete(key);
      this.#ringing.delete(server);
      return false;
    }
    if (!server.answered) server.respond(responseFor(request, 180, { toTag: localTag }));
    // A call nobody answers or declines does not ring (nor hold its transaction) for ever.
    const ringing = scheduler.set(this.#o.ringTimeout, () => {
      if (state === 'ringing') call.decline('unavailable');
    });
    void ended.then(() => scheduler.clear(ringing));
    return true;
  }

  /** The caller cancelled an INVITE this exit answers itself (an incoming call still ringing); true when it was one. */
  cancelled(server: ServerTransaction): boolean {
    const ringing = this.#ringing.get(server);
    ringing?.cancel();
    return ringing !== undefined;
  }

  /** A request inside one of this exit's own dialogs (BYE, ACK for its 2xx): true when it was. */
  request(request: SipRequest, server: ServerTransaction | undefined): boolean {
    const toTag = tagOf(request.headers.get('to'));
    if (toTag === undefined) return false;
    const dialog = this.#dialogs.get(this.#key(request.headers.get('call-id') ?? '', toTag));
    if (!dialog) return false;
    dialog.onRequest(request, server);
    return true;
  }

  /** A 2xx retransmitted to a call this exit placed: ACKed again (§13.2.2.4). True when it was one. */
  response(response: SipResponse): boolean {
    const fromTag = tagOf(response.headers.get('from'));
    if (fromTag === undefined) return false;
    const dialog = this.#dialogs.get(this.#key(response.headers.get('call-id') ?? '', fromTag));
    if (!dialog) return false;
    if (response.status >= 200 && response.status < 300 && dialog.ack)
      this.#o.send(dialog.ack.request, dialog.ack.to);
    return true;
  }
}
