import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type Codec,
  CodecRegistry,
  type Dht,
  eventFromJson,
  eventToJson,
  type Feature,
  formatAddress,
  type G2gContact,
  type G2gTransport,
  type ImEvent,
  isCrossTalkError,
  isDomainNetwork,
  isSystemAddress,
  MemoryCookieTable,
  MemoryDht,
  type Plugin,
  type PluginUser,
  type PresenceEvent,
  parseAddress,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  SYSTEM_ADDRESS,
} from '@crosstalk/core';
import pino, { type Logger } from 'pino';
import { Directory, type Location, type PendingEvent } from './directory/directory.js';
import type { ProxiedConnection } from './engine/connection.js';
import { cidrPolicy, LOOPBACK_ONLY, OwnListeners, type UpstreamPolicy } from './engine/policy.js';
import { describeRefusal, SocksFront } from './engine/socks-front.js';
import { VirtualEndpointTable } from './engine/virtual-endpoints.js';
import {
  InvalidConfigError,
  SpoofedEventError,
  SpoofedSenderError,
  UserOfflineError,
} from './errors/errors.js';
import { type CanonicalForm, jsonForm } from './g2g/canonical-form.js';
import { type GatewayIdentity, generateIdentity, identityFromPem } from './g2g/identity.js';
import { G2gNode } from './g2g/link.js';
import { TcpG2gTransport } from './g2g/tcp-transport.js';
import { G2gType } from './g2g/wire.js';
import { UserManager } from './manager/user-manager.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { PluginHost, type PluginReport, type PluginSettings } from './plugins/plugin-host.js';
import { emptyPluginState } from './plugins/plugin-state.js';
import type { Route } from './routing/capability-view.js';
import { CapabilityRouter, type RoutingOptions } from './routing/router.js';
import { StatusBoard } from './status/status-board.js';
import { type RosterItemJson, StateStore } from './store/state-store.js';

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** Codecs this gateway proxies and translates. The gateway never imports one itself. */
  codecs: readonly Codec[];
  /** The shared directory substrate. Default: a new `MemoryDht` (one gateway, one process). */
  dht?: Dht;
  /**
   * How events travel between gateways: one canonical form, or several (the first preferred; a
   * gateway speaking two converts between them for chains that need it). Default: JSON; the CLI
   * passes codec-xmpp's stanza form.
   */
  canonical?: CanonicalForm | readonly CanonicalForm[];
  /** Capability routing: advertised cost, hop limit, how often the capability graph is read again. */
  routing?: RoutingOptions;
  /** Lifetime of capability records, ms (refreshed at a third). Default 10 minutes, or the soft TTL if longer. */
  capabilityTtl?: number;
  /** SOCKS4/4a listen address. Default 127.0.0.1:1080. */
  socks?: { host?: string; port?: number };
  /**
   * G2G listen address of the default (embedded) transport, and the address other gateways are
   * told to dial. Default 127.0.0.1, any port.
   */
  g2g?: { host?: string; port?: number };
  /**
   * How this gateway reaches other gateways and is reached (a `G2gTransport` whose `localId` is
   * this gateway's id), or a function making one from the gateway's identity (the identity may
   * come from the state file). Default: TCP with Noise (`TcpG2gTransport`) on `g2g`, with
   * `timeouts.g2gHandshake` and the `limits.g2g*` limits. The gateway closes it on `close()`.
   */
  transport?: G2gTransport | ((identity: GatewayIdentity) => G2gTransport);
  /** Prometheus endpoint (`/metrics`) and status page (`/`, `/status.json`); `false` for none. Default: none. */
  metrics?: { host?: string; port?: number } | false;
  /** File for hard state (key pair, foreign buddies, pending requests). Default: memory only. */
  stateFile?: string;
  /** Key pair to use when the state file has none; default a fresh one. */
  identity?: GatewayIdentity;
  /** Destinations clients may reach. Default: loopback only. */
  upstream?:
    | { allow?: readonly string[]; ports?: readonly number[]; hosts?: Readonly<Record<string, string>> }
    | UpstreamPolicy;
  /** When set, only directory records from these gateway ids are believed. */
  trustedGateways?: readonly string[];
  /** A pino logger; `false` for none. Default: a pino logger named `crosstalk-gateway` (pino writes to stdout). */
  logger?: Logger | false;
  /**
   * ms: `connect` upstream dials (10 s), `socksRequest` a client's whole SOCKS request (10 s),
   * `sniff` the first bytes before relaying untouched (5 s), `g2gHandshake` a peer gateway's
   * handshake (10 s).
   */
  timeouts?: { connect?: number; socksRequest?: number; sniff?: number; g2gHandshake?: number };
  /** Connection limits, for a gateway open to the internet (see `DEFAULT_LIMITS`). */
  limits?: GatewayLimits;
  /** Bytes of injected data a client may leave unread before it is disconnected. */
  maxBacklog?: number;
  /** Lifetime of location and presence records, ms (refreshed at a third of it). */
  softTtl?: number;
  /**
   * Command plugins (`/location`, `/music`, your own from `definePlugin`): they answer IMs sent to
   * this gateway's users who have them on (docs/writing-a-plugin.md).
   */
  plugins?: readonly Plugin[];
  /** Who has which plugin on by default, and the host's limits (timeout, rate, reply length). */
  pluginSettings?: PluginSettings;
  /** Clock, ms since the epoch (tests inject one). Default `Date.now`. */
  now?: () => number;
}

/** How many connections the gateway holds at once, in all and per source address (see `DEFAULT_LIMITS`). */
export interface GatewayLimits {
  /** SOCKS client connections held at once. */
  socksConnections?: number;
  /** SOCKS client connections held at once from one source address. */
  socksConnectionsPerSource?: number;
  /** G2G connections not yet authenticated, at once. */
  g2gPending?: number;
  /** G2G connections not yet authenticated, at once, from one source address. */
  g2gPendingPerSource?: number;
}

/**
 * Limits unless configured: a client holds 2 descriptors per proxied connection (docs/operating.md
 * "Capacity"); an MSN user with many conversations holds a few dozen connections, so 256 per
 * address leaves room for several users behind one NAT. A peer gateway needs one G2G connection per
 * gateway it talks to, and authenticated links are not counted.
 */
export const DEFAULT_LIMITS: Required<GatewayLimits> = {
  socksConnections: 10_000,
  socksConnectionsPerSource: 256,
  g2gPending: 256,
  g2gPendingPerSource: 8,
};

/**
 * What a gateway reports to `on` listeners: logins and logouts, events translated and delivered, events that
 * could not be, requests held, refusals, and every session event.
 */
