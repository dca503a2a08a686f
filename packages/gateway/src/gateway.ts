import type { Socket } from 'node:net';
import {
  type Address,
  type Codec,
  CodecRegistry,
  type G2gContact,
  isCrossTalkError,
  type RosterItem,
} from '@crosstalk/core';
import type { ClusterWorker } from './cluster/worker.js';
import type { Directory } from './directory/directory.js';
import type { FilePushOptions } from './engine/file-push.js';
import { cidrPolicy, LOOPBACK_ONLY, OwnListeners, type UpstreamPolicy } from './engine/policy.js';
import { SocksFront } from './engine/socks-front.js';
import { SocksWayIn } from './engine/socks-way-in.js';
import { VirtualEndpointTable } from './engine/virtual-endpoints.js';
import { describeRefusal } from './errors/describe.js';
import type { GatewayMetrics } from './metrics/metrics.js';
import type {
  CrossTalkNode,
  GatewayEvent,
  GatewayPlugins,
  GatewayRouting,
  NodeLimits,
  NodeOptions,
} from './node/api.js';
import { G2G_DEFAULT_LIMITS, NodeEngine } from './node/create-node.js';
import { StatusBoard } from './status/status-board.js';

export type { GatewayEvent, GatewayPlugins } from './node/api.js';

/** How long a conversation the gateway plays itself may stay quiet before it is ended: 5 minutes. */
export const DEFAULT_IDLE_CONVERSATION = 5 * 60_000;
/** Idle sweeps per idle time (`GatewayOptions.timeouts.idleConversation`). */
const IDLE_SWEEPS = 4;

/** Options of `createGateway`: the node's (`NodeOptions`) and the SOCKS front's. */
export interface GatewayOptions extends NodeOptions {
  /** Codecs this gateway proxies and translates. The gateway never imports one itself. */
  codecs: readonly Codec[];
  /** SOCKS4/4a listen address. Default 127.0.0.1:1080. */
  socks?: { host?: string; port?: number };
  /** Prometheus endpoint (`/metrics`) and status page (`/`, `/status.json`); `false` for none. Default: none. */
  metrics?: { host?: string; port?: number } | false;
  /** Destinations clients may reach. Default: loopback only. */
  upstream?:
    | { allow?: readonly string[]; ports?: readonly number[]; hosts?: Readonly<Record<string, string>> }
    | UpstreamPolicy;
  /**
   * ms: `connect` upstream dials (10 s), `socksRequest` a client's whole SOCKS request (10 s),
   * `sniff` the first bytes before relaying untouched (5 s), `g2gHandshake` a peer gateway's
   * handshake (10 s), `g2gAck` a sent G2G event's acknowledgement (10 s), `idleConversation` a
   * conversation the gateway plays itself (an MSN switchboard with a foreign buddy) left quiet
   * before it is ended as its server would end it (`ProxySession.endIfIdle`; 5 minutes; 0: never),
   * so that an idle window holds no descriptor.
   */
  timeouts?: {
    connect?: number;
    socksRequest?: number;
    sniff?: number;
    g2gHandshake?: number;
    /** A sent G2G event's acknowledgement while the link is silent; past it the link is given up and the event sent again (`G2G_ACK_TIMEOUT`; a peer answering others gets `G2G_SLOW_ACK_ROUNDS` of these). */
    g2gAck?: number;
    /** A quiet conversation the gateway plays itself is ended after this long (`DEFAULT_IDLE_CONVERSATION`; 0: never). */
    idleConversation?: number;
  };
  /** Connection limits, for a gateway open to the internet (see `DEFAULT_LIMITS`). */
  limits?: GatewayLimits;
  /** Bytes of injected data a client may leave unread before it is disconnected. */
  maxBacklog?: number;
  /**
   * Run as one worker of a `--workers N` host (`joinGatewayCluster()` in a process
   * `startGatewayCluster` started): client connections come from the host's primary (`socks` is
   * not listened on), and the worker's key and, in embedded mode, the host's directory are used
   * unless `identity` or `dht` are given.
   */
  worker?: ClusterWorker;
  /**
   * XMPP domains whose users this gateway's XMPP users reach through CrossTalk instead of their
   * server's federation (s2s): a server whose users are on CrossTalk through the shim (one that
   * requires TLS end to end), or one without s2s. Lower-case. Default: none (another XMPP domain is
   * the XMPP server's business).
   */
  foreignDomains?: readonly string[];
  /**
   * Files offered to this gateway's users, pushed into their client streams where the protocol
   * can carry the bytes (XMPP: XEP-0047 in-band bytestreams), fetched from the sender's node.
   * Default: none (the offer alone is delivered).
   */
  files?: FilePushOptions;
}

