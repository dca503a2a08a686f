import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type Codec,
  type CodecRegistry,
  type CookieTable,
  isCrossTalkError,
  isDomainNetwork,
  isSystemAddress,
  MemoryCookieTable,
  type SessionContext,
  type SessionEvent,
} from '@crosstalk/core';
import { workerOf } from '../cluster/steering.js';
import { describeRefusal } from '../errors/describe.js';
import type { UserEndpoint } from '../node/api.js';
import type { NodeEngine } from '../node/create-node.js';
import type { AttachedSession } from '../node/session/attached-session.js';
import { wasReported } from '../node/session/outbound.js';
import type { ConnectionHooks, HandOffState, ProxiedConnection } from './connection.js';
import { FilePushes, type FilePushOptions } from './file-push.js';
import type { VirtualEndpointTable } from './virtual-endpoints.js';

/**
 * A host of several workers: each user is served by one worker (`workerOf`), and a connection
 * that names a user another worker serves is handed there before it is attached.
 */
export interface WorkerSteering {
  /** This worker's index. */
  index: number;
  /** The host's worker count. */
  count: number;
  /** Cookies every worker sees (a login's next connection may reach any worker). */
  cookies: CookieTable;
  /** Sends the connection's sockets and state to worker `to` (`SocksFront.resumeSession` there). */
  handOff(to: number, connection: ProxiedConnection, state: HandOffState): void;
}

/**
 * What a proxied connection gives the node to show events on: an object with prototype methods,
 * not two closures and their context per connection (issue 20: memory per connection).
 */
class ConnectionEndpoint implements UserEndpoint {
  constructor(
    readonly connection: ProxiedConnection,
    readonly files: FilePushes | undefined,
  ) {}

  // The codec session encodes the event as the user's server would; a connection that stopped
  // reading is closed there (`SlowConsumerError`), the event counted as shown.
  deliver(event: CanonicalEvent): boolean {
    this.connection.deliver(event);
    if (event.kind === 'file-offer') this.files?.offered(this.connection, event);
    return true;
  }

  affinity(event: CanonicalEvent): number {
    return this.connection.closed ? 0 : this.connection.session.affinity(event);
  }
}

/**
 * The SOCKS front as a way in to the node: a proxied connection whose codec session verified its
 * user is attached (`shared`: a login may span several connections), the connection itself being
 * the endpoint the node delivers to; what the session reports the user sent goes through the
 * attachment's `send` (stamped with the verified user there), and the connection's close detaches it.
 */
export class SocksWayIn {
  readonly #node: NodeEngine;
  readonly #registry: CodecRegistry;
  readonly #virtual: VirtualEndpointTable;
  readonly #cookies: CookieTable;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #sessions = new Map<ProxiedConnection, AttachedSession>();
  readonly #steering: WorkerSteering | undefined;
  /** Whether a codec of this gateway serves XMPP (the registry does not change once the gateway runs). */
  #bridgesXmpp: boolean | undefined;

  readonly #foreignDomains: ReadonlySet<string>;
  readonly #files: FilePushes | undefined;

  constructor(
    node: NodeEngine,
    registry: CodecRegistry,
    virtual: VirtualEndpointTable,
    steering?: WorkerSteering,
    /** XMPP domains reached through CrossTalk, not s2s (`GatewayOptions.foreignDomains`). */
    foreignDomains: readonly string[] = [],
    /** Files offered to users here, pushed into their client streams (`GatewayOptions.files`). */
    files?: FilePushOptions,
  ) {
    this.#files = files ? new FilePushes(node, files) : undefined;
    this.#node = node;
    this.#registry = registry;
    this.#virtual = virtual;
    this.#foreignDomains = new Set(foreignDomains.map((d) => d.toLowerCase()));
    this.#steering = steering;
    this.#cookies = steering?.cookies ?? new MemoryCookieTable();
  }

  /** Open connections with a codec session. */
  get connections(): ReadonlySet<ProxiedConnection> {
    return this.#connections;
  }

