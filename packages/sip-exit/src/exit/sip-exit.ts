import type { CallInviteEvent, Dht } from '@crosstalk/core';
import {
  type CrossTalkNode,
  Directory,
  type ExitHandle,
  type GatewayIdentity,
  UserOfflineError,
} from '@crosstalk/gateway';
import { type IncomingCall, type PlaceCallOptions, type SipCall, SipCalls } from '../calls/sip-calls.js';
import { DigestAuthenticator } from '../digest/digest.js';
import { SipExitClosedError, SipExitConfigError } from '../errors/errors.js';
import { parseSipUri, uriTransport } from '../grammar/uri.js';
import {
  type RegisteredContact,
  type SipExitContact,
  type SipRegistration,
  SipRegistrationDirectory,
} from '../location/registration-directory.js';
import { DEFAULT_SIP_LIMITS, type SipLimits } from '../message/message.js';
import { SipWayIn, type SipWayInEvent } from '../node/sip-way-in.js';
import { parseOutboundTargets } from '../outbound/outbound.js';
import { aorOf, type ExitAddresses, isLocalAor } from '../proxy/routing.js';
import { type Location, SipProxy, type SipProxyEvent } from '../proxy/sip-proxy.js';
import { type Binding, BindingTable } from '../registrar/binding-table.js';
import { type ExpiryRules, Registrar } from '../registrar/registrar.js';
import type { SipDestination, SipScheduler, SipTimerValues } from '../transaction/context.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import { SipTransports } from '../transport/sip-transport.js';

/** The capability a SIP exit advertises in the directory (`cap:canonical>exit:sip`). */
export const SIP_EXIT_CAPABILITY = 'canonical>exit:sip';

/** The exit's vertex in the capability graph: on a node, it advertises `canonical:<form>>exit:sip`. */
export const SIP_EXIT_VERTEX = 'exit:sip';

/** Options of `createSipExit`. */
export interface SipExitOptions {
  /** The exit's key (a gateway identity): it signs the registrations it publishes; its id is the exit's id. */
  identity: GatewayIdentity;
  /** The directory's DHT (MemoryDht in one process, HyperDhtStore across hosts). */
  dht: Dht;
  /** The SIP domain of the exit's users (`alice@<domain>`), also the digest realm. */
  domain: string;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** UDP port (0: a free one; null: no UDP). Default 5060. */
  udpPort?: number | null;
  /** TCP port (0: the UDP port's number when free, else any; null: no TCP). Default 5060. */
  tcpPort?: number | null;
  /** Other names of the exit's host that requests may use (`localhost`). */
  aliases?: readonly string[];
  /**
   * Credentials for REGISTER (digest, RFC 2617): user -> password, or a function. Required unless
   * `openRegistration` is set.
   */
  users?: Readonly<Record<string, string>> | ((user: string) => string | undefined);
  /** Accept REGISTER without authentication (tests and closed networks only). */
  openRegistration?: boolean;
  /** Registration expiry rules, seconds. */
  expiry?: Partial<ExpiryRules>;
  /** ms an INVITE may ring before the exit cancels it and answers 408 (default 180 s). */
  ringTimeout?: number;
  /** RFC 3261 timer values (T1, T2, T4), ms. */
  timers?: Partial<SipTimerValues>;
  /** Caps on SIP messages. */
  limits?: Partial<SipLimits>;
  /** Which addresses requests may be sent to (default: any). */
  allowTarget?: (destination: SipDestination) => boolean;
  /** When set, only registrations signed by these exits are believed. */
  trusted?: (exitId: string) => boolean;
  /** Advertise `canonical>exit:sip` in the directory (default true). */
  advertise?: boolean;
  /** How often lapsed registrations are swept, ms (default 5 s). */
  sweepInterval?: number;
  /** The clock (registrations, records). */
  now?: () => number;
  /** Timers for the transaction layer (tests use a fake clock). */
  scheduler?: SipScheduler;
  /** Told what happens: registrations, publishes, forwards, answers, bad input. */
  onEvent?: (event: SipExitEvent) => void;
  /**
   * Calls from phones to addresses no phone registered (`sip:alice@jabber.example` through this
   * exit), as canonical `call-invite` events: return true to take the call (the caller hears it
   * ring until `accept` or `decline`), false to let the exit answer 404/480.
   */
  onCallInvite?: (call: IncomingCall) => boolean;
  /**
   * A CrossTalk node (`createNode` of `@crosstalk/gateway`) to attach registered phones to as users
   * `user@<domain>` (protocol `sip`): a `call-invite` sent to one becomes a SIP call to the phone,
   * and a phone's call to a CrossTalk user is sent to that user as a `call-invite`
   * (after `onCallInvite`, which is asked first). The node stays the caller's to close.
   */
  node?: CrossTalkNode;
  /**
   * SIP domains the exit exits to, and where: domain -> `[udp:|tcp:]host:port` (loopback addresses
   * only; `SipOutboundTargetError` otherwise). With `node`, the node advertises
   * `canonical:<form>>exit:sip` for these domains, so a client-API user's `dialCall` to
   * `bob@<domain>` (no phone registered as bob) is routed along a chain that ends here, and the exit
   * sends the INVITE (Request-URI `sip:bob@<domain>`) to the domain's target.
   */
  outbound?: Readonly<Record<string, string>>;
}