/** How many connections the gateway holds at once, in all and per source address (see `DEFAULT_LIMITS`). */
export interface GatewayLimits extends NodeLimits {
  /** SOCKS client connections held at once. */
  socksConnections?: number;
  /** SOCKS client connections held at once from one source address. */
  socksConnectionsPerSource?: number;
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
  ...G2G_DEFAULT_LIMITS,
};

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
  /** Verified users with at least one live connection. */
  users(): Address[];
  /** A user's foreign buddies as stored (they survive restarts). */
  foreignBuddies(user: Address): RosterItem[];
  /** The plugin host: registered plugins, and who has which on. */
  readonly plugins: GatewayPlugins;
  /** Capability routing: the chains this gateway would use, and reading the capability graph again. */
  readonly routing: GatewayRouting;
  /**
   * The engine under the SOCKS front: other ways in (the client API, an XMPP component) attach
   * their users to it with `node.attach`, beside the gateway's SOCKS users.
   */
  readonly node: CrossTalkNode;
  /** Observes what the gateway does (tests, the demo, operators). Returns an unsubscribe function. */
  on(listener: (event: GatewayEvent) => void): () => void;
  /** Graceful shutdown: stop accepting, close sessions, withdraw records, flush state. */
  close(): Promise<void>;
}

/** Starts a bypass gateway (DESIGN.md "Gateway engine"): a node (`createNode`) with the SOCKS front as its way in. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const gateway = new SocksGateway(options);
  await gateway.start();
  return gateway;
}

/** A socket another process accepted: half-close both ways, as the front's own listener allows. */
function halfOpen(socket: Socket): Socket {
  socket.allowHalfOpen = true;
  return socket;
}

/** A node, the SOCKS front on it, and the metrics and status page listener. */
class SocksGateway implements Gateway {
  readonly #o: GatewayOptions;
  readonly #node: NodeEngine;
  readonly #registry: CodecRegistry;
  readonly #virtual: VirtualEndpointTable;
  readonly #status: StatusBoard;
  readonly #wayIn: SocksWayIn;
  #front: SocksFront | undefined;
  socks!: { host: string; port: number };
  metricsAddress: { host: string; port: number } | undefined;
  #closing = false;
  #idleSweep: ReturnType<typeof setInterval> | undefined;

