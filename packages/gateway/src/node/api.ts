import type {
  Address,
  CanonicalEvent,
  Codec,
  Dht,
  Feature,
  G2gContact,
  G2gTransport,
  Plugin,
  PresenceEvent,
  RosterEvent,
  RosterItem,
  SessionEvent,
} from '@crosstalk/core';
import type { Logger } from 'pino';
import type { Directory, PendingEvent } from '../directory/directory.js';
import type { CanonicalForm } from '../g2g/canonical-form.js';
import type { GatewayIdentity } from '../g2g/identity.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { PluginReport, PluginSettings } from '../plugins/plugin-host.js';
import type { Route } from '../routing/capability-view.js';
import type { ExitHandle, NodeExit } from '../routing/exits.js';
import type { RoutingOptions } from '../routing/router.js';

/**
 * The CrossTalk engine (docs/ARCHITECTURE.md "The engine and its ways in"): one node of the
 * CrossTalk network with its identity, its view of the directory, its G2G endpoint, its users'
 * managers, routing, held requests, presence and plugins. It has no front of its own: users come in
 * through a "way in" that calls `attach`, the SOCKS front of `createGateway` for unmodified clients,
 * or a program that vouches for its users itself (the client API, an XMPP component).
 */

/** Options of `createNode`: what a node needs without any front (`GatewayOptions` adds the SOCKS front's). */
export interface NodeOptions {
  /**
   * Codecs whose translations this node advertises in the directory (`<protocol>>canonical` and back).
   * A node without a SOCKS front usually has none. Default: none.
   */
  codecs?: readonly Codec[];
  /** The shared directory substrate. Default: a new `MemoryDht` (one node, one process). */
  dht?: Dht;
  /**
   * How events travel between nodes: one canonical form, or several (the first preferred; a node
   * speaking two converts between them for chains that need it). Default: JSON; the CLI passes
   * codec-xmpp's stanza form.
   */
  canonical?: CanonicalForm | readonly CanonicalForm[];
  /** Capability routing: advertised cost, hop limit, how often the capability graph is read again. */
  routing?: RoutingOptions;
  /**
   * Lifetime of capability records, ms (refreshed at a third). Default 10 minutes, or the soft TTL
   * if longer.
   */
  capabilityTtl?: number;
  /**
   * G2G listen address of the default (embedded) transport, and the address other nodes are told
   * to dial. Default 127.0.0.1, any port.
   */
  g2g?: {
    /** Address to listen on (default 127.0.0.1). */
    host?: string;
    /** Port to listen on (default 0: any free one). */
    port?: number;
  };
  /**
   * How this node reaches other nodes and is reached (a `G2gTransport` whose `localId` is this
   * node's id), or a function making one from the node's identity (the identity may come from the
   * state file). Default: TCP with Noise (`TcpG2gTransport`) on `g2g`, with `timeouts.g2gHandshake`
   * and the `limits.g2g*` limits. The node closes it on `close()`.
   */
  transport?: G2gTransport | ((identity: GatewayIdentity) => G2gTransport);
  /** File for hard state (key pair, foreign buddies, pending requests). Default: memory only. */
  stateFile?: string;
  /** Key pair to use when the state file has none; default a fresh one. */
  identity?: GatewayIdentity;
  /** When set, only directory records from these node ids are believed. */
  trustedGateways?: readonly string[];
  /** A pino logger; `false` for none. Default: a pino logger named `crosstalk-gateway` (pino writes to stdout). */
  logger?: Logger | false;
  /** ms: `g2gHandshake` a peer's G2G handshake (10 s), `g2gAck` a sent event's acknowledgement (10 s). */
  timeouts?: {
    /** ms a peer has to complete its G2G handshake (10 s). */
    g2gHandshake?: number;
    /**
     * ms a sent G2G event waits for the peer's ACK while the link is silent, before the link is
     * given up and the event sent again on a new one (`G2G_ACK_TIMEOUT`, 10 s; the peer shows a
     * resent IM once). A peer answering other events meanwhile is given up to
     * `G2G_SLOW_ACK_ROUNDS` (3) of these, then only that event fails.
     */
    g2gAck?: number;
  };
  /** G2G connection limits of the default transport (see `DEFAULT_LIMITS`). */
  limits?: NodeLimits;
  /**
   * The G2G version this node speaks and announces in its location records (default
   * `G2G_VERSION`, 2: its events carry their sender's location record to nodes that announce 2, so
   * the receiver need not look the sender up). 1 behaves as a node from before that: it announces
   * nothing, attaches nothing, and closes a link on a LOCATED frame. For interoperability tests, or
   * to hold a node to the old wire while older nodes are upgraded (newer ones need no setting:
   * they send plain events to nodes that announce nothing).
   */
  g2gVersion?: 1 | 2;
  /** Lifetime of location and presence records, ms (refreshed at a third of it). */
  softTtl?: number;
  /**
   * Command plugins (`/location`, `/music`, your own from `definePlugin`): they answer IMs sent to
   * this node's users who have them on (docs/writing-a-plugin.md).
   */
  plugins?: readonly Plugin[];
  /** Who has which plugin on by default, and the host's limits (timeout, rate, reply length). */
  pluginSettings?: PluginSettings;
  /**
   * Waits, ms, before each new try to deliver a buddy request or answer that was held because its
   * recipient was not found or not reachable when sent (a directory or capability graph that lags
   * a login): delivered on a later try, it is no longer held. Default 2, 5, 10, 20 and 40 s;
   * `[]` holds it for the recipient's next login only.
   */
  heldRetry?: readonly number[];
  /**
   * How often, ms, the node reads the directory for requests and answers held for each user online
   * here (rounded to whole refreshes of the user's records, a third of `softTtl`): another gateway
   * that could not reach this one past its `heldRetry` tries holds them there, and its user would
   * otherwise see them only at their next login. Default 5 minutes; 0 reads them at login only.
   */
  heldPoll?: number;
  /** Clock, ms since the epoch (tests inject one). Default `Date.now`. */
  now?: () => number;
}

