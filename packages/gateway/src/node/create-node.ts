import {
  type Address,
  addressKey,
  type CanonicalEvent,
  CodecRegistry,
  address as checkedAddress,
  type Dht,
  type Feature,
  formatAddress,
  type G2gContact,
  type ImEvent,
  isCrossTalkError,
  MemoryDht,
  NotLoggedInError,
  type PluginUser,
  type PresenceEvent,
  type RosterItem,
  SYSTEM_ADDRESS,
} from '@crosstalk/core';
import pino, { type Logger } from 'pino';
import { Directory } from '../directory/directory.js';
import { describeRefusal } from '../errors/describe.js';
import {
  AlreadyAttachedError,
  ExitRefusedError,
  InvalidConfigError,
  UserOfflineError,
} from '../errors/errors.js';
import { type CanonicalForm, jsonForm } from '../g2g/canonical-form.js';
import { type GatewayIdentity, generateIdentity, identityFromPem } from '../g2g/identity.js';
import { G2gNode } from '../g2g/link.js';
import { TcpG2gTransport } from '../g2g/tcp-transport.js';
import { G2gType } from '../g2g/wire.js';
import { UserManager } from '../manager/user-manager.js';
import { GatewayMetrics } from '../metrics/metrics.js';
import { PluginHost } from '../plugins/plugin-host.js';
import { emptyPluginState } from '../plugins/plugin-state.js';
import type { ExitHandle, NodeExit } from '../routing/exits.js';
import { CapabilityRouter } from '../routing/router.js';
import { eachAtMost } from '../serial/each-at-most.js';
import { StateStore } from '../store/state-store.js';
import type {
  AttachInfo,
  CrossTalkNode,
  GatewayEvent,
  GatewayPlugins,
  GatewayRouting,
  NodeLimits,
  NodeOptions,
  UserEndpoint,
  UserSession,
} from './api.js';
import type { NodeCore } from './core.js';
import { gatewayEventToJson } from './events.js';
import { DEFAULT_HELD_POLL, PendingRequests } from './pending/pending-requests.js';
import { PresenceWatch } from './presence-watch/presence-watch.js';
import { Publisher } from './publishing/publisher.js';
import { ForeignRoster } from './roster/foreign-roster.js';
import { Router } from './routing/router.js';
import { AttachedSession, type SessionHost } from './session/attached-session.js';
import { Outbound } from './session/outbound.js';

/**
 * Buddies' presence read at once at a login, a DHT lookup each. Measured on a 20-node hyperdht
 * testnet (bench/directory-refresh.ts, docs/benchmarks.md): 45 lookups 4 or 6 at a time took as long
 * as in a row or less, 8 at a time 6.7 times as long (dht-rpc then paces the node's requests).
 */
const LOGIN_PRESENCE_READS = 4;

/**
 * Starts a node of the CrossTalk network without any front (docs/embedding.md "Embedding the engine
 * without SOCKS"): users come in through `node.attach`. `createGateway` is this plus the SOCKS front.
 */
export async function createNode(options: NodeOptions = {}): Promise<CrossTalkNode> {
  const node = new NodeEngine(options);
  await node.start();
  node.log.info({ id: node.id, g2g: node.contact }, 'node started');
  return node;
}

/**
 * Defaults of the G2G limits (`DEFAULT_LIMITS` names them with the SOCKS front's): a peer needs one
 * G2G connection per node it talks to, and authenticated links are not counted.
 */
export const G2G_DEFAULT_LIMITS: Required<NodeLimits> = { g2gPending: 256, g2gPendingPerSource: 8 };

/** The node: `createNode` returns it; `createGateway` puts its SOCKS front on one. */
export class NodeEngine implements CrossTalkNode, NodeCore, SessionHost {
  readonly #o: NodeOptions;
  readonly #dht: Dht;
  readonly #forms: readonly CanonicalForm[];
  readonly #codecs: ReturnType<CodecRegistry['list']>;
  #capabilities!: CapabilityRouter;
  readonly log: Logger;
  readonly now: () => number;
  readonly #listeners = new Set<(e: GatewayEvent) => void>();
  readonly managers = new Map<string, UserManager>();
  readonly metrics = new GatewayMetrics();
  readonly pluginHost: PluginHost;
  readonly #roster: ForeignRoster;
  readonly #pending: PendingRequests;
  readonly #router: Router;
  readonly #watch: PresenceWatch;
  readonly #publisher: Publisher;
  readonly #outbound: Outbound;
  #store!: StateStore;
  #identity!: GatewayIdentity;
  #g2g!: G2gNode;
  #nextSession = 0;
  directory!: Directory;
  contact!: G2gContact;
  g2g: { host: string; port: number } | undefined;
  #closing = false;