/** What a SIP exit reports. */
export type SipExitEvent =
  | SipProxyEvent
  | {
      /** A REGISTER added or refreshed bindings. */
      type: 'registered';
      /** The AOR. */
      aor: string;
      /** Its contacts now. */
      contacts: readonly string[];
    }
  | {
      /** An AOR has no binding left (unREGISTER, or they lapsed). */
      type: 'unregistered';
      /** The AOR. */
      aor: string;
    }
  | {
      /** An AOR's record was stored in the directory. */
      type: 'published';
      /** The AOR. */
      aor: string;
      /** How many contacts it lists. */
      contacts: number;
    }
  | {
      /** Storing an AOR's record failed (retried while the registration lives). */
      type: 'publish-failed';
      /** The AOR. */
      aor: string;
      /** Why. */
      error: Error;
    }
  | {
      /** A registration record read from the directory was refused. */
      type: 'rejected-record';
      /** Its DHT key. */
      key: string;
      /** Why, for people. */
      reason: string;
      /** The refusal's error code. */
      code: string;
    }
  | SipWayInEvent;

/** A running SIP exit. */
export interface SipExit {
  /** The exit's id (its gateway identity's). */
  readonly id: string;
  /** Where it listens and its domain. */
  readonly addresses: ExitAddresses;
  /** Its registrations in the directory. */
  readonly registrations: SipRegistrationDirectory;
  /** The live local bindings of an AOR (`user@domain`). */
  bindings(aor: string): readonly Binding[];
  /** Where the location service finds an AOR now (local, own record, another exit, none). */
  locate(aor: string): Promise<Location>;
  /** The directory's registrations of an AOR. */
  lookup(aor: string): Promise<SipRegistration[]>;
  /**
   * Places a call for a CrossTalk user to a phone: `invite.to` is the phone's AOR as an address
   * (`bob@<domain>`), `invite.sdp` the offer. Resolves with core's `CallSession` (and its end);
   * rejects with `SipCallFailedError` 404/480 when no phone is registered.
   */
  placeCall(invite: CallInviteEvent, options?: PlaceCallOptions): Promise<SipCall>;
  /** Stops listening, withdraws the capability, ends every transaction. Registrations stay in the DHT until they lapse. */
  close(): Promise<void>;
}

/**
 * Starts a SIP exit: a registrar and stateful proxy on UDP and TCP whose registrations live in the
 * CrossTalk directory (signed `sip:<aor>` records, TTL the REGISTER's expiry), so that any exit
 * finds any SIP user, and calls between phones registered at different exits go exit to exit.
 */