/** How many unauthenticated G2G connections a node holds at once (see `DEFAULT_LIMITS`). */
export interface NodeLimits {
  /** G2G connections not yet authenticated, at once. */
  g2gPending?: number;
  /** G2G connections not yet authenticated, at once, from one source address. */
  g2gPendingPerSource?: number;
}

/**
 * What a node (or a gateway) reports to `on` listeners: logins and logouts, events translated and
 * delivered, events that could not be, requests held, refusals, and every session event of the
 * SOCKS front.
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
  | {
      /** A file pushed into a client stream (`GatewayOptions.files`) ended. */
      type: 'file-pushed';
      /** The offer. */
      offerId: string;
      connection: string;
      /** Bytes the client acknowledged. */
      bytes: number;
      /** `done`, or the code of the typed error that ended that one transfer. */
      outcome: string;
    }
  | ({ type: 'plugin' } & PluginReport);

/** An embedding program's view of capability routing (`gateway.routing`, `node.routing`). */
export interface GatewayRouting {
  /** What this node translates, as it advertises it (`from>to`). */
  capabilities(): string[];
  /** Reads the capability graph from the directory now (it is read on start and then periodically). */
  refresh(): Promise<void>;
  /** Networks some node delivers to, as last read. */
  networks(): string[];
  /**
   * The route an event from a user of `from` (a protocol here) to a user on `network` would take
   * (at `gateway` when given), keeping `require`; undefined when there is none.
   */
  route(
    from: string,
    network: string,
    options?: {
      /** The node serving the recipient. */
      gateway?: string;
      /** Features every step must keep. */
      require?: readonly Feature[];
    },
  ): Route | undefined;
}