  constructor(options: NodeOptions) {
    if (options.heldPoll !== undefined && !(Number.isFinite(options.heldPoll) && options.heldPoll >= 0))
      throw new InvalidConfigError(`heldPoll is a number of ms, 0 or more (got ${options.heldPoll})`);
    this.#o = options;
    this.#dht = options.dht ?? new MemoryDht();
    const forms = options.canonical ?? jsonForm;
    this.#forms = 'encode' in forms ? [forms] : forms.length > 0 ? [...forms] : [jsonForm];
    this.log =
      options.logger === false
        ? pino({ enabled: false })
        : (options.logger ?? pino({ name: 'crosstalk-gateway' }));
    this.now = options.now ?? Date.now;
    this.pluginHost = new PluginHost({
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
        const m = this.managers.get(addressKey(event.to));
        return m !== undefined && this.deliverTo(m, event);
      },
      report: (report) => {
        this.metrics.pluginRequests.inc({ plugin: report.plugin, outcome: report.outcome });
        this.emit({ type: 'plugin', ...report });
      },
      log: this.log,
      now: this.now,
      newId: () => this.newId(),
    });
    this.#roster = new ForeignRoster(() => this.#store);
    this.#pending = new PendingRequests(this, this.#roster, options.heldRetry);
    this.#router = new Router(this, () => this.#capabilities, this.#pending);
    this.#watch = new PresenceWatch(this, this.#router);
    this.#codecs = new CodecRegistry(options.codecs ?? []).list();
    this.#publisher = new Publisher(
      this,
      () => this.#capabilities,
      this.#pending,
      () => this.#g2g,
    );
    this.#outbound = new Outbound(this, this.#router, this.#roster, this.#pending);
  }

  // ------------------------------------------------------------------ what NodeCore shares

  get id(): string {
    return this.#identity.id;
  }

  get store(): StateStore {
    return this.#store;
  }

  get closing(): boolean {
    return this.#closing;
  }

  get plugins(): GatewayPlugins {
    const host = this.pluginHost;
    return {
      list: () => host.plugins.map((p) => p.name),
      isEnabled: (user, name) => host.isEnabled(user, name),
      setEnabled: (user, name, on) => host.setEnabled(user, name, on),
    };
  }

  get routing(): GatewayRouting {
    const router = this.#capabilities;
    return {
      capabilities: () => router.own.map((c) => `${c.from}>${c.to}`),
      refresh: () => router.refresh(),
      networks: () => [...router.view.networks()].sort(),
      route: (from, network, options) => router.routeFor(from, network, options),
    };
  }

  /**
   * Whether addresses on `network` are foreign to every protocol here because other nodes deliver to
   * them (capability routing), for a way in's `isForeign`.
   */
  reaches(network: string): boolean {
    return this.#capabilities?.reaches(network) ?? false;
  }

  /** The G2G listener's bound address (a wildcard stays a wildcard), for the SOCKS front's loop check. */
  get g2gBoundAddress(): { address: string; port: number } | undefined {
    return this.#g2g?.boundAddress;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Opens the state file, the directory and the G2G listener, and republishes what the node keeps. */
  async start(): Promise<void> {
    try {
      await this.#open();
    } catch (error) {
      // A start that fails half way (a port taken) must not leave listeners open: the process
      // would never exit. Close whatever was opened, then report the first failure.
      await this.abort();
      throw error;
    }
  }

  /** Undoes a start that failed half way: timers stopped, the G2G listener closed; nothing flushed. */
  async abort(): Promise<void> {
    this.#closing = true;
    this.#publisher.stop();
    this.#capabilities?.stop();
    await this.#g2g?.close().catch(() => {});
  }

  async #open(): Promise<void> {
    this.#store = await StateStore.open(this.#o.stateFile);
    for (const file of this.#store.removedTemporaries)
      this.log.warn({ file }, 'removed the temporary file of an interrupted state write');
    for (const q of this.#store.quarantined) {
      this.log.warn(
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
      now: this.now,
      ...(this.#o.softTtl ? { softTtl: this.#o.softTtl } : {}),
      ...(this.#o.capabilityTtl ? { capabilityTtl: this.#o.capabilityTtl } : {}),
      ...(trusted ? { trusted: (id: string) => id === this.#identity.id || trusted.has(id) } : {}),
      onRejected: (key, reason, code) => {
        this.metrics.rejectedRecords.inc();
        this.metrics.refused.inc({ reason: code });
        this.log.warn({ key, reason, code }, 'rejected a directory record');
      },
      onVerified: (kind) => this.metrics.verifiedRecords.inc({ kind }),
      ...(this.#o.g2gVersion !== undefined ? { g2gVersion: this.#o.g2gVersion } : {}),
    });
    const limits = { ...G2G_DEFAULT_LIMITS, ...this.#o.limits };
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
    this.#g2g = new G2gNode({
      transport,
      ...(this.#o.timeouts?.g2gAck ? { ackTimeout: this.#o.timeouts.g2gAck } : {}),
      ...(this.#o.g2gVersion !== undefined ? { version: this.#o.g2gVersion } : {}),
      onEvent: (peer, payload, located) => this.#router.receive(peer, payload, located),
      onRouted: (peer, payload) => this.#capabilities.receive(peer, payload),
      onLateAck: (outcome) => this.metrics.lateAcks.inc({ outcome }),
      onAcceptError: (error) => {
        // A listener out of file descriptors keeps listening; the count and a warning say why peers fail.
        this.metrics.acceptErrors.inc({ listener: 'g2g' });
        this.log.warn({ listener: 'g2g', error: error.message }, 'could not accept a connection');
      },
      onRefused: ({ source, error }) => {
        this.metrics.refused.inc({ reason: error.code });
        this.log.info({ source, reason: describeRefusal(error) }, 'refused a G2G connection');
        this.emit({ type: 'refused', reason: describeRefusal(error), source });
      },
    });
    // The transport proves this key to every peer: it must be the key the directory records carry.
    if (transport.localId !== this.#identity.id)
      throw new InvalidConfigError(
        `the G2G transport's key ${transport.localId.slice(0, 12)}… is not the gateway's ${this.id.slice(0, 12)}…`,
      );
    this.#capabilities = new CapabilityRouter({
      ...this.#o.routing,
      identity: this.#identity,
      directory: this.directory,
      codecs: this.#codecs,
      forms: this.#forms,
      contact: () => this.contact,
      metrics: this.metrics,
      log: this.log,
      now: this.now,
      maxSkew: this.directory.maxClockSkew,
      softTtl: this.directory.softTtl,
      send: (peer, payload, routed, located) =>
        this.#g2g.send(peer, payload, routed ? G2gType.routed : G2gType.event, located),
      locate: (user, fresh) => this.#router.locate(user, fresh),
      forget: (user) => this.#router.forgetLocation(addressKey(user)),
      deliver: (event, lost) => this.#router.acceptFromAfar(event, lost),
      tell: (user, text) => this.tell(user, text),
      refused: (error, context) => this.refuse(error, context),
      newId: () => this.newId(),
    });
    this.contact = await this.#g2g.listen();
    const { host, port } = this.contact;
    this.g2g = typeof host === 'string' && typeof port === 'number' ? { host, port } : undefined;
  }

  /**
   * What the node keeps in the directory, republished (held requests, home records) and advertised
   * (capabilities). Separate from `start` so a gateway opens its own listeners first, as it always did.
   */
  async publish(): Promise<void> {
    await this.#publisher.start();
    this.#capabilities.start();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    await this.closeWith(async () => {});
    this.log.info({ id: this.id }, 'node stopped');
  }

  /**
   * Shuts down; `front` runs first, once nothing new is scheduled (a gateway closes its SOCKS front
   * and its connections there).
   */
  async closeWith(front: () => Promise<void>): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#publisher.stop();
    this.#capabilities.stop();
    this.pluginHost.close();
    this.#watch.clear();
    this.#pending.stopRetrying();
    await front();
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    for (const manager of [...this.managers.values()]) {
      await Promise.all([...manager.sessions].map((s) => s.end('node shutting down'))).catch(() => {});
    }
    // Users whose connection closed on its own meanwhile: their "offline" is still on its way.
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await this.#publisher.withdrawCapabilities();
    await this.#store.flush();
    await this.#g2g.close();
  }

  /** Work started by session events, which `close` lets finish before it flushes state. */
  readonly #inflight = new Set<Promise<unknown>>();

  track(work: Promise<unknown>): void {
    this.#inflight.add(work);
    void work.finally(() => this.#inflight.delete(work));
  }

  users(): Address[] {
    return [...this.managers.values()].map((m) => m.address);
  }

  foreignBuddies(user: Address): RosterItem[] {
    return this.#roster.list(user);
  }

  on(listener: (event: GatewayEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: GatewayEvent): void {
    for (const l of this.#listeners) l(event);
    // What observers see, for an operator reading the log (and tests driving a gateway process).
    if (event.type !== 'session' && this.log.isLevelEnabled('debug'))
      this.log.debug({ gatewayEvent: gatewayEventToJson(event) }, 'gateway event');
  }

  newId(): string {
    return `${this.#identity.id.slice(0, 8)}-${this.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }

  refuse(error: Error, context: Record<string, unknown> & { connection?: string }): void {
    const reason = isCrossTalkError(error) ? error.code : 'error';
    this.metrics.refused.inc({ reason });
    this.log.warn({ ...context, reason, error: error.message }, 'refused');
    this.emit({
      type: 'refused',
      reason: describeRefusal(error),
      ...(context.connection ? { connection: context.connection } : {}),
    });
  }

  publishUser(m: UserManager): Promise<void> {
    return this.#publisher.publishUser(m);
  }

  // ------------------------------------------------------------------ exits

  async addExit(exit: NodeExit): Promise<ExitHandle> {
    if (this.#closing) throw new NotLoggedInError('the node is shutting down');
    const router = this.#capabilities;
    router.addExit(exit);
    await this.#publisher.advertiseCapabilities().catch((error) => this.#publisher.failed(error));
    this.log.info({ exit: exit.protocol, networks: exit.networks }, 'exit added');
    let removed = false;
    return {
      send: async (event) => {
        if (removed) throw new NotLoggedInError(`${exit.protocol} was removed`);
        if (!exit.networks.some((n) => n.toLowerCase() === event.from.network.toLowerCase()))
          throw new ExitRefusedError(`${exit.protocol} does not exit to ${event.from.network}`);
        const local = this.managers.get(addressKey(event.to));
        // A user of this node: delivered here, as the node's own users' events are.
        if (local) return this.#router.accept(event);
        return router.sendFromExit(exit.protocol, event);
      },
      remove: async () => {
        if (removed) return;
        removed = true;
        await router.removeExit(exit.protocol);
      },
    };
  }

  // ------------------------------------------------------------------ ways in

  async attach(user: Address, endpoint: UserEndpoint, info: AttachInfo = {}): Promise<UserSession> {
    const session = this.attachNow(user, endpoint, info, true);
    await session.manager.ready;
    return session;
  }

  /**
   * `attach` without waiting for the login to be recorded: the session exists when this returns (the
   * SOCKS front needs it at once, for the events that follow the login in the same bytes).
   * `validate: false` leaves the canonical model's limits to the way in (a codec session's framer).
   */
  attachNow(user: Address, endpoint: UserEndpoint, info: AttachInfo, validate: boolean): AttachedSession {
    if (this.#closing) throw new NotLoggedInError('the node is shutting down');
    const address = checkedAddress(user.user, user.network);
    const key = addressKey(address);
    let manager = this.managers.get(key);
    const shared = info.shared === true;
    if (manager && (!shared || [...manager.sessions].some((s) => !s.shared)))
      throw new AlreadyAttachedError(`${formatAddress(address)} is attached already`);
    const first = !manager;
    if (!manager) {
      manager = new UserManager(address, key);
      this.managers.set(key, manager);
      this.metrics.users.set(this.managers.size);
    }
    const session = new AttachedSession(this, manager, endpoint, {
      id: info.id ?? `session-${++this.#nextSession}`,
      protocol: info.protocol ?? 'api',
      clientAddress: info.clientAddress,
      shared,
      validate,
    });
    manager.sessions.add(session);
    manager.protocol ??= session.protocol;
    this.emit({ type: 'verified', user: address, protocol: session.protocol, connection: session.id });
    this.log.info(
      { user: formatAddress(address), protocol: session.protocol, connection: session.id },
      'login verified',
    );
    if (first)
      manager.ready = this.#online(manager)
        .catch((error) => this.log.error({ err: error }, 'going online failed'))
        .then(() => {
          manager.isReady = true;
        });
    return session;
  }

  send(session: AttachedSession, event: CanonicalEvent, validate: boolean) {
    return this.#outbound.send(session, event, validate);
  }

  mirror(session: AttachedSession, event: CanonicalEvent, validate: boolean): Promise<void> {
    return this.#outbound.mirror(session, event, validate);
  }

  detach(session: AttachedSession, reason: string): Promise<void> {
    const m = session.manager;
    if (!m.sessions.delete(session)) return Promise.resolve();
    this.log.debug({ connection: session.id, reason }, 'connection closed');
    if (m.sessions.size > 0) return Promise.resolve();
    // Tracked: a connection that closes while the node shuts down tells its buddies before G2G closes.
    const offline = this.#offline(m).catch(() => {});
    this.track(offline);
    return offline;
  }

  // ------------------------------------------------------------------ delivery

  deliverTo(m: UserManager, event: CanonicalEvent, lost: readonly Feature[] = []): boolean {
    const s = m.bestSession(event);
    if (!s) return false;
    try {
      if (!s.endpoint.deliver(event)) return false;
    } catch (error) {
      this.log.info({ connection: s.id, kind: event.kind, error: describeRefusal(error) }, 'delivery failed');
      return false;
    }
    if (event.kind === 'presence') this.#watch.saw(m, event);
    this.emit({ type: 'delivered', event, protocol: s.protocol, ...(lost.length ? { lost } : {}) });
    return true;
  }

  tell(user: Address, text: string): void {
    const m = this.managers.get(addressKey(user));
    if (!m) return;
    this.deliverTo(m, {
      kind: 'im',
      id: `ct-notice-${this.newId()}`,
      from: SYSTEM_ADDRESS,
      to: m.address,
      text,
      sentAt: this.now(),
    });
  }

  presenceTo(m: UserManager, buddy: Address): void {
    this.track(this.#router.route(m, { ...m.presence, to: buddy }).catch(() => {}));
  }

  async tellBuddies(
    m: UserManager,
    presence: PresenceEvent,
    where: 'here' | 'elsewhere' | 'everywhere' = 'everywhere',
  ): Promise<void> {
    const buddies = this.foreignBuddies(m.address).filter(
      (b) =>
        (b.subscription === 'from' || b.subscription === 'both') &&
        (where === 'everywhere' || this.managers.has(addressKey(b.address)) === (where === 'here')),
    );
    await Promise.all(
      buddies.map((b) => this.#router.route(m, { ...presence, to: b.address }).catch(() => {})),
    );
  }

  pluginUser(m: UserManager): PluginUser {
    const clientAddress = [...m.sessions].find((s) => !s.closed && s.clientAddress)?.clientAddress;
    return {
      address: m.address,
      ...(m.protocol ? { protocol: m.protocol } : {}),
      ...(clientAddress ? { clientAddress } : {}),
    };
  }

  /** A plugin's answer leaves as the user's own IMs do (stamped with them, local or over G2G). */
  async #sendAs(event: ImEvent | (CanonicalEvent & { kind: 'typing' })): Promise<void> {
    const m = this.managers.get(addressKey(event.from));
    if (!m) throw new UserOfflineError(`${formatAddress(event.from)} is no longer online here`);
    await this.#router.route(m, event);
  }

  // ------------------------------------------------------------------ the manager's steps

  async #online(m: UserManager): Promise<void> {
    const since = this.now();
    await this.#store.update((s) => {
      s.users[m.key] = { foreignBuddies: [], ...s.users[m.key], home: since };
    });
    // Nothing below holds the login up: the user is served here at once (their own server, buddies
    // on this node) while the DHT work goes on. Without the DHT, what could not be published is
    // retried, and republished once the DHT answers again.
    // What waits for the user's location record (the buddies elsewhere checking them against it,
    // and the login's reads) does not wait for the home record's put after it.
    let located!: () => void;
    const locationPublished = new Promise<void>((resolve) => {
      located = resolve;
    });
    this.track(this.#publisher.publishUser(m, since, located));
    // Refresh at a third of the TTL, each user at a random phase, so users who logged in together
    // do not all re-sign their records in the same tick (that burst shows in delivery latency).
    const refresh = Math.max(1000, Math.floor(this.directory.softTtl / 3));
    // Requests held for this user by a gateway that could not reach this one: read at every n-th
    // refresh (a per-user timer of their own would cost memory per user; issue 20).
    const heldPoll = this.#o.heldPoll ?? DEFAULT_HELD_POLL;
    const pollEvery = heldPoll > 0 ? Math.max(1, Math.round(heldPoll / refresh)) : 0;
    let refreshes = 0;
    const first = setTimeout(
      () => {
        const republish = () => {
          // One at a time: without the DHT an attempt takes a while to fail.
          if (!m.publishing)
            m.publishing = this.#publisher.publishUser(m).finally(() => (m.publishing = undefined));
          if (pollEvery > 0 && ++refreshes % pollEvery === 0)
            this.track(
              this.#pending.deliverTo(m).catch((error) =>
                // The DHT did not answer: the next poll, or the next login, reads them again.
                this.log.debug(
                  { user: formatAddress(m.address), err: error },
                  'could not read held requests',
                ),
              ),
            );
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
    // us: on this node at once, elsewhere once the location their nodes check it against is
    // published. Not awaited by `ready`: a buddy's node may be waiting for its own user's
    // `ready` to deliver this, while that user's login waits for ours (two users logging in together).
    m.toldHere = this.tellBuddies(m, m.presence, 'here');
    m.toldElsewhere = locationPublished.then(() => this.tellBuddies(m, m.presence, 'elsewhere'));
    this.track(m.toldHere);
    this.track(m.toldElsewhere);
    this.track(locationPublished.then(() => this.#readAtLogin(m)));
  }

  /**
   * After the user's own records are published (a buddy who publishes after this read then finds
   * them, and tells them itself): the buddies' presence, some at a time (each is a DHT lookup; one
   * after another, a list of 45 buddies, the internet-scale model's mean, waited 45 lookups in a
   * row for its last), then the requests held for them. A lookup that fails costs that one buddy's presence only.
   */
  async #readAtLogin(m: UserManager): Promise<void> {
    const buddies = this.foreignBuddies(m.address).filter(
      (b) => b.subscription === 'to' || b.subscription === 'both',
    );
    let failed = 0;
    let lastError: unknown;
    await eachAtMost(buddies, LOGIN_PRESENCE_READS, async (buddy) => {
      // The user left while their buddies were being read: the rest are not needed.
      if (this.managers.get(m.key) !== m) return;
      try {
        const online = await this.directory.lookupOnline(buddy.address);
        if (!online) return;
        // Where the buddy is, as read: the watch of their presence starts at the record's expiry
        // rather than reading it again at once, and the first events either way need no lookup.
        this.#router.noteLocation(buddy.address, online.location);
        if (online.presence) this.deliverTo(m, { ...online.presence, to: m.address });
      } catch (error) {
        failed++;
        lastError = error;
      }
    });
    if (failed > 0)
      // Their presence arrives as they change it.
      this.log.warn(
        { user: formatAddress(m.address), failed, of: buddies.length, err: lastError },
        "could not read buddies' presence at login",
      );
    if (this.managers.get(m.key) !== m) return;
    await this.#pending.deliverTo(m).catch((error) =>
      // The DHT did not answer: the next poll, or the next login, reads them again.
      this.log.warn({ user: formatAddress(m.address), err: error }, 'could not read held requests at login'),
    );
  }

  async #offline(m: UserManager): Promise<void> {
    if (this.managers.get(m.key) !== m) return;
    this.managers.delete(m.key);
    this.metrics.users.set(this.managers.size);
    clearTimeout(m.refreshTimer);
    clearInterval(m.refreshTimer);
    this.#watch.forget(m);
    await m.ready;
    const offline: PresenceEvent = { kind: 'presence', from: m.address, status: 'offline' };
    // Each buddy hears "online" before "offline"; those here at once, whatever the DHT does.
    await m.toldHere;
    await this.tellBuddies(m, offline, 'here');
    await m.toldElsewhere;
    // Told before the records are withdrawn: the buddies' gateways check the sender against the
    // location record, and a withdrawn one makes them refuse the "offline" as spoofed.
    if (!this.managers.has(m.key)) await this.tellBuddies(m, offline, 'elsewhere');
    // Logged in again meanwhile (a slow DHT): the new login's records are not ours to withdraw.
    if (!this.managers.has(m.key)) {
      await this.directory.withdrawLocation(m.address).catch(() => {});
    }
    this.emit({ type: 'offline', user: m.address });
    this.log.info({ user: formatAddress(m.address) }, 'user offline');
  }
}
