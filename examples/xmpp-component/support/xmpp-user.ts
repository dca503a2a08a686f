import tls from 'node:tls';
import { client, xml } from '@xmpp/client';
import type { Element } from '@xmpp/component';

export { xml };

/**
 * Trusts `certificate` (PEM) for TLS connections to `hosts` only, until the returned function is
 * called. @xmpp/client 0.14 upgrades with `tls.connect({ socket, host: domain })` (@xmpp/starttls)
 * and takes no TLS options, so a test server's self-signed certificate cannot be handed to it; this
 * adds it as the only `ca` of those connections, which are still fully verified (name and chain).
 */
export function trustCertificate(hosts: readonly string[], certificate: string): () => void {
  const target = tls as { connect: typeof tls.connect };
  const original = target.connect;
  target.connect = ((...args: Parameters<typeof tls.connect>) => {
    const options = args[0] as tls.ConnectionOptions | undefined;
    if (options && typeof options === 'object' && !options.ca) {
      const name = options.servername ?? options.host;
      if (name && hosts.includes(name)) args[0] = { ...options, ca: [certificate] } as never;
    }
    return original.apply(tls, args as never);
  }) as typeof tls.connect;
  return () => {
    target.connect = original;
  };
}

/** Options of `xmppUser`. */
export interface XmppUserOptions {
  port: number;
  domain: string;
  user: string;
  password: string;
  resource?: string;
}

/** A real @xmpp/client user (STARTTLS, then SASL PLAIN inside TLS), with what it received. */
export interface XmppUser {
  /** `user@domain`. */
  readonly bare: string;
  // biome-ignore lint/suspicious/noExplicitAny: @xmpp/client 0.14 ships no types
  readonly entity: any;
  /** Every stanza received so far. */
  readonly received: Element[];
  /**
   * Connects, negotiates TLS, authenticates, binds, and fetches the roster as an IM client does at
   * login: only then is it an "interested resource" (RFC 6121 §2.2) that the server tells about
   * subscription answers and roster changes.
   */
  start(): Promise<void>;
  send(el: Element): Promise<void>;
  /** The first stanza received (earlier ones count) that matches and was not taken yet; taken. */
  receive(match: (el: Element) => boolean, what: string, timeoutMs?: number): Promise<Element>;
  /** The roster (RFC 6121 §2.1.3): jid -> subscription. */
  roster(): Promise<Map<string, string>>;
  /** Whether the stream runs over TLS (a `TLSSocket` under @xmpp/client's socket). */
  encrypted(): boolean;
  stop(): Promise<void>;
}

/** A real @xmpp/client for `user@domain` on 127.0.0.1:`port`. */
export function xmppUser(options: XmppUserOptions): XmppUser {
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
  entity.on('error', () => {});
  const received: Element[] = [];
  const taken = new Set<Element>();
  const waiters = new Set<() => void>();
  entity.on('stanza', (el: Element) => {
    received.push(el);
    for (const wake of [...waiters]) wake();
  });
  const receive = async (match: (el: Element) => boolean, what: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = received.find((el) => !taken.has(el) && match(el));
      if (found) {
        taken.add(found);
        return found;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${user}@${domain} (@xmpp/client): no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        waiters.add(wake);
      });
    }
  };
  const roster = async () => {
    const result: Element = await entity.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })),
    );
    const items = result.getChild('query')?.getChildren('item') ?? [];
    return new Map(items.map((i) => [i.attrs.jid!, i.attrs.subscription ?? 'none']));
  };
  return {
    bare: `${user}@${domain}`,
    entity,
    received,
    async start() {
      await entity.start();
      await roster();
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
