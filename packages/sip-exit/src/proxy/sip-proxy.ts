import { SipContentLengthError, SipMessageTooLargeError, SipSyntaxError } from '../errors/errors.js';
import { parseNameAddr, tagOf } from '../grammar/name-addr.js';
import { getParam, hasParam, setParam } from '../grammar/params.js';
import { parseSipUri, type SipUri } from '../grammar/uri.js';
import { formatVia, parseVia } from '../grammar/via.js';
import { SipHeaders } from '../message/headers.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { canAnswer, responseFor } from '../message/responses.js';
import type { Registrar } from '../registrar/registrar.js';
import type { ClientTransaction } from '../transaction/client-transaction.js';
import type { SipDestination } from '../transaction/context.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import { newBranch, type TransactionLayer } from '../transaction/transaction-layer.js';
import {
  aorOf,
  destinationOf,
  type ExitAddresses,
  isLocalAor,
  isOwnUri,
  isOwnVia,
  viaDestination,
} from './routing.js';

/** Via parameter marking a request one exit forwards to another: the next exit resolves it only locally (no loops). */
export const EXIT_HOP_PARAM = 'x-crosstalk-exit';

/** Where the location service says an AOR is. */
export type Location =
  | {
      /** A contact this exit holds (registered here, or found in its own directory record after a restart). */
      kind: 'contact';
      /** The contact URI. */
      uri: string;
      /** The connection to use (a phone registered over TCP), when not the URI's address. */
      via?: SipDestination;
    }
  | {
      /** Another exit holds the registration: forward to it. */
      kind: 'exit';
      /** That exit's id. */
      exit: string;
      /** Its SIP address. */
      destination: SipDestination;
    }
  | {
      /** No registration. */
      kind: 'none';
      /** True when the user is one of this exit's (480), false when unknown (404). */
      known: boolean;
    };

/** What the proxy reports, for logs, metrics and tests. */
export type SipProxyEvent =
  | {
      /** A request went on to its next hop. */
      type: 'forwarded';
      /** Its method. */
      method: string;
      /** The AOR it was for, when the location service found it. */
      aor?: string;
      /** Where it went. */
      to: SipDestination;
      /** True when it went to another exit. */
      exitHop: boolean;
    }
  | {
      /** A final response went to a request (the exit's own, or one passed up). */
      type: 'answered';
      /** The request's method. */
      method: string;
      /** The status code. */
      status: number;
      /** The reason phrase. */
      reason: string;
    }
  | {
      /** A message could not be read. */
      type: 'invalid';
      /** Why. */
      error: Error;
      /** Where it came from. */
      source: SipDestination;
      /** The status it was answered with, or undefined when it was dropped. */
      answered: number | undefined;
    };

/** What the proxy needs from the exit. */
export interface SipProxyOptions {
  /** The transaction layer. */
  layer: TransactionLayer;
  /** Sends a message without a transaction (ACK for 2xx, 2xx retransmissions, answers to unreadable requests). */
  send(message: SipRequest | SipResponse, to: SipDestination): void;
  /** Where the exit listens and its domain (known once it listens). */
  addresses(): ExitAddresses;
  /** The registrar, for REGISTER. */
  registrar: Registrar;
  /** The location service: local bindings, then the directory. `localOnly` for requests from another exit. */
  locate(aor: string, localOnly: boolean): Promise<Location>;
  /** Whether a request may be sent to this address (the exit's target policy). */
  allowTarget(destination: SipDestination): boolean;
  /** ms an INVITE may ring before the exit cancels it and answers 408 (RFC 3261 §16.6 Timer C; default 180 s). */
  ringTimeout?: number;
  /** Told what happened. */
  onEvent?: (event: SipProxyEvent) => void;
  /** The exit's own calls (it is a user agent too): its dialogs, and calls to addresses no phone registered. */
  calls?: ProxyCallHooks;
}