export async function createSipExit(options: SipExitOptions): Promise<SipExit> {
  if (!/^[A-Za-z0-9.-]+$/.test(options.domain))
    throw new SipExitConfigError(`domain: not a host name: ${options.domain}`);
  if (!options.users && !options.openRegistration)
    throw new SipExitConfigError(
      'users: credentials are required (or set openRegistration for an open registrar)',
    );
  const outbound = parseOutboundTargets(options.outbound ?? {});
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const limits: SipLimits = { ...DEFAULT_SIP_LIMITS, ...options.limits };
  const users = options.users;
  const password = (user: string): string | undefined =>
    typeof users === 'function' ? users(user) : users && Object.hasOwn(users, user) ? users[user] : undefined;
  const emit = (event: SipExitEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // a listener's error is not the exit's
    }
  };

  const transports = new SipTransports({
    host,
    udpPort: options.udpPort === undefined ? 5060 : options.udpPort,
    tcpPort: options.tcpPort === undefined ? 5060 : options.tcpPort,
    limits,
  });
  const layer = new TransactionLayer({
    send: (message, to) => transports.send(message, to),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.timers ? { timers: options.timers } : {}),
  });
  const table = new BindingTable({ now });
  const registrations = new SipRegistrationDirectory({
    dht: options.dht,
    identity: options.identity,
    now,
    ...(options.trusted ? { trusted: options.trusted } : {}),
    onRejected: (key, reason, code) => emit({ type: 'rejected-record', key, reason, code }),
  });
  const addresses: ExitAddresses = {
    host,
    domain: options.domain.toLowerCase(),
    aliases: [...(options.aliases ?? [])],
  };
  const exitContact = (): SipExitContact => {
    const contact: SipExitContact = {};
    const h = host.includes(':') ? `[${host}]` : host;
    if (addresses.udpPort !== undefined) contact.udp = `${h}:${addresses.udpPort}`;
    if (addresses.tcpPort !== undefined) contact.tcp = `${h}:${addresses.tcpPort}`;
    return contact;
  };
  let closed = false;

  // ---------------------------------------------------------------- publishing, with retries
  const retries = new Map<string, ReturnType<typeof setTimeout>>();
  const publish = async (aor: string, attempt = 0): Promise<void> => {
    const pending = retries.get(aor);
    if (pending) clearTimeout(pending);
    retries.delete(aor);
    if (closed) return;
    const bindings = table.get(aor);
    const contacts: RegisteredContact[] = bindings.map((b) => ({ uri: b.uri, expiresAt: b.expiresAt }));
    try {
      await registrations.publish(aor, contacts, exitContact());
      emit({ type: 'published', aor, contacts: contacts.length });
    } catch (error) {
      emit({ type: 'publish-failed', aor, error: error as Error });
      if (closed || table.get(aor).length === 0) return;
      // Retried with a backoff while the registration lives: a DHT outage does not lose it.
      const timer = setTimeout(() => void publish(aor, attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
      timer.unref?.();
      retries.set(aor, timer);
      throw error;
    }
  };

  const authenticator =
    options.openRegistration && !users
      ? undefined
      : new DigestAuthenticator({ realm: addresses.domain, password, now });
  const registrar = new Registrar({
    table,
    ...(authenticator ? { authenticator } : {}),
    aorOf: (uri) => {
      try {
        const aor = aorOf(parseSipUri(uri), addresses);
        return aor !== undefined && isLocalAor(aor, addresses) ? aor : undefined;
      } catch {
        return undefined;
      }
    },
    ...(options.expiry ? { expiry: options.expiry } : {}),
    now,
    publish: async (aor, bindings) => {
      if (bindings.length > 0) {
        emit({ type: 'registered', aor, contacts: bindings.map((b) => b.uri) });
        wayIn?.registered(aor);
      } else {
        emit({ type: 'unregistered', aor });
        void wayIn?.unregistered(aor);
      }
      await publish(aor);
    },
  });

  const locate = async (aor: string, localOnly = false): Promise<Location> => {
    const local = table.get(aor)[0];
    if (local) {
      const location: Location = { kind: 'contact', uri: local.uri };
      // A phone registered over TCP is reached over its own connection (it may be behind NAT).
      if (local.source.transport === 'tcp' && local.source.connection !== undefined) {
        try {
          if (
            uriTransport(parseSipUri(local.uri)) === 'tcp' &&
            transports.hasConnection(local.source.connection)
          )
            location.via = local.source;
        } catch {
          // an unreadable contact is routed as written
        }
      }
      return location;
    }
    let found: SipRegistration[] = [];
    try {
      found = await registrations.lookup(aor);
    } catch {
      // The DHT is unreachable: only local bindings can be used.
    }
    const own = found.find((r) => r.exit === options.identity.id);
    const ownContact = own?.contacts[0];
    if (ownContact) return { kind: 'contact', uri: ownContact.uri };
    const other = localOnly ? undefined : found.find((r) => r.exit !== options.identity.id);
    if (other) {
      const tcp = other.exitContact.tcp;
      const udp = other.exitContact.udp;
      const target = tcp ?? udp;
      if (target) {
        const at = target.lastIndexOf(':');
        const h = target.slice(0, at).replace(/^\[(.*)\]$/, '$1');
        return {
          kind: 'exit',
          exit: other.exit,
          destination: { transport: tcp ? 'tcp' : 'udp', host: h, port: Number(target.slice(at + 1)) },
        };
      }
    }
    const user = aor.slice(0, aor.lastIndexOf('@'));
    return { kind: 'none', known: isLocalAor(aor, addresses) && password(user) !== undefined };
  };

  let wayIn: SipWayIn | undefined;
  const onCallInvite = (call: IncomingCall): boolean =>
    options.onCallInvite?.(call) === true || wayIn?.incoming(call) === true;
  const calls = new SipCalls({
    layer,
    send: (message, to) => transports.send(message, to),
    addresses: () => addresses,
    locate: (aor) => locate(aor),
    aorOf: (uri) => {
      try {
        return aorOf(parseSipUri(uri), addresses);
      } catch {
        return undefined;
      }
    },
    allowTarget: options.allowTarget ?? (() => true),
    ringTimeout: options.ringTimeout ?? 180_000,
    ...(options.onCallInvite || options.node ? { onCallInvite } : {}),
  });
  if (options.node)
    wayIn = new SipWayIn({
      node: options.node,
      placeCall: (invite, callOptions) => calls.place(invite, callOptions),
      ringTimeout: options.ringTimeout ?? 180_000,
      onCall: emit,
      refused: (code) => options.node?.metrics.refused.inc({ reason: code }),
      outbound: (domain) => outbound.get(domain.toLowerCase()),
    });

  const proxy = new SipProxy({
    calls,
    layer,
    send: (message, to) => transports.send(message, to),
    addresses: () => addresses,
    registrar,
    locate,
    allowTarget: options.allowTarget ?? (() => true),
    ...(options.ringTimeout !== undefined ? { ringTimeout: options.ringTimeout } : {}),
    onEvent: emit,
  });

  await transports.listen({
    onMessage: (message, source) => {
      if (message.kind === 'request') proxy.request(message, source);
      else proxy.response(message);
    },
    onInvalid: (error, source) => proxy.invalid(error, source),
    onTransportError: (destination) =>
      layer.failConnection(
        (d) =>
          d.transport === destination.transport &&
          ((destination.connection !== undefined && d.connection === destination.connection) ||
            (d.host === destination.host && d.port === destination.port)),
      ),
  });
  if (transports.udpPort !== undefined) addresses.udpPort = transports.udpPort;
  if (transports.tcpPort !== undefined) addresses.tcpPort = transports.tcpPort;

  // ---------------------------------------------------------------- sweeping and the capability
  const sweep = setInterval(() => {
    for (const aor of table.sweep()) {
      emit({ type: 'unregistered', aor });
      void wayIn?.unregistered(aor);
      void registrations.withdraw(aor).catch(() => undefined);
    }
  }, options.sweepInterval ?? 5000);
  sweep.unref?.();

  // The exit as a vertex of the capability graph: chains for addresses on its outbound domains end here.
  let exitHandle: ExitHandle | undefined;
  if (options.node && wayIn && outbound.size > 0) {
    const way = wayIn;
    const handle: ExitHandle = await options.node.addExit({
      protocol: SIP_EXIT_VERTEX,
      networks: [...outbound.keys()],
      preserves: ['call-invite', 'call-signal'],
      deliver: (event) => {
        if (!way.exitDeliver(event, (signal) => handle.send(signal)))
          throw new UserOfflineError(
            `the SIP exit takes calls and their signals only (a ${event.kind} for a call it does not bridge)`,
          );
        return 'sip';
      },
    });
    exitHandle = handle;
  }

  const directory = new Directory({ dht: options.dht, identity: options.identity, now });
  const advertise = options.advertise ?? true;
  // The exit is reached over SIP (its own transports), or as a node's users when it has a node.
  const capability = () => ({
    cost: 1,
    preserves: ['call-invite', 'call-signal'],
    ...(outbound.size > 0 ? { networks: [...outbound.keys()] } : {}),
    contact: options.node
      ? { ...options.node.contact }
      : {
          transport: 'sip',
          host: addresses.host,
          ...(addresses.udpPort !== undefined ? { udpPort: addresses.udpPort } : {}),
          ...(addresses.tcpPort !== undefined ? { tcpPort: addresses.tcpPort } : {}),
        },
  });
  const advertiseNow = () =>
    directory.publishCapability(SIP_EXIT_CAPABILITY, capability()).catch(() => undefined);
  let refresh: ReturnType<typeof setInterval> | undefined;
  if (advertise) {
    await advertiseNow();
    refresh = setInterval(advertiseNow, Math.max(1000, directory.capabilityTtl / 3));
    refresh.unref?.();
  }

  return {
    id: options.identity.id,
    addresses,
    registrations,
    bindings: (aor) => table.get(aor),
    locate: (aor) => {
      if (closed) return Promise.reject(new SipExitClosedError('the SIP exit is closed'));
      return locate(aor);
    },
    lookup: (aor) => registrations.lookup(aor),
    placeCall: (invite, callOptions) => {
      if (closed) return Promise.reject(new SipExitClosedError('the SIP exit is closed'));
      return calls.place(invite, callOptions);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      if (refresh) clearInterval(refresh);
      for (const timer of retries.values()) clearTimeout(timer);
      retries.clear();
      await exitHandle?.remove().catch(() => {});
      await wayIn?.close();
      proxy.close();
      layer.close();
      await transports.close();
      if (advertise) await directory.withdrawCapability(SIP_EXIT_CAPABILITY).catch(() => undefined);
    },
  };
}