  /**
   * One idle sweep over the open connections (`ProxiedConnection.quietPeriod`): a connection quiet
   * for more than `periods` sweeps in a row may be ended by its session.
   */
  sweepIdle(periods: number): void {
    for (const c of [...this.#connections]) c.quietPeriod(periods);
  }

  /** The hooks a `SocksFront` calls for each connection. */
  readonly hooks: ConnectionHooks = {
    onOpen: (c) => {
      this.#connections.add(c);
      this.#node.metrics.sessions.inc({ protocol: c.codec.protocol });
    },
    onEvent: (c, e) => this.#onSessionEvent(c, e),
    onClose: (c, reason) => this.#onClose(c, reason),
    onError: (c, error) => {
      this.#node.metrics.refused.inc({ reason: isCrossTalkError(error) ? error.code : 'error' });
      this.#node.log.info(
        { connection: c.id, protocol: c.codec.protocol, error: describeRefusal(error) },
        'closing a connection on bad input',
      );
      this.#node.emit({ type: 'refused', reason: describeRefusal(error), connection: c.id });
    },
  };

  /** What the engine gives each codec session. */
  context(
    id: string,
    codec: Codec,
    target: { host: string; port: number },
    virtual?: { data: unknown },
  ): SessionContext {
    let isForeign = this.#isForeignOf.get(codec);
    if (!isForeign) {
      isForeign = (a: Address) => this.#isForeign(codec, a);
      this.#isForeignOf.set(codec, isForeign);
    }
    return {
      connectionId: id,
      target,
      isForeign,
      foreignRoster: this.#foreignRoster,
      cookies: this.#cookies,
      endpoints: this.#virtual,
      ...(virtual ? { virtual } : {}),
      now: this.#node.now,
      newId: this.#newId,
    };
  }

  // The context's functions, shared by every connection (per codec where it matters), not made
  // per connection: issue 20, memory per connection.
  readonly #isForeignOf = new Map<Codec, (a: Address) => boolean>();
  readonly #foreignRoster = (owner: Address) => this.#node.foreignBuddies(owner);
  readonly #newId = () => this.#node.newId();

  /** Foreign = on a network this gateway bridges and not the connection's own network. */
  #isForeign(codec: Codec, a: Address): boolean {
    if (codec.networks.includes(a.network)) return false;
    // The system address is answered here, whatever the protocol (plugins: /plugins, /help).
    if (isSystemAddress(a)) return true;
    if (isDomainNetwork(a.network)) {
      // A domain the operator named is reached through CrossTalk, whatever the protocol.
      if (this.#foreignDomains.has(a.network)) return true;
      // Another XMPP domain is the XMPP server's business (s2s), not ours; for other protocols an
      // XMPP domain is foreign when this gateway bridges XMPP.
      this.#bridgesXmpp ??= this.#registry.list().some((c) => c.networks.includes('xmpp'));
      return this.#bridgesXmpp && !codec.networks.includes('xmpp');
    }
    // A network only other gateways deliver to is reached through capability routing.
    return this.#registry.forNetwork(a.network) !== undefined || this.#node.reaches(a.network);
  }

  /**
   * True when `user` is served by another worker of this host: the connection is on its way there
   * (its session is fed again there and goes on; nothing of it is attached here).
   */
  #steer(c: ProxiedConnection, user: Address): boolean {
    const steering = this.#steering;
    if (!steering || !c.recording) return false;
    const owner = workerOf(user, steering.count);
    if (owner === steering.index) {
      c.stopRecording();
      return false;
    }
    void c.detachForHandOff().then((state) => {
      if (!state) return; // closed meanwhile, as any connection closes
      if (this.#connections.delete(c)) this.#node.metrics.sessions.dec({ protocol: c.codec.protocol });
      this.#node.metrics.handOffs.inc({ stage: 'session' });
      steering.handOff(owner, c, state);
    });
    return true;
  }

  #onSessionEvent(c: ProxiedConnection, event: SessionEvent): void {
    const node = this.#node;
    if ((event.type === 'identified' || event.type === 'verified') && this.#steer(c, event.address)) return;
    node.emit({ type: 'session', connection: c.id, protocol: c.codec.protocol, event });
    switch (event.type) {
      case 'file-ready':
      case 'file-closed':
        this.#files?.onEvent(c, event);
        return;
      case 'verified':
        this.#attach(c, event.address);
        return;
      case 'outbound':
      case 'self': {
        const session = this.#sessionOf(c);
        if (!session) {
          // Identity gate: a connection that has not finished logging in reaches nobody.
          node.log.warn(
            { connection: c.id, kind: event.event.kind },
            'dropped an event from an unverified connection',
          );
          return;
        }
        const work: Promise<unknown> =
          event.type === 'self' ? session.mirror(event.event) : session.send(event.event);
        node.track(
          work.catch((error) => {
            // Refusals and undeliverable events were counted and reported where they happened.
            if (!wasReported(error)) node.log.error({ err: error }, 'handling an outbound event failed');
          }),
        );
        return;
      }
      case 'login-failed':
        node.log.info(
          { connection: c.id, code: event.code, message: event.message },
          'login refused by the server',
        );
        return;
      case 'untranslated':
        // A frame the session could not read went on untouched; the connection stays up.
        node.metrics.untranslated.inc({ protocol: c.codec.protocol, direction: event.direction });
        node.log.warn(
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
        node.log.debug(
          { connection: c.id, host: event.host, port: event.port, purpose: event.purpose },
          'server redirect',
        );
        return;
      default:
        return;
    }
  }

  /** The connection's attachment, while it belongs to the user its session now names. */
  #sessionOf(c: ProxiedConnection): AttachedSession | undefined {
    const session = this.#sessions.get(c);
    const user = c.user;
    if (!session || session.closed || !user || addressKey(user) !== addressKey(session.address))
      return undefined;
    return session;
  }

  #attach(c: ProxiedConnection, address: Address): void {
    const previous = this.#sessions.get(c);
    if (previous && !previous.closed && addressKey(previous.address) === addressKey(address)) return;
    // A connection that logs in again as someone else leaves its first user.
    if (previous) void previous.detach();
    let session: AttachedSession;
    try {
      session = this.#node.attachNow(
        address,
        new ConnectionEndpoint(c, this.#files),
        {
          protocol: c.codec.protocol,
          id: c.id,
          shared: true,
          ...(c.clientAddress ? { clientAddress: c.clientAddress } : {}),
        },
        false,
      );
    } catch (error) {
      // The user is attached through another way in (the client API): this connection may not join.
      c.fail(error);
      return;
    }
    this.#sessions.set(c, session);
  }

  #onClose(c: ProxiedConnection, reason: string): void {
    if (this.#connections.delete(c)) this.#node.metrics.sessions.dec({ protocol: c.codec.protocol });
    this.#files?.onClose(c);
    const session = this.#sessions.get(c);
    if (!session) return;
    this.#sessions.delete(c);
    void session.close(reason);
  }
}