/** How the proxy hands the exit's own calls to them (`SipCalls`). */
export interface ProxyCallHooks {
  /** A request inside one of the exit's dialogs: true when it was one (handled). */
  request(request: SipRequest, server: ServerTransaction | undefined): boolean;
  /** A response to a call the exit placed, outside its transaction (a retransmitted 2xx): true when it was one. */
  response(response: SipResponse): boolean;
  /** An INVITE for an AOR no phone registered: true when the exit takes it as a call to a CrossTalk user. */
  incoming(request: SipRequest, server: ServerTransaction, aor: string): boolean;
  /** The caller cancelled an INVITE the exit answers itself: true when it was one. */
  cancelled(server: ServerTransaction): boolean;
}

interface Forward {
  server: ServerTransaction;
  request: SipRequest;
  destination: SipDestination;
  client: ClientTransaction | undefined;
  provisional: boolean;
  cancelled: boolean;
  cancelSent: boolean;
}

/** Methods that create a dialog: the exit record-routes them so in-dialog requests pass through it too. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

/**
 * The stateful proxy core (RFC 3261 §16) with the registrar in front of it: 100 Trying for INVITE,
 * Max-Forwards, loose routing (Route popped when it names this exit, Record-Route added for
 * dialogs, doubled when the transport changes, RFC 5658), the location service for AORs (local
 * bindings, then the directory: another exit's registration is reached by forwarding to that exit),
 * one target per request (no forking), CANCEL (200 at once, CANCEL downstream once a provisional
 * came), Timer C, 2xx retransmissions and ACKs for 2xx forwarded statelessly by Via and Route.
 */
export class SipProxy {
  readonly #o: SipProxyOptions;
  readonly #forwards = new Map<ServerTransaction, Forward>();
  #closed = false;

  constructor(options: SipProxyOptions) {
    this.#o = options;
  }

  /** Forwards in flight. */
  get pending(): number {
    return this.#forwards.size;
  }

  /** Stops taking requests. */
  close(): void {
    this.#closed = true;
    this.#forwards.clear();
  }

  // ------------------------------------------------------------ unreadable messages

  /**
   * A message the transports could not read: a request with enough headers to address a response
   * gets 400 (513 when too large, RFC 3261 §21.5.14); responses and anything else are dropped.
   */
  invalid(error: Error, source: SipDestination): void {
    let status: number | undefined;
    const headers =
      error instanceof SipSyntaxError ||
      error instanceof SipContentLengthError ||
      error instanceof SipMessageTooLargeError
        ? error.headers
        : undefined;
    const isRequest =
      error instanceof SipMessageTooLargeError ? true : (error as { isRequest?: boolean }).isRequest === true;
    if (isRequest && canAnswer(headers) && !/\bACK\s*$/.test(headers.get('cseq') ?? '')) {
      status = error instanceof SipMessageTooLargeError ? 513 : 400;
      const reason =
        status === 400 ? `Bad Request (${error.message.replace(/^sip: /, '').slice(0, 80)})` : undefined;
      try {
        const response = responseFor(
          { headers },
          status,
          reason ? { reason: reason.replace(/[\r\n]/g, ' ') } : {},
        );
        this.#o.send(response, this.#responseTarget(response, source));
      } catch {
        status = undefined;
      }
    }
    this.#o.onEvent?.({ type: 'invalid', error, source, answered: status });
  }