  constructor(options: GatewayOptions) {
    this.#o = options;
    this.#registry = new CodecRegistry(options.codecs);
    const worker = options.worker;
    this.#node = new NodeEngine({
      ...options,
      ...(worker?.dht && !options.dht ? { dht: worker.dht } : {}),
      ...(worker && !options.identity ? { identity: worker.identity } : {}),
    });
    this.#status = new StatusBoard({ now: this.#node.now });
    // The status board sees every event, from the first.
    this.#node.on((e) => this.#status.observe(e));
    this.#virtual = new VirtualEndpointTable(
      worker ? { worker: { index: worker.index, count: worker.count } } : {},
    );
    this.#wayIn = new SocksWayIn(
      this.#node,
      this.#registry,
      this.#virtual,
      worker && worker.count > 1
        ? {
            index: worker.index,
            count: worker.count,
            cookies: worker.cookies,
            handOff: (to, connection, state) => worker.handOffSession(to, connection, state),
          }
        : undefined,
      options.foreignDomains,
      options.files,
    );
  }

  get node(): CrossTalkNode {
    return this.#node;
  }

  get id(): string {
    return this.#node.id;
  }

  get contact(): G2gContact {
    return this.#node.contact;
  }

  get g2g(): { host: string; port: number } | undefined {
    return this.#node.g2g;
  }

  get metrics(): GatewayMetrics {
    return this.#node.metrics;
  }

  get directory(): Directory {
    return this.#node.directory;
  }

  get plugins(): GatewayPlugins {
    return this.#node.plugins;
  }

  get routing(): GatewayRouting {
    return this.#node.routing;
  }

  users(): Address[] {
    return this.#node.users();
  }

  foreignBuddies(user: Address): RosterItem[] {
    return this.#node.foreignBuddies(user);
  }

  on(listener: (event: GatewayEvent) => void): () => void {
    return this.#node.on(listener);
  }

  async start(): Promise<void> {
    await this.#node.start();
    try {
      await this.#open();
    } catch (error) {
      // A start that fails half way (a port taken) must not leave listeners open: the process
      // would never exit. Close whatever was opened, then report the first failure.
      await this.#front?.close().catch(() => {});
      await this.#node.abort();
      await this.metrics.close().catch(() => {});
      throw error;
    }
  }

  async #open(): Promise<void> {
    const node = this.#node;
    const limits = { ...DEFAULT_LIMITS, ...this.#o.limits };
    const own = new OwnListeners();
    own.add(() => node.g2gBoundAddress);
    const upstream = this.#o.upstream;
    const policy =
      upstream && 'resolve' in upstream
        ? upstream
        : cidrPolicy({
            allow: upstream?.allow ?? LOOPBACK_ONLY,
            ...(upstream?.ports ? { ports: upstream.ports } : {}),
            ...(upstream?.hosts ? { hosts: upstream.hosts } : {}),
          });
    // A listener out of file descriptors keeps listening; the count and a warning say why clients fail.
    const acceptError = (error: Error) => {
      node.metrics.acceptErrors.inc({ listener: 'socks' });
      node.log.warn({ listener: 'socks', error: error.message }, 'could not accept a connection');
    };
    const worker = this.#o.worker;
    const several = worker !== undefined && worker.count > 1;
    this.#front = new SocksFront({
      registry: this.#registry,
      policy,
      virtual: this.#virtual,
      ...(several
        ? {
            barrier: worker.cookies,
            record: true,
            idPrefix: `w${worker.index}-`,
            handOff: (to, client, request, early) => {
              node.metrics.handOffs.inc({ stage: 'socks' });
              worker.handOffSocks(to, client, request, early);
            },
          }
        : {}),
      connectTimeout: this.#o.timeouts?.connect ?? 10_000,
      requestTimeout: this.#o.timeouts?.socksRequest ?? 10_000,
      sniffTimeout: this.#o.timeouts?.sniff ?? 5_000,
      sniffLimit: 64,
      maxBacklog: this.#o.maxBacklog ?? 1024 * 1024,
      maxConnections: limits.socksConnections,
      maxConnectionsPerSource: limits.socksConnectionsPerSource,
      own,
      context: (info) => this.#wayIn.context(info.id, info.codec, info.target, info.virtual),
      hooks: this.#wayIn.hooks,
      onRelay: ({ id, target }) => {
        node.metrics.relayed.inc();
        node.log.debug({ connection: id, target }, 'unrecognised protocol: relaying untouched');
      },
      onAcceptError: acceptError,
      onRefused: ({ id, reason, request, source }) => {
        node.metrics.refused.inc({ reason: isCrossTalkError(reason) ? reason.code : 'error' });
        node.log.info(
          {
            connection: id,
            source,
            target: request && `${request.host}:${request.port}`,
            reason: describeRefusal(reason),
          },
          'refused a SOCKS request',
        );
        node.emit({
          type: 'refused',
          reason: describeRefusal(reason),
          connection: id,
          ...(source ? { source } : {}),
          ...(request ? { target: `${request.host}:${request.port}`, userId: request.userId } : {}),
        });
      },
    });
    const front = this.#front;
    if (worker) {
      // Every worker of the host accepts on the one listener the primary bound (`SharedListener`).
      this.socks = worker.socks;
      own.add(() => ({ address: worker.socks.host, port: worker.socks.port }));
      worker.serve({
        connection: (client) => front.accept(halfOpen(client)),
        acceptError,
        socksHandOff: (client, request, early) => front.resumeSocks(halfOpen(client), request, early),
        sessionHandOff: (client, upstream, info) =>
          front.resumeSession(halfOpen(client), upstream && halfOpen(upstream), info),
        metrics: () => this.metrics.registry.getMetricsAsJSON(),
        shutdown: () => this.close(),
      });
    } else {
      this.socks = await front.listen(this.#o.socks?.host ?? '127.0.0.1', this.#o.socks?.port ?? 1080);
      own.add(() => front.boundAddress);
    }
    if (this.#o.metrics)
      this.metricsAddress = await this.metrics.listen(
        this.#o.metrics.host ?? '127.0.0.1',
        this.#o.metrics.port ?? 0,
        () => this.#status.status({ id: this.id, socks: this.socks, g2g: this.g2g, contact: this.contact }),
      );
    own.add(() => this.metrics.boundAddress);
    // Idle conversations: one sweep a quarter of the idle time, so one ends after between 1 and 1.25
    // times it (a timer per connection would cost memory per connection; issue 20).
    const idle = this.#o.timeouts?.idleConversation ?? DEFAULT_IDLE_CONVERSATION;
    if (idle > 0) {
      this.#idleSweep = setInterval(() => this.#wayIn.sweepIdle(IDLE_SWEEPS), idle / IDLE_SWEEPS);
      this.#idleSweep.unref();
    }
    await node.publish();
    node.log.info(
      { id: this.id, socks: this.socks, g2g: this.contact, codecs: this.#registry.protocols() },
      'gateway started',
    );
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#idleSweep);
    await this.#node.closeWith(async () => {
      await this.#front?.close();
      for (const c of [...this.#wayIn.connections]) c.close('gateway shutting down');
    });
    await this.metrics.close();
    this.#node.log.info({ id: this.id }, 'gateway stopped');
  }
}