/** An embedding program's view of the plugin host (`gateway.plugins`, `node.plugins`). */
export interface GatewayPlugins {
  /** Registered plugin names. */
  list(): string[];
  /** Whether buddies who send `user` a command of plugin `name` get an answer. */
  isEnabled(user: Address, name: string): boolean;
  /** Turns plugin `name` on or off for `user`, as their `/plugins on|off` would (kept in the state file). */
  setEnabled(user: Address, name: string, on: boolean): Promise<void>;
}

/**
 * What a way in gives the engine for one attached user: somewhere to show the events addressed to
 * them. The SOCKS front's endpoint is a proxied connection (the codec session encodes the event as
 * the user's server would); a client-API endpoint hands the event to the application.
 */
export interface UserEndpoint {
  /**
   * Shows `event` to the user. Returns false (or throws) when it cannot: the engine then treats the
   * user as unable to take it (a buddy request or answer stays held in the directory for their next
   * login; a sender elsewhere is told `ERR_USER_OFFLINE`), as it does for a closed connection.
   */
  deliver(event: CanonicalEvent): boolean;
  /**
   * How well this endpoint can show `event`, when the user has several (a login of several
   * connections): 0 it cannot (that kind means nothing to it), 1 it can, 2 it is the conversation
   * the event belongs to. The engine delivers to the highest. Default: 1 for every event.
   */
  affinity?(event: CanonicalEvent): number;
  /**
   * Told once when the engine ends the session itself (the node is closing), with why; not called
   * for the way in's own `UserSession.detach()`.
   */
  detached?(reason: string): void;
}

/** What a way in says about an attachment, for events, logs, metrics and plugins. */
export interface AttachInfo {
  /**
   * The protocol the user speaks, in `translated`/`delivered` events and metrics (the SOCKS front
   * passes its codec's). Default `api`.
   */
  protocol?: string;
  /** Where the user's client connects from (an IP), for plugins such as `/location`. */
  clientAddress?: string;
  /** A name for this attachment in events and logs (the SOCKS front passes `conn-N`). Default `session-N`. */
  id?: string;
  /**
   * This endpoint is one of several of one login (a SOCKS client's connections: an MSNP notification
   * connection and its switchboards, two clients of one user): it joins the user's other shared
   * endpoints, and the user stays online until the last one detaches. Without it (the default) the
   * address must not be attached already: `attach` fails with `AlreadyAttachedError`.
   */
  shared?: boolean;
}

/** One event kind with `from` optional (distributes over a union). */
type SenderOptional<E> = E extends { from: Address } ? Omit<E, 'from'> & { from?: Address } : never;

/**
 * What `UserSession.send` takes: a canonical event whose `from` may be left out (the engine stamps
 * the attached user).
 */
export type OutgoingEvent = CanonicalEvent | SenderOptional<Exclude<CanonicalEvent, RosterEvent>>;

/** A presence change of the attached user, for `UserSession.setPresence` (`from` is stamped). */
export type PresenceUpdate = Omit<PresenceEvent, 'kind' | 'from' | 'to'> & {
  /** Always `presence` when given. */
  kind?: 'presence';
  /** Stamped with the attached user; another address is refused (`SpoofedSenderError`). */
  from?: Address;
};

/** What became of an event `UserSession.send` took. */
export type SendOutcome =
  /** Shown to the recipient on this node, or acknowledged by the recipient's node. */
  | 'delivered'
  /** The recipient is offline: the buddy request or answer is held in the directory for their next login. */
  | 'held'
  /** Nothing to route: addressed to the node itself (plugins answer it), or a roster edit. */
  | 'local';

/**
 * One attached user, as the way in sees it: what it sends on the user's behalf goes through here,
 * stamped with `address` (docs/ARCHITECTURE.md "Who may say what"); events for the user arrive at the
 * `UserEndpoint` given to `attach`.
 */