  /** Where a response to a request from `source` goes: the source for TCP, the Via (received, rport) for UDP. */
  #responseTarget(response: SipResponse, source: SipDestination): SipDestination {
    if (source.transport === 'tcp') return source;
    try {
      return viaDestination(parseVia(response.headers.list('via')[0] ?? ''));
    } catch {
      return source;
    }
  }

  // ------------------------------------------------------------ requests

  /** A request from the transports. */
  request(request: SipRequest, source: SipDestination): void {
    if (this.#closed) return;
    stampVia(request, source);
    const layer = this.#o.layer;
    const existing = layer.findServer(request);
    if (existing) {
      existing.receive(request);
      return;
    }
    if (request.method === 'ACK') {
      if (this.#o.calls?.request(request, undefined)) return;
      // An ACK matching no transaction acknowledges a 2xx: it travels end to end (RFC 3261 §16.7).
      void this.#forwardStateless(request);
      return;
    }
    if (layer.full) {
      this.#o.send(responseFor(request, 503, { headers: [['Retry-After', '5']] }), source);
      return;
    }
    const server = layer.createServer(request, source);
    if (request.method === 'INVITE') server.respond(responseFor(request, 100));
    if (request.method === 'CANCEL') {
      this.#cancel(request, server);
      return;
    }
    if (this.#o.calls?.request(request, server)) return;
    this.#route(request, server, source).catch(() => {
      this.#answer(server, 500);
    });
  }

  #answer(server: ServerTransaction, status: number, extra: Parameters<typeof responseFor>[2] = {}): void {
    if (server.answered) return;
    const response = responseFor(server.request, status, extra);
    server.respond(response);
    this.#o.onEvent?.({ type: 'answered', method: server.request.method, status, reason: response.reason });
  }

  async #route(request: SipRequest, server: ServerTransaction, source: SipDestination): Promise<void> {
    const addresses = this.#o.addresses();
    const maxForwards = request.headers.get('max-forwards');
    if (maxForwards === '0') return this.#answer(server, 483);
    const proxyRequire = request.headers.get('proxy-require');
    if (proxyRequire !== undefined)
      return this.#answer(server, 420, { headers: [['Unsupported', proxyRequire]] });
    let uri: SipUri;
    try {
      uri = parseSipUri(request.uri);
    } catch {
      return this.#answer(server, 416);
    }
    // §16.4: pop every Route that names this exit (two, where it record-routed twice).
    let poppedOwnRoute = false;
    for (;;) {
      const top = request.headers.list('route')[0];
      if (top === undefined) break;
      let routeUri: SipUri;
      try {
        routeUri = parseSipUri(parseNameAddr(top).uri);
      } catch {
        return this.#answer(server, 400, { reason: 'Bad Route' });
      }
      if (!isOwnUri(routeUri, addresses)) break;
      request.headers.shift('route');
      poppedOwnRoute = true;
    }
    const nextRoute = request.headers.list('route')[0];
    if (nextRoute !== undefined) {
      // Loose routing: the next hop is the next Route; the Request-URI stays.
      const destination = await destinationOf(parseSipUri(parseNameAddr(nextRoute).uri));
      return this.#forward(request, server, source, destination, {});
    }
    const toUs = uri.user === undefined && isOwnUri(uri, addresses);
    if (request.method === 'REGISTER' && (toUs || uri.host === addresses.domain.toLowerCase())) {
      const response = await this.#o.registrar.handle(request, source);
      server.respond(response);
      this.#o.onEvent?.({
        type: 'answered',
        method: 'REGISTER',
        status: response.status,
        reason: response.reason,
      });
      return;
    }
    if (toUs) {
      if (request.method === 'OPTIONS')
        return this.#answer(server, 200, {
          headers: [['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER']],
        });
      return this.#answer(server, 404, { reason: 'No User Part' });
    }
    const aor = aorOf(uri, addresses);
    const inDialog = tagOf(request.headers.get('to')) !== undefined;
    if (inDialog && (poppedOwnRoute || aor === undefined || !isLocalAor(aor, addresses))) {
      // In a dialog (one this exit record-routed): the Request-URI is the far end's contact.
      return this.#forward(request, server, source, await destinationOf(uri), {});
    }
    if (aor === undefined) {
      // No user to look up: passed on when this exit is the sender's outbound proxy, else not ours.
      if (poppedOwnRoute) return this.#forward(request, server, source, await destinationOf(uri), {});
      return this.#answer(server, 404);
    }
    const fromExit = hasParam(parseVia(request.headers.list('via')[0] ?? '').params, EXIT_HOP_PARAM);
    const location = await this.#o.locate(aor, fromExit);
    if (server.answered || this.#cancelledEarly.has(server)) {
      this.#cancelledEarly.delete(server);
      return;
    }
    if (location.kind === 'none') {
      if (request.method === 'INVITE' && this.#o.calls?.incoming(request, server, aor)) return;
      return this.#answer(server, location.known ? 480 : 404);
    }
    if (location.kind === 'exit') {
      // Another exit holds the registration: send it there, addressed to the AOR in its domain.
      const at = aor.lastIndexOf('@');
      const target = `sip:${aor.slice(0, at)}@${aor.slice(at + 1)}`;
      return this.#forward(request, server, source, location.destination, {
        uri: target,
        exitHop: true,
        aor,
      });
    }
    let contact: SipUri;
    try {
      contact = parseSipUri(location.uri);
    } catch {
      return this.#answer(server, 480);
    }
    const destination = location.via ?? (await destinationOf(contact));
    return this.#forward(request, server, source, destination, { uri: location.uri, aor });
  }

  /** Requests cancelled while their target was being looked up. */
  readonly #cancelledEarly = new Set<ServerTransaction>();

  #forward(
    request: SipRequest,
    server: ServerTransaction,
    source: SipDestination,
    destination: SipDestination,
    options: { uri?: string; exitHop?: boolean; aor?: string },
  ): void {
    if (server.answered) return;
    if (!this.#o.allowTarget(destination)) {
      this.#answer(server, 403, { reason: 'Target Not Allowed' });
      return;
    }
    const addresses = this.#o.addresses();
    const headers = request.headers.clone();
    const maxForwards = Number(headers.get('max-forwards') ?? '70');
    headers.set('Max-Forwards', String(Math.max(0, maxForwards - 1)));
    if (DIALOG_CREATING.has(request.method) && tagOf(headers.get('to')) === undefined) {
      // RFC 5658: one Record-Route per side when the transport changes, so each side reaches us on its own.
      const inbound = recordRoute(addresses, source.transport);
      const outbound = recordRoute(addresses, destination.transport);
      if (inbound && inbound !== outbound) headers.prepend('Record-Route', inbound);
      if (outbound) headers.prepend('Record-Route', outbound);
    }
    const forwarded: SipRequest = {
      kind: 'request',
      method: request.method,
      uri: options.uri ?? request.uri,
      headers,
      body: request.body,
    };
    const via = ownVia(addresses, destination.transport, options.exitHop === true);
    if (!via) {
      this.#answer(server, 503, { reason: 'No Transport' });
      return;
    }
    headers.prepend('Via', via);
    const forward: Forward = {
      server,
      request: forwarded,
      destination,
      client: undefined,
      provisional: false,
      cancelled: false,
      cancelSent: false,
    };
    this.#forwards.set(server, forward);
    server.onAckTimeout = () => this.#forwards.delete(server);
    const done = () => this.#forwards.delete(server);
    let timerC: unknown;
    const scheduler = this.#o.layer.scheduler;
    const stopTimerC = () => {
      if (timerC !== undefined) scheduler.clear(timerC);
      timerC = undefined;
    };
    const startTimerC = () => {
      stopTimerC();
      timerC = scheduler.set(this.#o.ringTimeout ?? 180_000, () => {
        timerC = undefined;
        if (server.answered) return;
        // §16.8: Timer C fired: cancel downstream and answer the caller 408 ourselves.
        this.#sendCancel(forward);
        this.#answer(server, 408, { reason: 'Request Timeout (no answer)' });
        done();
      });
    };
    if (request.method === 'INVITE') startTimerC();
    this.#o.onEvent?.({
      type: 'forwarded',
      method: request.method,
      ...(options.aor ? { aor: options.aor } : {}),
      to: destination,
      exitHop: options.exitHop === true,
    });
    forward.client = this.#o.layer.startClient(forwarded, destination, {
      onResponse: (response) => {
        response.headers.shift('via');
        if (response.status === 100) return;
        if (response.status < 200) {
          forward.provisional = true;
          if (forward.cancelled && !forward.cancelSent) this.#sendCancel(forward);
          if (request.method === 'INVITE') startTimerC();
          server.respond(response);
          return;
        }
        stopTimerC();
        done();
        if (server.answered || server.state === 'terminated') {
          // A 2xx after the caller got a final (Timer C, a race with CANCEL) still goes up (§16.7 step 5).
          if (response.status < 300) this.#forwardResponse(response, true);
          return;
        }
        server.respond(response);
        this.#o.onEvent?.({
          type: 'answered',
          method: request.method,
          status: response.status,
          reason: response.reason,
        });
      },
      onTimeout: () => {
        stopTimerC();
        done();
        this.#answer(server, 408);
      },
      onTransportError: () => {
        stopTimerC();
        done();
        this.#answer(server, 503, { reason: 'Next Hop Unreachable' });
      },
    });
  }

  // ------------------------------------------------------------ CANCEL

  #cancel(cancel: SipRequest, server: ServerTransaction): void {
    const invite = this.#o.layer.findInviteFor(cancel);
    if (!invite) {
      server.respond(responseFor(cancel, 481));
      return;
    }
    // §16.10: answer the CANCEL at once; the INVITE's answer (487) comes from downstream.
    server.respond(responseFor(cancel, 200));
    if (invite.answered) return;
    const forward = this.#forwards.get(invite);
    if (!forward) {
      // Still looking the target up (or the exit answers it itself): nothing went downstream.
      if (!this.#o.calls?.cancelled(invite)) this.#cancelledEarly.add(invite);
      this.#answer(invite, 487);
      return;
    }
    forward.cancelled = true;
    if (forward.provisional) this.#sendCancel(forward);
  }

  /** RFC 3261 §9.1: a CANCEL with the forwarded INVITE's Request-URI, top Via, Call-ID, From, To, CSeq number and Route. */
  #sendCancel(forward: Forward): void {
    if (forward.cancelSent || !forward.provisional) {
      forward.cancelled = true;
      return;
    }
    forward.cancelSent = true;
    const invite = forward.request;
    const h = invite.headers;
    const cancel: SipRequest = {
      kind: 'request',
      method: 'CANCEL',
      uri: invite.uri,
      headers: new SipHeaders(),
      body: new Uint8Array(0),
    };
    cancel.headers.append('Via', h.list('via')[0] ?? '');
    cancel.headers.append('Max-Forwards', '70');
    for (const route of h.getAll('route')) cancel.headers.append('Route', route);
    cancel.headers.append('From', h.get('from') ?? '');
    cancel.headers.append('To', h.get('to') ?? '');
    cancel.headers.append('Call-ID', h.get('call-id') ?? '');
    cancel.headers.append('CSeq', `${(h.get('cseq') ?? '0').split(/\s+/)[0]} CANCEL`);
    this.#o.layer.startClient(cancel, forward.destination, {
      onResponse: () => {},
      onTimeout: () => {},
      onTransportError: () => {},
    });
    // If downstream never answers the INVITE after the CANCEL, answer it ourselves (64*T1 later).
    this.#o.layer.scheduler.set(64 * this.#o.layer.timers.T1, () => {
      if (!forward.server.answered) this.#answer(forward.server, 487);
    });
  }

  // ------------------------------------------------------------ stateless forwarding

  /** A response matching no client transaction (a 2xx retransmission): up by the next Via, if the top one is ours. */
  response(response: SipResponse): void {
    if (this.#closed) return;
    if (this.#o.layer.receiveResponse(response)) return;
    if (this.#o.calls?.response(response)) return;
    this.#forwardResponse(response);
  }

  /**
   * Sends a response up to the next Via. `popped`: this exit's Via is already off (a response from
   * a client transaction); otherwise the top Via must be this exit's, or the response is dropped
   * (RFC 3261 §18.1.2: never reflect a response that was not for us).
   */
  #forwardResponse(response: SipResponse, popped = false): void {
    const addresses = this.#o.addresses();
    try {
      const copy = { ...response, headers: response.headers.clone() };
      if (!popped) {
        if (!isOwnVia(parseVia(copy.headers.list('via')[0] ?? ''), addresses)) return;
        copy.headers.shift('via');
      }
      const next = copy.headers.list('via')[0];
      if (next === undefined) return;
      this.#o.send(copy, viaDestination(parseVia(next)));
    } catch {
      // A response whose Vias do not parse cannot be routed: dropped.
    }
  }

  /**
   * An ACK for a 2xx (no transaction): routed as `#route` routes requests, by Route, or by the
   * Request-URI, looking an AOR up (a UA whose peer copied no Record-Route sends it to the AOR).
   */
  async #forwardStateless(request: SipRequest): Promise<void> {
    const addresses = this.#o.addresses();
    try {
      let popped = false;
      for (;;) {
        const top = request.headers.list('route')[0];
        if (top === undefined || !isOwnUri(parseSipUri(parseNameAddr(top).uri), addresses)) break;
        request.headers.shift('route');
        popped = true;
      }
      const next = request.headers.list('route')[0];
      let target = request.uri;
      let destination: SipDestination;
      let exitHop = false;
      let aor: string | undefined;
      if (next !== undefined) destination = await destinationOf(parseSipUri(parseNameAddr(next).uri));
      else {
        const uri = parseSipUri(request.uri);
        if (uri.user === undefined && isOwnUri(uri, addresses)) return;
        aor = aorOf(uri, addresses);
        if (!popped && aor !== undefined && isLocalAor(aor, addresses)) {
          const fromExit = hasParam(parseVia(request.headers.list('via')[0] ?? '').params, EXIT_HOP_PARAM);
          const location = await this.#o.locate(aor, fromExit);
          if (location.kind === 'none') return;
          if (location.kind === 'exit') {
            destination = location.destination;
            target = `sip:${aor}`;
            exitHop = true;
          } else {
            destination = location.via ?? (await destinationOf(parseSipUri(location.uri)));
            target = location.uri;
          }
        } else destination = await destinationOf(uri);
      }
      if (!this.#o.allowTarget(destination)) return;
      const headers = request.headers.clone();
      headers.set('Max-Forwards', String(Math.max(0, Number(headers.get('max-forwards') ?? '70') - 1)));
      const via = ownVia(addresses, destination.transport, exitHop);
      if (!via) return;
      headers.prepend('Via', via);
      this.#o.send({ ...request, uri: target, headers }, destination);
      this.#o.onEvent?.({
        type: 'forwarded',
        method: request.method,
        ...(aor !== undefined ? { aor } : {}),
        to: destination,
        exitHop,
      });
    } catch {
      // An ACK that cannot be routed is dropped (there is no response to an ACK).
    }
  }
}

