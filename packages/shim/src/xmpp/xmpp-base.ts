import type { TLSSocket } from 'node:tls';
import {
  type Address,
  addressKey,
  isCrossTalkError,
  isDomainNetwork,
  LIMITS,
  type PresenceStatus,
  type RosterItem,
} from '@crosstalk/core';
import type { BaseClient, BaseClientEvents, BaseOutgoingEvent } from '../base/base-client.js';
import {
  BaseConnectionLostError,
  BaseLoginFailedError,
  BaseUnsupportedError,
} from '../errors/base-errors.js';
import { InvalidClientOptionsError } from '../errors/errors.js';
import {
  addressOf,
  type BuildElement,
  type LtxElement,
  NS,
  readRosterItem,
  readStanza,
  writePresence,
  writeStanzas,
} from './stanzas.js';
import { tlsSocketClass, type XmppTlsOptions } from './tls-socket.js';

/** Options of `xmppBase`: the user's XMPP account and how to reach its server. */
export interface XmppBaseOptions {
  /** The user's bare JID, `alice@jabber.example`: the account, and the user's CrossTalk address. */
  jid: string;
  /** The account's password (sent only inside TLS). */
  password: string;
  /**
   * Where the server listens: `xmpp://host:port` (STARTTLS) or `xmpps://host:port` (direct TLS,
   * `tls.mode` `direct`). Default `xmpp://<domain>:5222` (no DNS SRV lookup).
   */
  service?: string;
  /** The resource to bind (RFC 6120 §7). Default `crosstalk`. */
  resource?: string;
  /** TLS settings; TLS is always required. */
  tls?: XmppTlsOptions;
  /** The SASL mechanism to use (`PLAIN`, `SCRAM-SHA-1`). Default the server's first choice. */
  mechanism?: string;
  /** Largest stanza read from the server, bytes; a larger one ends the connection. Default 1 MiB. */
  maxStanzaSize?: number;
  /**
   * Which users the XMPP network reaches (their events go through this client). Default: every
   * XMPP domain (the server federates with the others); a user of any other network goes over G2G.
   */
  reaches?(to: Address): boolean;
  /** ms to connect, negotiate TLS and log in. Default 30 s. */
  timeout?: number;
  /** ms an IQ (the roster) may take. Default 30 s. */
  iqTimeout?: number;
}

/** What TLS the connection ended up with (`XmppBase.tls`). */
export interface XmppTlsState {
  /** `TLSv1.3`, `TLSv1.2`. */
  protocol: string;
  /** The cipher suite's name. */
  cipher: string;
  /** The server certificate's subject common name. */
  peer: string | undefined;
}

/** The part of @xmpp/client 0.14 (which ships no types) the adapter uses. */
interface XmppEntity {
  status: string;
  transports: XmppTransportClass[];
  socket: unknown;
  reconnect: { stop(): void };
  iqCaller: { request(el: LtxElement, timeout?: number): Promise<LtxElement> };
  iqCallee: {
    set(
      ns: string,
      name: string,
      handler: (ctx: { stanza: LtxElement; from?: { bare(): { toString(): string } } }) => unknown,
    ): void;
  };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: LtxElement): Promise<void>;
  on(event: string, listener: (...args: never[]) => void): void;
}
type XmppTransportClass = (new (
  ...args: never[]
) => object) & {
  prototype: { socketParameters(service: string): unknown; Socket: unknown };
};
interface XmppClientModule {
  client(options: Record<string, unknown>): XmppEntity;
  xml: BuildElement;
}

const DEFAULT_MAX_STANZA = 1024 * 1024;

/**
 * The XMPP base client for `createShim`: the user's own XMPP account over TLS, with @xmpp/client
 * (an optional peer dependency: install it with the shim to use this). TLS is negotiated before
 * anything else and is never optional (see `XmppTlsOptions`); a server without it is
 * `BaseTlsUnavailableError`.
 */
export function xmppBase(options: XmppBaseOptions): XmppBase {
  return new XmppBase(options);
}

/** An XMPP account as a `BaseClient` (made by `xmppBase`). */
export class XmppBase implements BaseClient {
  readonly address: Address;
  readonly protocol = 'xmpp';
  readonly #options: XmppBaseOptions;
  readonly #domain: string;
  readonly #roster = new Map<string, RosterItem>();
  #entity: XmppEntity | undefined;
  #xml: BuildElement | undefined;
  #events: BaseClientEvents | undefined;
  #tls: XmppTlsState | undefined;
  #socket: { destroy(): void } | undefined;
  #online = false;
  #closing = false;
  #lost: Error | undefined;