export interface UserSession {
  /** The attached (verified) user. */
  readonly address: Address;
  /** The attachment's name in events and logs (`AttachInfo.id`). */
  readonly id: string;
  /** True once detached (by `detach()` or because the node closed). */
  readonly closed: boolean;
  /**
   * Sends an event as the attached user: routed to a user on this node, over G2G to the recipient's
   * node, or, for a buddy request or answer to an offline user, held in the directory. A presence
   * without `to` is the user's own presence (as `setPresence`). Rejects with `SpoofedSenderError`
   * when `from` names anyone else (refused and counted), `InvalidEventError` when the event breaks
   * the canonical model's limits (core `LIMITS`: text, names, ids), `NotLoggedInError` after
   * `detach()`, `UserOfflineError` when the recipient is online nowhere and the event is not one
   * that is held, or the G2G error when their node could not be reached.
   */
  send(event: OutgoingEvent): Promise<SendOutcome>;
  /**
   * Sets the user's own presence: published in the directory and told to the foreign buddies who may
   * see it. Same refusals as `send`.
   */
  setPresence(presence: PresenceUpdate): Promise<void>;
  /** The user's foreign buddies as stored in hard state (they survive restarts). */
  foreignBuddies(): RosterItem[];
  /**
   * Logs out: when it was the user's last endpoint, buddies are told "offline" and the user's records
   * are withdrawn from the directory (as when a SOCKS client's last connection closes). Idempotent.
   */
  detach(): Promise<void>;
}

/** A running node of the CrossTalk network, as `createNode` returns it. */
export interface CrossTalkNode {
  /** This node's id: its ed25519 public key, hex. */
  readonly id: string;
  /** What other nodes dial: the G2G transport's contact, published in location records. */
  readonly contact: G2gContact;
  /** The G2G listener's TCP address, when the transport has one (the default transport does). */
  readonly g2g:
    | {
        /** The address it is bound to. */
        host: string;
        /** Its port. */
        port: number;
      }
    | undefined;
  /** The node's Prometheus metrics (its own registry). */
  readonly metrics: GatewayMetrics;
  /** The node's view of the directory (signed records in the DHT). */
  readonly directory: Directory;
  /** The plugin host, for embedding programs. */
  readonly plugins: GatewayPlugins;
  /** Capability routing: the chains this node would use, and reading the capability graph again. */
  readonly routing: GatewayRouting;
  /**
   * Attaches a user the way in has verified (its own login, or a server that vouches for the user)
   * to the engine: from now on the user is online at this node, their location and presence are
   * published, events for them go to `endpoint`, and held requests are delivered to it. Resolves once
   * the login is recorded in hard state. Fails with `AlreadyAttachedError` when the address is
   * attached already and either side is not `shared`, `NotLoggedInError` when the node is closing.
   */
  attach(user: Address, endpoint: UserEndpoint, info?: AttachInfo): Promise<UserSession>;
  /**
   * Adds an exit (`exit:<name>`, docs/ARCHITECTURE.md "Capability routing"): the node advertises
   * `canonical:<form>>exit:<name>` for the exit's networks (at once, then with its other
   * capabilities), so that a chain for an address no user location answers for can end here; the
   * exit takes the events whose chain ends in it (every hop check passed, its recipient on one of its
   * networks, its origin the sender's node), and sends from addresses on its networks through the
   * handle. Throws `ExitRefusedError` for a malformed exit or one added already.
   */
  addExit(exit: NodeExit): Promise<ExitHandle>;
  /** Verified users with at least one live endpoint. */
  users(): Address[];
  /** A user's foreign buddies as stored (they survive restarts). */
  foreignBuddies(user: Address): RosterItem[];
  /** Observes what the node does (tests, the demo, operators). Returns an unsubscribe function. */
  on(listener: (event: GatewayEvent) => void): () => void;
  /** Graceful shutdown: detach every user, withdraw records, flush state, close G2G. */
  close(): Promise<void>;
}