/** RFC 3261 §18.2.1 and RFC 3581 §4: the top Via learns where the request really came from. */
function stampVia(request: SipRequest, source: SipDestination): void {
  const top = request.headers.list('via')[0];
  if (top === undefined) return;
  const via = parseVia(top);
  let params = via.params;
  if (via.host !== source.host) params = setParam(params, 'received', source.host);
  if (getParam(params, 'rport') !== undefined) params = setParam(params, 'rport', String(source.port));
  if (params === via.params) return;
  request.headers.shift('via');
  request.headers.prepend('Via', formatVia({ ...via, params }));
}

/** This exit's Via for a request it sends over `transport`, with a fresh branch. */
function ownVia(addresses: ExitAddresses, transport: 'udp' | 'tcp', exitHop: boolean): string | undefined {
  const port = transport === 'tcp' ? addresses.tcpPort : addresses.udpPort;
  if (port === undefined) return undefined;
  const params: [string, string | undefined][] = [
    ['branch', newBranch()],
    ['rport', undefined],
  ];
  if (exitHop) params.push([EXIT_HOP_PARAM, undefined]);
  return formatVia({ transport: transport.toUpperCase(), host: uriHost(addresses.host), port, params });
}

/** A host as a URI or Via writes it: IPv6 in brackets. */
function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** This exit's Record-Route value for the side reached over `transport`. */
function recordRoute(addresses: ExitAddresses, transport: 'udp' | 'tcp'): string | undefined {
  const port = transport === 'tcp' ? addresses.tcpPort : addresses.udpPort;
  if (port === undefined) return undefined;
  return `<sip:${uriHost(addresses.host)}:${port}${transport === 'tcp' ? ';transport=tcp' : ''};lr>`;
}