  constructor(options: XmppBaseOptions) {
    if (!options || typeof options !== 'object')
      throw new InvalidClientOptionsError('xmppBase needs options');
    if (typeof options.jid !== 'string' || options.jid.includes('/'))
      throw new InvalidClientOptionsError('jid must be a bare JID (alice@jabber.example)');
    const user = addressOf(options.jid);
    if (!user || !isDomainNetwork(user.network))
      throw new InvalidClientOptionsError(
        `${JSON.stringify(options.jid)} is not the JID of a user on an XMPP server`,
      );
    if (typeof options.password !== 'string' || options.password.length === 0)
      throw new InvalidClientOptionsError('password is required');
    if (options.service !== undefined && !serviceParameters(options.service))
      throw new InvalidClientOptionsError(
        `service must be xmpp://host:port or xmpps://host:port, not ${options.service}`,
      );
    this.address = user;
    this.#domain = user.network;
    this.#options = options;
  }

  /** The TLS the connection negotiated (protocol, cipher, the server's certificate name), once connected. */
  get tls(): XmppTlsState | undefined {
    return this.#tls;
  }

  reaches(to: Address): boolean {
    return this.#options.reaches ? this.#options.reaches(to) : isDomainNetwork(to.network);
  }

  async connect(events: BaseClientEvents): Promise<void> {
    if (this.#entity) throw new InvalidClientOptionsError('an XMPP base client connects once');
    const { client, xml } = await loadXmppClient();
    const options = this.#options;
    const direct = options.tls?.mode === 'direct';
    const service =
      options.service ?? `${direct ? 'xmpps' : 'xmpp'}://${this.#domain}:${direct ? 5223 : 5222}`;
    const entity = client({
      service,
      domain: this.#domain,
      resource: options.resource ?? 'crosstalk',
      username: this.address.user,
      password: options.password,
      credentials: (authenticate: (c: object, m: string) => Promise<void>, mechanisms: string[]) =>
        authenticate(
          { username: this.address.user, password: options.password },
          options.mechanism ?? mechanisms[0]!,
        ),
    });
    this.#entity = entity;
    this.#xml = xml;
    this.#events = events;
    // The shim decides what a lost connection means (the user leaves CrossTalk too): no retries here.
    entity.reconnect.stop();
    this.#useTlsFirstTransport(entity);
    let failure: Error | undefined;
    entity.on('error', (error: Error) => {
      failure ??= error;
      if (this.#online) this.#connectionLost(error);
    });
    entity.on('status', (status: string) => {
      if (status === 'disconnect' && this.#online) this.#connectionLost(failure);
    });
    entity.on('stanza', (el: LtxElement) => this.#onStanza(el));
    // RFC 6121 §2.1.6: roster pushes come from the user's own account (or the server, without from).
    entity.iqCallee.set(NS.roster, 'query', (ctx) => {
      const from = ctx.stanza.attrs.from;
      if (
        from !== undefined &&
        addressKey(addressOf(from) ?? { user: '', network: '' }) !== addressKey(this.address)
      )
        return undefined; // not ours to believe: service-unavailable
      this.#applyRoster(ctx.stanza.getChild('query', NS.roster)?.getChildren('item') ?? []);
      return true;
    });
    try {
      await withTimeout(entity.start(), options.timeout ?? 30_000, 'log in to the XMPP server');
      this.#online = true;
      const result = await entity.iqCaller.request(
        xml('iq', { type: 'get' }, xml('query', { xmlns: NS.roster })),
        options.iqTimeout ?? 30_000,
      );
      this.#applyRoster(result.getChild('query', NS.roster)?.getChildren('item') ?? []);
      // RFC 6121 §4.2: initial presence, after the roster: the server then sends the contacts'
      // presence and what it held for the user (subscription requests, offline messages).
      await entity.send(xml('presence', {}));
    } catch (error) {
      this.#online = false;
      this.#closing = true;
      await entity.stop().catch(() => {});
      this.#socket?.destroy();
      throw loginError(error, failure);
    }
  }

  async send(event: BaseOutgoingEvent): Promise<void> {
    const entity = this.#connected();
    const subscribedTo = (a: Address) => {
      const item = this.#roster.get(addressKey(a));
      return (
        item !== undefined && (item.subscription === 'to' || item.subscription === 'both' || item.pending)
      );
    };
    for (const stanza of writeStanzas(event, this.#xml!, subscribedTo)) await entity.send(stanza);
  }

  async presence(status: PresenceStatus, text?: string): Promise<void> {
    await this.#connected().send(writePresence(status, text, this.#xml!));
  }

  roster(): RosterItem[] {
    return [...this.#roster.values()];
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#online = false;
    // RFC 6120 §4.4: close the stream; the server tells the contacts the user is unavailable.
    await withTimeout(this.#entity?.stop() ?? Promise.resolve(), 5000, 'close the XMPP stream').catch(
      () => {},
    );
    this.#socket?.destroy();
  }

  // ------------------------------------------------------------------ internals

  /** Only our transport: TLS first (STARTTLS or direct), options of our own, frames bounded. */
  #useTlsFirstTransport(entity: XmppEntity): void {
    const tcp = entity.transports.find((T) => {
      try {
        return T.prototype.socketParameters('xmpp://localhost:5222') !== undefined;
      } catch {
        return false;
      }
    });
    if (!tcp) throw new BaseUnsupportedError('@xmpp/client has no TCP transport here');
    const Socket = tlsSocketClass({
      domain: this.#domain,
      tls: this.#options.tls ?? {},
      maxStanzaSize: this.#options.maxStanzaSize ?? DEFAULT_MAX_STANZA,
      onSecured: (socket: TLSSocket) => {
        const cert = socket.getPeerCertificate();
        const cn = cert?.subject?.CN;
        this.#tls = {
          protocol: socket.getProtocol() ?? 'unknown',
          cipher: socket.getCipher().name,
          peer: Array.isArray(cn) ? cn[0] : cn,
        };
      },
    });
    const remember = (socket: { destroy(): void }) => {
      this.#socket = socket;
    };
    const Base = tcp as unknown as new (...args: never[]) => object;
    class TlsFirst extends Base {
      socketParameters(service: string) {
        return serviceParameters(service);
      }
    }
    const TrackedSocket = class extends Socket {
      constructor() {
        super();
        remember(this);
      }
    };
    Object.assign(TlsFirst.prototype, { Socket: TrackedSocket });
    entity.transports.splice(0, entity.transports.length, TlsFirst as unknown as XmppTransportClass);
  }

  #connected(): XmppEntity {
    if (this.#lost) throw this.#lost;
    if (!this.#online || !this.#entity)
      throw new BaseConnectionLostError('the XMPP base client is not connected');
    return this.#entity;
  }

  #onStanza(el: LtxElement): void {
    const event = readStanza(el, this.address, Date.now);
    if (event) this.#events?.receive(event);
  }

  #applyRoster(items: LtxElement[]): void {
    for (const item of items) {
      const read = readRosterItem(item);
      const key = addressOf(item.attrs.jid);
      if (!key) continue;
      if (read === 'remove') this.#roster.delete(addressKey(key));
      else if (read && (this.#roster.has(addressKey(key)) || this.#roster.size < LIMITS.rosterItems))
        this.#roster.set(addressKey(key), read);
    }
  }

  #connectionLost(cause: Error | undefined): void {
    if (this.#closing || this.#lost) return;
    this.#online = false;
    this.#lost = isCrossTalkError(cause, 'ERR_BASE_CONNECTION_LOST')
      ? cause
      : new BaseConnectionLostError(
          `the connection to the XMPP server ended${cause ? `: ${cause.message}` : ''}`,
          cause ? { cause } : {},
        );
    this.#socket?.destroy();
    this.#events?.lost(this.#lost);
  }
}

/** `xmpp://host:port` or `xmpps://host:port` as the socket's parameters, or undefined. */
function serviceParameters(service: string): { host: string; port: number | null } | undefined {
  let url: URL;
  try {
    url = new URL(service);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'xmpp:' && url.protocol !== 'xmpps:') || !url.hostname) return undefined;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port ? Number(url.port) : null };
}

/** What a failed login means, as a typed error: the socket's own, SASL's refusal, or a lost connection. */
function loginError(error: unknown, failure: Error | undefined): Error {
  for (const candidate of [error, failure]) if (isCrossTalkError(candidate)) return candidate;
  const e = error as { name?: string; condition?: string; message?: string } | undefined;
  if (e?.name === 'SASLError') return new BaseLoginFailedError(e.condition, { cause: error });
  return new BaseConnectionLostError(`logging in to the XMPP server failed: ${e?.message ?? String(error)}`, {
    cause: error,
  });
}

async function loadXmppClient(): Promise<XmppClientModule> {
  try {
    return (await import('@xmpp/client')) as XmppClientModule;
  } catch (error) {
    throw new BaseUnsupportedError(
      'the XMPP base client needs @xmpp/client 0.14 (an optional peer dependency): npm install @xmpp/client',
      { cause: error },
    );
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BaseConnectionLostError(`could not ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
