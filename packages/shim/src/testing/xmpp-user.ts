import tls from 'node:tls';
import { WaitingInbox } from '@crosstalk/core';
import { xml as buildElement, client } from '@xmpp/client';
import type { BuildElement, LtxElement } from '../xmpp/stanzas.js';

/** @xmpp/client's `xml()`: builds a stanza to `send`. */
export const xml: BuildElement = buildElement;

/**
 * Trusts `certificate` (PEM) for @xmpp/client's TLS upgrades to `hosts`, until the returned function
 * is called. @xmpp/client 0.14 upgrades with `tls.connect({ socket, host: domain })` (@xmpp/starttls)
 * and takes no TLS options, so a test server's self-signed certificate cannot be handed to it; this
 * adds it as the only `ca` of exactly such calls (a socket, a host, no `ca`, no `servername`), which
 * are still fully verified (name and chain). The shim's own connections name both, so they keep
 * their own trust (and a test of a refused certificate still sees it refused).
 */
export function trustCertificate(hosts: readonly string[], certificate: string): () => void {
  const target = tls as { connect: typeof tls.connect };
  const original = target.connect;
  target.connect = ((...args: Parameters<typeof tls.connect>) => {
    const options = args[0] as tls.ConnectionOptions | undefined;
    if (options && typeof options === 'object' && options.socket && !options.ca && !options.servername) {
      if (options.host && hosts.includes(options.host)) args[0] = { ...options, ca: [certificate] } as never;
    }
    return original.apply(tls, args as never);
  }) as typeof tls.connect;
  return () => {
    target.connect = original;
  };
}

/** Options of `xmppUser`. */
export interface XmppUserOptions {
  /** The server's client port on 127.0.0.1. */
  port: number;
  /** The server's domain (the JID's domain part). */
  domain: string;
  /** The JID's local part. */
  user: string;
  /** The account's password (SASL PLAIN, inside TLS). */
  password: string;
  /** The resource to bind (default `desk`). */
  resource?: string;
  /** Send initial presence after the roster at `start()` (RFC 6121 §4.2), as a client going online does. */
  presence?: boolean;
}

/** A real @xmpp/client user (STARTTLS, then SASL PLAIN inside TLS), with what it received. */
export interface XmppUser<E extends LtxElement = LtxElement> {
  /** `user@domain`. */
  readonly bare: string;
  /** The @xmpp/client entity itself, for what the helper does not wrap. */
  // biome-ignore lint/suspicious/noExplicitAny: @xmpp/client 0.14 ships no types
  readonly entity: any;
  /**
   * The stanzas received so far, oldest first (a copy; the latest 10,000, core's `WaitingInbox`
   * default capacity, the oldest dropped first).
   */
  readonly received: E[];
  /**
   * Connects, negotiates TLS, authenticates, binds, and fetches the roster as an IM client does at
   * login: only then is it an "interested resource" (RFC 6121 §2.2) that the server tells about
   * subscription answers and roster changes.
   */
  start(): Promise<void>;
  /** Sends a stanza. */
  send(el: LtxElement): Promise<void>;
  /**
   * The first stanza received (earlier ones count) that matches and was not taken yet; taken. Rejects
   * with a `WaitTimeoutError` (`@crosstalk/core`) naming the user and `what` after `timeoutMs`
   * (default 15 s).
   */
  receive(match: (el: E) => boolean, what: string, timeoutMs?: number): Promise<E>;
  /** The roster (RFC 6121 §2.1.3): jid -> subscription. */
  roster(): Promise<Map<string, string>>;
  /** Whether the stream runs over TLS (a `TLSSocket` under @xmpp/client's socket). */
  encrypted(): boolean;
  /** Ends the stream and closes the connection. */
  stop(): Promise<void>;
}

/** A real @xmpp/client for `user@domain` on 127.0.0.1:`port`. */
export function xmppUser<E extends LtxElement = LtxElement>(options: XmppUserOptions): XmppUser<E> {
  const { user, password, domain } = options;
  const entity = client({
    service: `xmpp://127.0.0.1:${options.port}`,
    domain,
    resource: options.resource ?? 'desk',
    username: user,
    password,
    // PLAIN, inside TLS: SCRAM would cost a second of CPU per login on a shared test machine.
    credentials: (authenticate: (c: object, m: string) => Promise<void>) =>
      authenticate({ username: user, password }, 'PLAIN'),
  });
  // A test's user does not reconnect behind the test's back.
  entity.reconnect.stop();
  entity.on('error', () => {});
  // Not taken from the inbox (`received` lists them all); `taken` says which `receive` gave out.
  const inbox = new WaitingInbox<E>({ name: `${user}@${domain} (@xmpp/client)`, timeoutMs: 15_000 });
  const taken = new WeakSet<E>();
  entity.on('stanza', (el: E) => inbox.push(el));
  // Marked taken inside the predicate (the inbox tries waits oldest first, one stanza at a time), so
  // of two waits for the same stanza only the older gets it.
  const untaken = (match: (el: E) => boolean) => (el: E) => {
    if (taken.has(el) || !match(el)) return false;
    taken.add(el);
    return true;
  };
  const receive = (match: (el: E) => boolean, what: string, timeoutMs = 15_000) =>
    inbox.waitFor(untaken(match), { what, timeoutMs });
  const roster = async () => {
    const result: E = await entity.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })),
    );
    const items = result.getChild('query')?.getChildren('item') ?? [];
    return new Map(items.map((i) => [i.attrs.jid!, i.attrs.subscription ?? 'none']));
  };
  return {
    bare: `${user}@${domain}`,
    entity,
    get received() {
      return [...inbox.items];
    },
    async start() {
      await entity.start();
      await roster();
      if (options.presence) await entity.send(buildElement('presence', {}));
    },
    send: (el) => entity.send(el),
    receive,
    roster,
    encrypted: () => entity.socket?.socket instanceof tls.TLSSocket,
    async stop() {
      await entity.stop().catch(() => {});
    },
  };
}

/** From the bare JID `bare` (any resource): a `receive` matcher. */
export const fromBare =
  (bare: string) =>
  (el: LtxElement): boolean =>
    (el.attrs.from ?? '').split('/')[0] === bare;