export type GatewayEvent =
  | { type: 'verified'; user: Address; protocol: string; connection: string }
  | { type: 'offline'; user: Address }
  | { type: 'translated'; event: CanonicalEvent; from: string; to: string }
  | {
      type: 'delivered';
      event: CanonicalEvent;
      protocol: string;
      /** Features the chain dropped on the way here (a routed event), when any. */
      lost?: readonly Feature[];
    }
  | { type: 'undeliverable'; event: CanonicalEvent; reason: string }
  | { type: 'pending-held'; event: PendingEvent }
  | {
      type: 'refused';
      reason: string;
      connection?: string;
      /** The peer's address, for a refused SOCKS request or G2G connection. */
      source?: string;
      /** What a refused SOCKS request asked for, `host:port`. */
      target?: string;
      /** The SOCKS4 USERID of a refused request, as the client sent it. */
      userId?: string;
    }
  | { type: 'session'; connection: string; protocol: string; event: SessionEvent }
  | ({ type: 'plugin' } & PluginReport);

/** An embedding program's view of the plugin host (`gateway.plugins`). */
export interface GatewayPlugins {
  /** Registered plugin names. */
  list(): string[];
  /** Whether buddies who send `user` a command of plugin `name` get an answer. */
  isEnabled(user: Address, name: string): boolean;
  /** Turns plugin `name` on or off for `user`, as their `/plugins on|off` would (kept in the state file). */
  setEnabled(user: Address, name: string, on: boolean): Promise<void>;
}

/** An embedding program's view of capability routing (`gateway.routing`). */
export interface GatewayRouting {
  /** What this gateway translates, as it advertises it (`from>to`). */
  capabilities(): string[];
  /** Reads the capability graph from the directory now (it is read on start and then periodically). */
  refresh(): Promise<void>;
  /** Networks some gateway delivers to, as last read. */
  networks(): string[];
  /**
   * The route an event from a user of `from` (a protocol here) to a user on `network` would take
   * (at `gateway` when given), keeping `require`; undefined when there is none.
   */
  route(
    from: string,
    network: string,
    options?: { gateway?: string; require?: readonly Feature[] },
  ): Route | undefined;
}

/** A running bypass gateway, as `createGateway` returns it. */
export interface Gateway {
  /** This gateway's id: its ed25519 public key, hex. */
  readonly id: string;
  /** The SOCKS4 listener's address: what clients are pointed at. */
  readonly socks: { host: string; port: number };
  /** What other gateways dial: the G2G transport's contact, published in location records. */
  readonly contact: G2gContact;
  /** The G2G listener's TCP address, when the transport has one (the default transport does). */
  readonly g2g: { host: string; port: number } | undefined;
  /** The metrics and status page listener's address, when `metrics` is set. */
  readonly metricsAddress: { host: string; port: number } | undefined;
  /** The gateway's Prometheus metrics (its own registry). */
  readonly metrics: GatewayMetrics;
  /** The gateway's view of the directory (signed records in the DHT). */
  readonly directory: Directory;
  /** Capability routing: the chains this gateway would use, and reading the capability graph again. */
  readonly routing: GatewayRouting;
  /** Verified users with at least one live connection. */
  users(): Address[];
  /** A user's foreign buddies as stored (they survive restarts). */
  foreignBuddies(user: Address): RosterItem[];
  readonly plugins: GatewayPlugins;
  /** Observes what the gateway does (tests, the demo, operators). Returns an unsubscribe function. */
  on(listener: (event: GatewayEvent) => void): () => void;
  /** Graceful shutdown: stop accepting, close sessions, withdraw records, flush state. */
  close(): Promise<void>;
}

/** Starts a bypass gateway (DESIGN.md "Gateway engine"). */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const engine = new GatewayEngine(options);
  await engine.start();
  return engine;
}

const LOCATION_CACHE_MS = 30_000;
/** The first retry of a failed publish, ms (then doubling, up to a third of the soft TTL). */
const RETRY_FIRST_MS = 1000;
/** How long after a watched buddy's location record lapses the gateway looks again, ms. */
const WATCH_MARGIN_MS = 50;

const itemToJson = (item: RosterItem): RosterItemJson => ({ ...item, address: formatAddress(item.address) });

class GatewayEngine implements Gateway {
  readonly #o: GatewayOptions;
  readonly #registry: CodecRegistry;
  readonly #dht: Dht;
  readonly #forms: readonly CanonicalForm[];
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #listeners = new Set<(e: GatewayEvent) => void>();
  readonly #managers = new Map<string, UserManager>();
  readonly #connections = new Set<ProxiedConnection>();
  readonly #locationCache = new Map<string, { location: Location; until: number }>();
  readonly #cookies = new MemoryCookieTable();
  readonly #virtual = new VirtualEndpointTable();
  readonly metrics = new GatewayMetrics();
  readonly #plugins: PluginHost;
  readonly #status: StatusBoard;
  #store!: StateStore;
  #identity!: GatewayIdentity;
  #node!: G2gNode;
  #router!: CapabilityRouter;
  #front!: SocksFront;
  directory!: Directory;
  socks!: { host: string; port: number };
  contact!: G2gContact;
  g2g: { host: string; port: number } | undefined;
  metricsAddress: { host: string; port: number } | undefined;
  #closing = false;

  constructor(options: GatewayOptions) {
    this.#o = options;
    this.#registry = new CodecRegistry(options.codecs);
    this.#dht = options.dht ?? new MemoryDht();
    const forms = options.canonical ?? jsonForm;
    this.#forms = 'encode' in forms ? [forms] : forms.length > 0 ? [...forms] : [jsonForm];
    this.#log =
      options.logger === false
        ? pino({ enabled: false })
        : (options.logger ?? pino({ name: 'crosstalk-gateway' }));
    this.#now = options.now ?? Date.now;
    this.#status = new StatusBoard({ now: this.#now });
    this.#listeners.add((e) => this.#status.observe(e));
    this.#plugins = new PluginHost({
      plugins: options.plugins ?? [],
      ...(options.pluginSettings ? { settings: options.pluginSettings } : {}),
      state: {
        read: () => this.#store.state.plugins,
        update: (change) =>
          this.#store.update((s) => {
            s.plugins ??= emptyPluginState();
            change(s.plugins);
          }),
      },
      send: (event) => this.#sendAs(event),
      deliver: (event) => {
        const m = this.#managers.get(addressKey(event.to));
        return m !== undefined && this.#deliverTo(m, event);
      },
      report: (report) => {
        this.metrics.pluginRequests.inc({ plugin: report.plugin, outcome: report.outcome });
        this.#emit({ type: 'plugin', ...report });
      },
      log: this.#log,
      now: this.#now,
      newId: () => this.#newId(),
    });
  }

  get plugins(): GatewayPlugins {
    const host = this.#plugins;
    return {
      list: () => host.plugins.map((p) => p.name),
      isEnabled: (user, name) => host.isEnabled(user, name),
      setEnabled: (user, name, on) => host.setEnabled(user, name, on),
    };
  }

  get id(): string {
    return this.#identity.id;
  }

  get routing(): GatewayRouting {
    const router = this.#router;
    return {
      capabilities: () => router.own.map((c) => `${c.from}>${c.to}`),
      refresh: () => router.refresh(),
      networks: () => [...router.view.networks()].sort(),
      route: (from, network, options) => router.routeFor(from, network, options),
    };
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    try {
      await this.#open();
    } catch (error) {
      // A start that fails half way (a port taken) must not leave listeners open: the process
      // would never exit. Close whatever was opened, then report the first failure.
      clearInterval(this.#hardRefresh);
      clearInterval(this.#capabilityRefresh);
      this.#router?.stop();
      clearTimeout(this.#retry.timer);
      await this.#front?.close().catch(() => {});
      await this.#node?.close().catch(() => {});
      await this.metrics.close().catch(() => {});
      throw error;
    }
  }

  async #open(): Promise<void> {
    this.#store = await StateStore.open(this.#o.stateFile);
    for (const file of this.#store.removedTemporaries)
      this.#log.warn({ file }, 'removed the temporary file of an interrupted state write');
    for (const q of this.#store.quarantined) {
      this.#log.warn(
        { what: q.what, owner: q.owner, reason: q.reason, quarantine: this.#store.quarantinePath },
        'moved an unreadable state entry to the quarantine file',
      );
    }
    const pem = this.#store.state.identity;
    this.#identity = pem ? identityFromPem(pem, this.#o.stateFile) : (this.#o.identity ?? generateIdentity());
    if (!pem) {
      await this.#store.update((s) => {
        s.identity = this.#identity.exportPrivateKey();
      });
    }
    const trusted = this.#o.trustedGateways ? new Set(this.#o.trustedGateways) : undefined;
    this.directory = new Directory({
      dht: this.#dht,
      identity: this.#identity,
      now: this.#now,
      ...(this.#o.softTtl ? { softTtl: this.#o.softTtl } : {}),
      ...(this.#o.capabilityTtl ? { capabilityTtl: this.#o.capabilityTtl } : {}),
      ...(trusted ? { trusted: (id: string) => id === this.#identity.id || trusted.has(id) } : {}),
      onRejected: (key, reason, code) => {
        this.metrics.rejectedRecords.inc();
        this.metrics.refused.inc({ reason: code });
        this.#log.warn({ key, reason, code }, 'rejected a directory record');
      },
      onVerified: (kind) => this.metrics.verifiedRecords.inc({ kind }),
    });
    const limits = { ...DEFAULT_LIMITS, ...this.#o.limits };
    const own = new OwnListeners();
    const given = this.#o.transport;
    const transport =
      typeof given === 'function'
        ? given(this.#identity)
        : (given ??
          new TcpG2gTransport({
            identity: this.#identity,
            host: this.#o.g2g?.host ?? '127.0.0.1',
            port: this.#o.g2g?.port ?? 0,
            ...(this.#o.timeouts?.g2gHandshake ? { handshakeTimeout: this.#o.timeouts.g2gHandshake } : {}),
            maxPending: limits.g2gPending,
            maxPendingPerSource: limits.g2gPendingPerSource,
          }));
    this.#node = new G2gNode({
      transport,
      onEvent: (peer, payload) => this.#receive(peer, payload),
      onRouted: (peer, payload) => this.#router.receive(peer, payload),
      onAcceptError: (error) => this.#acceptError('g2g', error),
      onRefused: ({ source, error }) => {
        this.metrics.refused.inc({ reason: error.code });
        this.#log.info({ source, reason: describeRefusal(error) }, 'refused a G2G connection');
        this.#emit({ type: 'refused', reason: describeRefusal(error), source });
      },
    });
    // The transport proves this key to every peer: it must be the key the directory records carry.
    if (transport.localId !== this.#identity.id)
      throw new InvalidConfigError(
        `the G2G transport's key ${transport.localId.slice(0, 12)}… is not the gateway's ${this.id.slice(0, 12)}…`,
      );
    this.#router = new CapabilityRouter({
      ...this.#o.routing,
      identity: this.#identity,
      directory: this.directory,
      codecs: this.#registry.list(),
      forms: this.#forms,
      contact: () => this.contact,
      metrics: this.metrics,
      log: this.#log,
      now: this.#now,
      maxSkew: this.directory.maxClockSkew,
      softTtl: this.directory.softTtl,
      send: (peer, payload, routed) =>
        this.#node.send(peer, payload, routed ? G2gType.routed : G2gType.event),
      locate: (user, fresh) => this.#locate(user, fresh),
      forget: (user) => this.#locationCache.delete(addressKey(user)),
      deliver: (event, lost) => this.#accept(event, lost),
      tell: (user, text) => this.#tell(user, text),
      refused: (error, context) => this.#refuse(error, context),
      newId: () => this.#newId(),
    });
    this.contact = await this.#node.listen();
    const { host, port } = this.contact;
    this.g2g = typeof host === 'string' && typeof port === 'number' ? { host, port } : undefined;
    own.add(() => this.#node.boundAddress);
    const upstream = this.#o.upstream;
    const policy =
      upstream && 'resolve' in upstream
        ? upstream
        : cidrPolicy({
            allow: upstream?.allow ?? LOOPBACK_ONLY,
            ...(upstream?.ports ? { ports: upstream.ports } : {}),
            ...(upstream?.hosts ? { hosts: upstream.hosts } : {}),
          });
    this.#front = new SocksFront({
      registry: this.#registry,
      policy,
      virtual: this.#virtual,
      connectTimeout: this.#o.timeouts?.connect ?? 10_000,
      requestTimeout: this.#o.timeouts?.socksRequest ?? 10_000,
      sniffTimeout: this.#o.timeouts?.sniff ?? 5_000,
      sniffLimit: 64,
      maxBacklog: this.#o.maxBacklog ?? 1024 * 1024,
      maxConnections: limits.socksConnections,
      maxConnectionsPerSource: limits.socksConnectionsPerSource,
      own,
      context: (info) => this.#context(info.id, info.codec, info.target, info.virtual),
      hooks: {
        onOpen: (c) => {
          this.#connections.add(c);
          this.metrics.sessions.inc({ protocol: c.codec.protocol });
        },
        onEvent: (c, e) => this.#onSessionEvent(c, e),
        onClose: (c, reason) => this.#onClose(c, reason),
        onError: (c, error) => {
          this.metrics.refused.inc({ reason: isCrossTalkError(error) ? error.code : 'error' });
          this.#log.info(
            { connection: c.id, protocol: c.codec.protocol, error: describeRefusal(error) },
            'closing a connection on bad input',
          );
          this.#emit({ type: 'refused', reason: describeRefusal(error), connection: c.id });
        },
      },
      onRelay: ({ id, target }) => {
        this.metrics.relayed.inc();
        this.#log.debug({ connection: id, target }, 'unrecognised protocol: relaying untouched');
      },
      onAcceptError: (error) => this.#acceptError('socks', error),
      onRefused: ({ id, reason, request, source }) => {
        this.metrics.refused.inc({ reason: isCrossTalkError(reason) ? reason.code : 'error' });
        this.#log.info(
          {
            connection: id,
            source,
            target: request && `${request.host}:${request.port}`,
            reason: describeRefusal(reason),
          },
          'refused a SOCKS request',
        );
        this.#emit({
          type: 'refused',
          reason: describeRefusal(reason),
          connection: id,
          ...(source ? { source } : {}),
          ...(request ? { target: `${request.host}:${request.port}`, userId: request.userId } : {}),
        });
      },
    });
    this.socks = await this.#front.listen(this.#o.socks?.host ?? '127.0.0.1', this.#o.socks?.port ?? 1080);
    own.add(() => this.#front.boundAddress);
    if (this.#o.metrics)
      this.metricsAddress = await this.metrics.listen(
        this.#o.metrics.host ?? '127.0.0.1',
        this.#o.metrics.port ?? 0,
        () => this.#status.status({ id: this.id, socks: this.socks, g2g: this.g2g, contact: this.contact }),
      );
    own.add(() => this.metrics.boundAddress);
    // A DHT that does not answer yet does not stop the gateway: what fails is retried.
    await this.#republishHardState().catch((error) => this.#publishFailed(error));
    await this.#advertiseCapabilities().catch((error) => this.#publishFailed(error));
    this.#router.start();
    this.#capabilityRefresh = setInterval(
      () => void this.#advertiseCapabilities().catch((error) => this.#publishFailed(error)),
      Math.max(1000, Math.floor(this.directory.capabilityTtl / 3)),
    );
    this.#capabilityRefresh.unref();
    this.#log.info(
      { id: this.id, socks: this.socks, g2g: this.contact, codecs: this.#registry.protocols() },
      'gateway started',
    );
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#hardRefresh);
    this.#plugins.close();
    clearInterval(this.#capabilityRefresh);
    clearTimeout(this.#retry.timer);
    for (const key of [...this.#watches.keys()]) this.#unwatch(key);
    await this.#front.close();
    for (const c of [...this.#connections]) c.close('gateway shutting down');
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    for (const manager of [...this.#managers.values()]) await this.#offline(manager).catch(() => {});
    this.#router.stop();
    await this.#router.withdraw();
    await this.#store.flush();
    await this.#node.close();
    await this.metrics.close();
    this.#log.info({ id: this.id }, 'gateway stopped');
  }

  /** Work started by session events, which `close` lets finish before it flushes state. */
  readonly #inflight = new Set<Promise<unknown>>();

  #track(work: Promise<unknown>): void {
    this.#inflight.add(work);
    void work.finally(() => this.#inflight.delete(work));
  }

  users(): Address[] {
    return [...this.#managers.values()].map((m) => m.address);
  }

  foreignBuddies(user: Address): RosterItem[] {
    return (this.#store.state.users[addressKey(user)]?.foreignBuddies ?? []).flatMap((item) => {
      try {
        return [{ ...item, address: parseAddress(item.address) }];
      } catch {
        return [];
      }
    });
  }

  on(listener: (event: GatewayEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: GatewayEvent): void {
    for (const l of this.#listeners) l(event);
    // What observers see, for an operator reading the log (and tests driving a gateway process).
    if (event.type !== 'session' && this.#log.isLevelEnabled('debug'))
      this.#log.debug({ gatewayEvent: gatewayEventToJson(event) }, 'gateway event');
  }

  // ------------------------------------------------------------------ sessions

  /** Foreign = on a network this gateway bridges and not the connection's own network. */
  #isForeign(codec: Codec, a: Address): boolean {
    if (codec.networks.includes(a.network)) return false;
    // The system address is answered here, whatever the protocol (plugins: /plugins, /help).
    if (isSystemAddress(a)) return true;
    if (isDomainNetwork(a.network)) {
      // Another XMPP domain is the XMPP server's business (s2s), not ours; for other protocols an
      // XMPP domain is foreign when this gateway bridges XMPP.
      const xmpp = this.#registry.list().find((c) => c.networks.includes('xmpp'));
      return xmpp !== undefined && !codec.networks.includes('xmpp');
    }
    // A network only other gateways deliver to is reached through capability routing.
    return this.#registry.forNetwork(a.network) !== undefined || this.#router.reaches(a.network);
  }

  #context(
    id: string,
    codec: Codec,
    target: { host: string; port: number },
    virtual?: { data: unknown },
  ): SessionContext {
    return {
      connectionId: id,
      target,
      isForeign: (a) => this.#isForeign(codec, a),
      foreignRoster: (owner) => this.foreignBuddies(owner),
      cookies: this.#cookies,
      endpoints: this.#virtual,
      ...(virtual ? { virtual } : {}),
      now: this.#now,
      newId: () => this.#newId(),
    };
  }

  #newId(): string {
    return `${this.#identity.id.slice(0, 8)}-${this.#now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }

  #onSessionEvent(c: ProxiedConnection, event: SessionEvent): void {
    this.#emit({ type: 'session', connection: c.id, protocol: c.codec.protocol, event });
    switch (event.type) {
      case 'verified':
        this.#attach(c, event.address);
        return;
      case 'outbound':
      case 'self': {
        const manager = this.#managerOf(c);
        if (!manager) {
          // Identity gate: a connection that has not finished logging in reaches nobody.
          this.#log.warn(
            { connection: c.id, kind: event.event.kind },
            'dropped an event from an unverified connection',
          );
          return;
        }
        const stamped = this.#stampSender(c, manager, event.event);
        if (!stamped) return;
        const work =
          event.type === 'self' ? this.#ownEvent(manager, stamped) : this.#outbound(manager, c, stamped);
        this.#track(
          work.catch((error) => this.#log.error({ err: error }, 'handling an outbound event failed')),
        );
        return;
      }
      case 'login-failed':
        this.#log.info(
          { connection: c.id, code: event.code, message: event.message },
          'login refused by the server',
        );
        return;
      case 'untranslated':
        // A frame the session could not read went on untouched; the connection stays up.
        this.metrics.untranslated.inc({ protocol: c.codec.protocol, direction: event.direction });
        this.#log.warn(
          {
            connection: c.id,
            protocol: c.codec.protocol,
            direction: event.direction,
            error: describeRefusal(event.error),
          },
          'passed a frame on untranslated',
        );
        return;
      case 'redirect':
        this.#log.debug(
          { connection: c.id, host: event.host, port: event.port, purpose: event.purpose },
          'server redirect',
        );
        return;
      default:
        return;
    }
  }

  /**
   * The sender of everything a connection sends is its verified user, whatever the client's bytes
   * claim (YMSG key 1, an XMPP `from`): the event leaves stamped with the manager's address, and a
   * claim naming anyone else is refused, counted and logged (docs/ARCHITECTURE.md, "Who may say what").
   */
  #stampSender(c: ProxiedConnection, m: UserManager, event: CanonicalEvent): CanonicalEvent | undefined {
    const claimed = event.kind === 'roster' ? event.owner : event.from;
    if (addressKey(claimed) !== m.key) {
      const error = new SpoofedSenderError(
        `${formatAddress(m.address)} sent a ${event.kind} as ${formatAddress(claimed)}`,
      );
      this.#refuse(error, { connection: c.id, kind: event.kind, claimed: formatAddress(claimed) });
      return undefined;
    }
    return event.kind === 'roster' ? { ...event, owner: m.address } : { ...event, from: m.address };
  }

  /** One refusal: counted by its code, logged in one line, reported to observers. */
  #refuse(error: Error, context: Record<string, unknown> & { connection?: string }): void {
    const reason = isCrossTalkError(error) ? error.code : 'error';
    this.metrics.refused.inc({ reason });
    this.#log.warn({ ...context, reason, error: error.message }, 'refused');
    this.#emit({
      type: 'refused',
      reason: describeRefusal(error),
      ...(context.connection ? { connection: context.connection } : {}),
    });
  }

  #managerOf(c: ProxiedConnection): UserManager | undefined {
    const user = c.user;
    if (!user) return undefined;
    const manager = this.#managers.get(addressKey(user));
    return manager?.connections.has(c) ? manager : undefined;
  }

  #attach(c: ProxiedConnection, address: Address): void {
    const key = addressKey(address);
    let manager = this.#managers.get(key);
    const first = !manager;
    if (!manager) {
      manager = new UserManager(address, key);
      this.#managers.set(key, manager);
      this.metrics.users.set(this.#managers.size);
    }
    manager.connections.add(c);
    manager.protocol ??= c.codec.protocol;
    this.#emit({ type: 'verified', user: address, protocol: c.codec.protocol, connection: c.id });
    this.#log.info(
      { user: formatAddress(address), protocol: c.codec.protocol, connection: c.id },
      'login verified',
    );
    if (first)
      manager.ready = this.#online(manager).catch((error) =>
        this.#log.error({ err: error }, 'going online failed'),
      );
  }

  #onClose(c: ProxiedConnection, reason: string): void {
    if (this.#connections.delete(c)) this.metrics.sessions.dec({ protocol: c.codec.protocol });
    const manager = this.#managerOf(c);
    if (!manager) return;
    manager.connections.delete(c);
    this.#log.debug({ connection: c.id, reason }, 'connection closed');
    if ([...manager.connections].every((x) => x.closed)) this.#offline(manager).catch(() => {});
  }

  // ------------------------------------------------------------------ the manager's steps

  async #online(m: UserManager): Promise<void> {
    const since = this.#now();
    await this.#store.update((s) => {
      s.users[m.key] = { foreignBuddies: [], ...s.users[m.key], home: since };
    });
    // Nothing below holds the login up: the user is served here at once (their own server, buddies
    // on this gateway) while the DHT work goes on. Without the DHT, what could not be published is
    // retried, and republished once the DHT answers again.
    const published = this.#publishUser(m, since);
    // Refresh at a third of the TTL, each user at a random phase, so users who logged in together
    // do not all re-sign their records in the same tick (that burst shows in delivery latency).
    const refresh = Math.max(1000, Math.floor(this.directory.softTtl / 3));
    const first = setTimeout(
      () => {
        const republish = () => {
          // One at a time: without the DHT an attempt takes a while to fail.
          if (!m.publishing) m.publishing = this.#publishUser(m).finally(() => (m.publishing = undefined));
        };
        republish();
        m.refreshTimer = setInterval(republish, refresh);
        m.refreshTimer.unref();
      },
      Math.floor(refresh * (0.5 + Math.random() * 0.5)),
    );
    first.unref();
    m.refreshTimer = first;
    // Presence bifurcation: the native server got the login as usual; foreign buddies hear it from
    // us: on this gateway at once, elsewhere once the location their gateways check it against is
    // published. Not awaited by `ready`: a buddy's gateway may be waiting for its own user's
    // `ready` to deliver this, while that user's login waits for ours (two users logging in together).
    m.toldHere = this.#tellBuddies(m, m.presence, 'here');
    m.toldElsewhere = published.then(() => this.#tellBuddies(m, m.presence, 'elsewhere'));
    this.#track(m.toldHere);
    this.#track(m.toldElsewhere);
    this.#track(
      published.then(async () => {
        try {
          for (const buddy of this.foreignBuddies(m.address)) {
            if (buddy.subscription !== 'to' && buddy.subscription !== 'both') continue;
            const presence = await this.directory.lookupPresence(buddy.address);
            if (presence) this.#deliverTo(m, { ...presence, to: m.address });
          }
          await this.#deliverPending(m);
        } catch (error) {
          // The DHT did not answer: buddies' presence arrives as they change it; held requests
          // wait for the next login.
          this.#log.warn(
            { user: formatAddress(m.address), err: error },
            'could not read the directory at login',
          );
        }
      }),
    );
  }

  /** Publishes a user's location and presence (and, at login, their home record); a failure is retried. */
  async #publishUser(m: UserManager, home?: number): Promise<void> {
    try {
      await this.directory.publishLocation(m.address, this.contact);
      if (home !== undefined) await this.directory.publishHome(m.address, home);
      await this.directory.publishPresence(m.presence);
    } catch (error) {
      this.#publishFailed(error);
    }
  }

  /**
   * A publish failed. When the DHT may answer again (a retryable error), everything this gateway
   * keeps in it is republished after a backoff (1 s, doubling up to a third of the soft TTL, the
   * refresh period), and again until it all goes through: records that expired, or were lost with
   * the nodes that held them, come back without waiting for their next refresh.
   */
  #publishFailed(error: unknown): void {
    if (this.#closing) return;
    if (!isCrossTalkError(error) || !error.isRetryable) {
      this.#log.warn({ err: error }, 'could not publish to the directory');
      return;
    }
    if (!this.#retry.failing) {
      this.#retry.failing = true;
      this.#log.warn({ err: error }, 'could not publish to the directory; retrying');
    }
    if (this.#retry.timer) return;
    const delay = this.#retry.delay;
    this.#retry.delay = Math.min(delay * 2, Math.max(RETRY_FIRST_MS, Math.floor(this.directory.softTtl / 3)));
    this.#retry.timer = setTimeout(() => {
      this.#retry.timer = undefined;
      this.#track(this.#republishAll());
    }, delay);
    this.#retry.timer.unref();
  }

  readonly #retry: { failing: boolean; delay: number; timer: NodeJS.Timeout | undefined } = {
    failing: false,
    delay: RETRY_FIRST_MS,
    timer: undefined,
  };

  /** Everything this gateway keeps in the DHT: its users' soft state, its capabilities, its hard state. */
  async #republishAll(): Promise<void> {
    if (this.#closing) return;
    try {
      for (const m of [...this.#managers.values()]) {
        await this.directory.publishLocation(m.address, this.contact);
        await this.directory.publishPresence(m.presence);
      }
      await this.#advertiseCapabilities();
      await this.#republishHardState();
    } catch (error) {
      this.#publishFailed(error);
      return;
    }
    this.#retry.failing = false;
    this.#retry.delay = RETRY_FIRST_MS;
    // Peers must find this gateway again too, not only its records; and buddies elsewhere may have
    // been shown these users offline meanwhile (their location lapsed): they hear them again.
    this.#node.reannounce();
    for (const m of [...this.#managers.values()]) this.#track(this.#tellBuddies(m, m.presence, 'elsewhere'));
    this.#log.info('republished to the directory after a failure');
  }

  async #offline(m: UserManager): Promise<void> {
    if (this.#managers.get(m.key) !== m) return;
    this.#managers.delete(m.key);
    this.metrics.users.set(this.#managers.size);
    clearTimeout(m.refreshTimer);
    clearInterval(m.refreshTimer);
    for (const [key, watch] of this.#watches) {
      watch.users.delete(m.key);
      if (watch.users.size === 0) this.#unwatch(key);
    }
    await m.ready;
    const offline: PresenceEvent = { kind: 'presence', from: m.address, status: 'offline' };
    // Each buddy hears "online" before "offline"; those here at once, whatever the DHT does.
    await m.toldHere;
    await this.#tellBuddies(m, offline, 'here');
    await m.toldElsewhere;
    // Logged in again meanwhile (a slow DHT): the new login's records are not ours to withdraw.
    if (!this.#managers.has(m.key)) {
      await Promise.all([
        this.directory.withdrawLocation(m.address).catch(() => {}),
        this.directory.withdrawPresence(m.address).catch(() => {}),
      ]);
      await this.#tellBuddies(m, offline, 'elsewhere');
    }
    this.#emit({ type: 'offline', user: m.address });
    this.#log.info({ user: formatAddress(m.address) }, 'user offline');
  }

  // ------------------------------------------------------------------ foreign buddies' presence

  /**
   * A foreign buddy was shown online to a user here: their location record is watched, and when it
   * lapses (their gateway stopped re-signing it: it crashed, or lost the DHT), the buddy is shown
   * offline. Their gateway says "offline" itself when they log out; a crashed one cannot.
   */
  #watchPresence(m: UserManager, presence: PresenceEvent): void {
    const key = addressKey(presence.from);
    // A user of this gateway: it says itself when they leave.
    if (key === m.key || this.#managers.has(key)) return;
    let watch = this.#watches.get(key);
    if (presence.status === 'offline') {
      watch?.users.delete(m.key);
      if (watch && watch.users.size === 0) this.#unwatch(key);
      return;
    }
    if (!watch) {
      watch = { address: presence.from, users: new Set(), timer: undefined };
      this.#watches.set(key, watch);
      // The location the sender's link was checked against says when to look next; else look now.
      this.#scheduleWatch(key, this.#locationCache.get(key)?.location.expiresAt ?? this.#now());
    }
    watch.users.add(m.key);
  }

  readonly #watches = new Map<
    string,
    { address: Address; users: Set<string>; timer: NodeJS.Timeout | undefined }
  >();

  #scheduleWatch(key: string, at: number): void {
    const watch = this.#watches.get(key);
    if (!watch || this.#closing) return;
    clearTimeout(watch.timer);
    watch.timer = setTimeout(
      () => this.#track(this.#checkWatch(key)),
      Math.max(0, at - this.#now()) + WATCH_MARGIN_MS,
    );
    watch.timer.unref();
  }

  #unwatch(key: string): void {
    clearTimeout(this.#watches.get(key)?.timer);
    this.#watches.delete(key);
  }

  async #checkWatch(key: string): Promise<void> {
    const watch = this.#watches.get(key);
    if (!watch) return;
    watch.timer = undefined;
    let location: Location | undefined;
    try {
      location = await this.directory.lookupLocation(watch.address);
    } catch {
      // The DHT does not answer: nothing says the buddy left. Look again a little later.
      this.#scheduleWatch(
        key,
        this.#now() + Math.max(RETRY_FIRST_MS, Math.floor(this.directory.softTtl / 3)),
      );
      return;
    }
    if (this.#watches.get(key) !== watch) return;
    if (location) {
      this.#scheduleWatch(key, location.expiresAt);
      return;
    }
    this.#locationCache.delete(key);
    this.#log.info({ buddy: key, users: watch.users.size }, 'a foreign buddy is no longer online anywhere');
    for (const userKey of [...watch.users]) {
      const m = this.#managers.get(userKey);
      if (m) this.#deliverTo(m, { kind: 'presence', from: watch.address, to: m.address, status: 'offline' });
    }
    this.#unwatch(key);
  }

  /** Sends a presence to every foreign buddy who may see it (subscription from/both). */
  async #tellBuddies(
    m: UserManager,
    presence: PresenceEvent,
    where: 'here' | 'elsewhere' | 'everywhere' = 'everywhere',
  ): Promise<void> {
    const buddies = this.foreignBuddies(m.address).filter(
      (b) =>
        (b.subscription === 'from' || b.subscription === 'both') &&
        (where === 'everywhere' || this.#managers.has(addressKey(b.address)) === (where === 'here')),
    );
    await Promise.all(buddies.map((b) => this.#route(m, { ...presence, to: b.address }).catch(() => {})));
  }

  async #deliverPending(m: UserManager): Promise<void> {
    const delivered = new Set(this.#store.state.delivered);
    for (const { request } of await this.directory.pendingFor(m.address)) {
      const id = pendingId(request);
      if (delivered.has(id)) continue;
      if (request.kind === 'buddy-response') await this.#recordAnswer(request);
      if (this.#deliverTo(m, request)) {
        await this.#store.update((s) => {
          s.delivered.push(id);
        });
        if (request.kind === 'buddy-response' && request.accepted) this.#presenceTo(m, request.from);
      }
    }
  }

  /** The user's client said something about itself (its presence): mirror it to foreign buddies. */
  async #ownEvent(m: UserManager, event: CanonicalEvent): Promise<void> {
    if (event.kind !== 'presence') return;
    m.presence = { ...event, from: m.address };
    // Buddies hear it whether or not the DHT takes it (a buddy on this gateway needs no DHT).
    const published = this.directory.publishPresence(m.presence).catch((error) => this.#publishFailed(error));
    await this.#tellBuddies(m, m.presence);
    await published;
  }

  async #outbound(m: UserManager, c: ProxiedConnection, event: CanonicalEvent): Promise<void> {
    if ('to' in event && event.to && isSystemAddress(event.to)) {
      // For the gateway itself: answered here, never routed (other kinds mean nothing to it).
      if (event.kind === 'im') await this.#plugins.system(this.#pluginUser(m), event);
      return;
    }
    switch (event.kind) {
      case 'buddy-request':
        await this.#setBuddy(m.address, event.to, (item) => ({ ...item, pending: true }));
        break;
      case 'buddy-response':
        await this.#setBuddy(m.address, event.to, (item) =>
          event.accepted
            ? { ...item, subscription: 'both', pending: false }
            : { ...item, subscription: 'none', pending: false },
        );
        break;
      case 'roster':
        return; // the client's own list edits reach its server; foreign items are in our store
      default:
        break;
    }
    try {
      await this.#route(m, event, c.codec.protocol);
      // Newly mutual buddies see each other at once, not only at the next presence change.
      if (event.kind === 'buddy-response' && event.accepted) this.#presenceTo(m, event.to);
    } catch (error) {
      const reason = isCrossTalkError(error) ? error.code : String(error);
      if (
        (event.kind === 'buddy-request' || event.kind === 'buddy-response') &&
        isCrossTalkError(error, 'ERR_USER_OFFLINE')
      ) {
        await this.#holdPending(event);
        return;
      }
      this.metrics.undeliverable.inc({ kind: event.kind, reason });
      this.#emit({ type: 'undeliverable', event, reason });
      // No chain reaches the recipient: said in the sender's own client, not left to silence.
      if (event.kind === 'im' && isCrossTalkError(error, 'ERR_NO_ROUTE'))
        this.#tell(
          m.address,
          `CrossTalk could not deliver your message to ${formatAddress(event.to)}: ${error.message}.`,
        );
      this.#log.info(
        { kind: event.kind, to: 'to' in event && event.to ? formatAddress(event.to) : undefined, reason },
        'undeliverable',
      );
    }
  }

  async #holdPending(event: PendingEvent): Promise<void> {
    const value = await this.directory.holdPending(event);
    if (!value) {
      this.#emit({ type: 'undeliverable', event, reason: 'ERR_TOO_MANY_PENDING' });
      return;
    }
    await this.#store.update(
      (s) => void s.pending.push({ request: eventToJson(event), value: Buffer.from(value).toString('hex') }),
    );
    this.#emit({ type: 'pending-held', event });
  }

  /**
   * Hard state back into the DHT: the requests this gateway holds and its users' home records (with
   * the login time they were first published with, so a restart never outbids a later login
   * elsewhere). Run on start and then at a third of the pending TTL, so neither expires while held.
   */
  async #republishHardState(): Promise<void> {
    let failed = await this.#republishPending();
    for (const [key, user] of Object.entries(this.#store.state.users)) {
      if (user.home === undefined) continue;
      try {
        await this.directory.publishHome(parseAddress(key), user.home);
      } catch (error) {
        this.#log.warn({ user: key, err: error }, 'could not republish a home record');
        failed ??= error;
      }
    }
    if (!this.#hardRefresh) {
      this.#hardRefresh = setInterval(
        () => {
          this.#track(this.#republishHardState().catch((error) => this.#publishFailed(error)));
        },
        Math.max(1000, Math.floor(this.directory.pendingTtl / 3)),
      );
      this.#hardRefresh.unref();
    }
    if (failed !== undefined) throw failed;
  }

  #hardRefresh: NodeJS.Timeout | undefined;
  #capabilityRefresh: NodeJS.Timeout | undefined;

  /** Re-signs every held request in place; returns the first failure (that request stays held). */
  async #republishPending(): Promise<unknown> {
    // Each held entry is re-signed in place; entries added or released meanwhile are left as they are.
    const replaced = new Map<object, { request: unknown; value: string } | undefined>();
    let failed: unknown;
    for (const held of [...this.#store.state.pending]) {
      try {
        const event = eventFromJson(held.request);
        if (event.kind !== 'buddy-request' && event.kind !== 'buddy-response') {
          replaced.set(held, undefined);
          continue;
        }
        const value = await this.directory.holdPending(event, Buffer.from(held.value, 'hex'));
        replaced.set(held, value && { request: held.request, value: Buffer.from(value).toString('hex') });
      } catch (error) {
        // Kept as it is (the DHT may be unreachable now); the next round tries again.
        this.#log.warn({ err: error }, 'could not republish a held request; it stays held');
        failed ??= error;
      }
    }
    await this.#store.update((s) => {
      s.pending = s.pending.flatMap((p) => {
        if (!replaced.has(p)) return [p];
        const next = replaced.get(p);
        return next ? [next] : [];
      });
    });
    return failed;
  }

  /** An answer reached the requester: update their foreign buddy, and stop holding the request. */
  async #recordAnswer(answer: CanonicalEvent & { kind: 'buddy-response' }): Promise<void> {
    await this.#setBuddy(answer.to, answer.from, (item) =>
      answer.accepted
        ? { ...item, subscription: 'both', pending: false }
        : { ...item, subscription: 'none', pending: false },
    );
    const held = this.#store.state.pending.filter((p) => {
      const r = p.request as { kind?: string; from?: string; to?: string };
      return (
        r.kind === 'buddy-request' &&
        r.from === formatAddress(answer.to) &&
        r.to === formatAddress(answer.from)
      );
    });
    for (const p of held) await this.directory.releasePending(answer.from, Buffer.from(p.value, 'hex'));
    if (held.length) {
      await this.#store.update((s) => {
        s.pending = s.pending.filter((p) => !held.includes(p));
      });
    }
  }

  async #setBuddy(owner: Address, buddy: Address, change: (item: RosterItem) => RosterItem): Promise<void> {
    const key = addressKey(owner);
    const list = this.foreignBuddies(owner);
    const at = list.findIndex((i) => addressKey(i.address) === addressKey(buddy));
    const before: RosterItem =
      at >= 0 ? list[at]! : { address: buddy, groups: [], subscription: 'none', pending: false };
    const after = change(before);
    if (at >= 0) list[at] = after;
    else list.push(after);
    await this.#store.update((s) => {
      s.users[key] = { ...s.users[key], foreignBuddies: list.map(itemToJson) };
    });
  }

  // ------------------------------------------------------------------ routing

  /** Carries an event to its recipient: locally when they are here, else over G2G. */
  async #route(m: UserManager, event: CanonicalEvent, fromProtocol = m.protocol ?? 'unknown'): Promise<void> {
    const to = 'to' in event ? event.to : undefined;
    if (!to) return;
    const started = process.hrtime.bigint();
    const local = this.#managers.get(addressKey(to));
    let protocol: string;
    if (local) {
      this.#router.accountLocal(event, fromProtocol);
      protocol = await this.#accept(event);
    } else {
      protocol = await this.#router.send(event, to, fromProtocol);
    }
    this.metrics.deliveryLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.translated.inc({ from: fromProtocol, to: protocol || 'unknown', kind: event.kind });
    this.#emit({ type: 'translated', event, from: fromProtocol, to: protocol });
  }

  async #locate(user: Address, fresh: boolean): Promise<Location | undefined> {
    const key = addressKey(user);
    const cached = this.#locationCache.get(key);
    if (!fresh && cached && cached.until > this.#now()) return cached.location;
    const location = await this.directory.lookupLocation(user);
    // Cached for a while; a failed send or a sender seen on another link looks again at once.
    if (location) this.#locationCache.set(key, { location, until: this.#now() + LOCATION_CACHE_MS });
    else this.#locationCache.delete(key);
    return location;
  }

  /** An event arrived over G2G from `peerId`: check who may send it, then deliver. */
  async #receive(peerId: string, payload: Uint8Array): Promise<string | undefined> {
    const event = this.#router.decodeDirect(payload);
    if (event.kind === 'roster') throw new SpoofedEventError('roster events do not travel between gateways');
    // Anti-spoofing: the directory must name this link's gateway as the sender's.
    let location = await this.#locate(event.from, false);
    if (location?.gateway !== peerId) location = await this.#locate(event.from, true);
    if (location?.gateway !== peerId) {
      this.metrics.refused.inc({ reason: 'ERR_SPOOFED_EVENT' });
      this.#log.warn(
        { peer: peerId.slice(0, 12), from: formatAddress(event.from) },
        'refused an event from a gateway that does not serve its sender',
      );
      throw new SpoofedEventError(
        `gateway ${peerId.slice(0, 12)}… does not serve ${formatAddress(event.from)}`,
      );
    }
    return this.#accept(event);
  }

  /** Delivers an event to a user on this gateway; returns the protocol it was delivered in. */
  async #accept(event: CanonicalEvent, lost: readonly Feature[] = []): Promise<string> {
    const to = 'to' in event ? event.to : undefined;
    const m = to ? this.#managers.get(addressKey(to)) : undefined;
    if (!m) throw new UserOfflineError(`${to ? formatAddress(to) : 'nobody'} is not online here`);
    await m.ready;
    if (event.kind === 'buddy-response') await this.#recordAnswer(event);
    if (!this.#deliverTo(m, event, lost))
      throw new UserOfflineError(`no connection of ${formatAddress(m.address)} can take a ${event.kind}`);
    if (event.kind === 'buddy-response' && event.accepted) this.#presenceTo(m, event.from);
    // The plugin at Y: the IM reached Y; a command Y has on is answered on Y's behalf.
    if (event.kind === 'im') {
      const answering = this.#plugins.answer(() => this.#pluginUser(m), event);
      if (answering) this.#track(answering);
    }
    return m.protocol ?? 'unknown';
  }

  /** A local user as plugins see them: address, protocol, and where their client connects from. */
  #pluginUser(m: UserManager): PluginUser {
    const clientAddress = [...m.connections].find((c) => !c.closed)?.clientAddress;
    return {
      address: m.address,
      ...(m.protocol ? { protocol: m.protocol } : {}),
      ...(clientAddress ? { clientAddress } : {}),
    };
  }

  /** A plugin's answer leaves as the user's own IMs do (stamped with them, local or over G2G). */
  async #sendAs(event: ImEvent | (CanonicalEvent & { kind: 'typing' })): Promise<void> {
    const m = this.#managers.get(addressKey(event.from));
    if (!m) throw new UserOfflineError(`${formatAddress(event.from)} is no longer online here`);
    await this.#route(m, event);
  }

  /** Tells one (new) buddy this user's current presence, in the background. */
  #presenceTo(m: UserManager, buddy: Address): void {
    this.#track(this.#route(m, { ...m.presence, to: buddy }).catch(() => {}));
  }

  /** A listener out of file descriptors keeps listening; the count and a warning say why clients fail. */
  #acceptError(listener: 'socks' | 'g2g', error: Error): void {
    this.metrics.acceptErrors.inc({ listener });
    this.#log.warn({ listener, error: error.message }, 'could not accept a connection');
  }

  #deliverTo(m: UserManager, event: CanonicalEvent, lost: readonly Feature[] = []): boolean {
    const c = m.bestConnection(event);
    if (!c) return false;
    try {
      c.deliver(event);
    } catch (error) {
      this.#log.info(
        { connection: c.id, kind: event.kind, error: describeRefusal(error) },
        'delivery failed',
      );
      return false;
    }
    if (event.kind === 'presence') this.#watchPresence(m, event);
    this.#emit({ type: 'delivered', event, protocol: c.codec.protocol, ...(lost.length ? { lost } : {}) });
    return true;
  }

  async #advertiseCapabilities(): Promise<void> {
    await this.#router.advertise();
  }

  /** Tells a user here something from the gateway itself: an IM from the system address. */
  #tell(user: Address, text: string): void {
    const m = this.#managers.get(addressKey(user));
    if (!m) return;
    this.#deliverTo(m, {
      kind: 'im',
      id: `ct-notice-${this.#newId()}`,
      from: SYSTEM_ADDRESS,
      to: m.address,
      text,
      sentAt: this.#now(),
    });
  }
}

/** A gateway event as JSON (addresses and canonical events in their JSON form); not for `session`. */
function gatewayEventToJson(event: Exclude<GatewayEvent, { type: 'session' }>): Record<string, unknown> {
  switch (event.type) {
    case 'verified':
    case 'offline':
      return { ...event, user: formatAddress(event.user) };
    case 'translated':
    case 'delivered':
    case 'undeliverable':
    case 'pending-held':
      return { ...event, event: eventToJson(event.event) };
    default:
      return { ...event };
  }
}

function pendingId(event: PendingEvent): string {
  return `${event.kind}:${event.id ?? ''}:${addressKey(event.from)}>${addressKey(event.to)}`;
}
