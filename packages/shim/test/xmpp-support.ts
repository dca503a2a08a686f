import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import tls from 'node:tls';
import { client, xml } from '@xmpp/client';
import type { LtxElement } from '../src/xmpp/stanzas.js';

export { xml };

/**
 * Another user of the same TLS-only prosody, with a plain @xmpp/client (its own STARTTLS): the
 * server-side witness of what the shim's base client sends. @xmpp/client 0.14 upgrades with
 * `tls.connect({ socket, host: domain })` and takes no TLS options, so `trustFor` lets such calls
 * (a socket, a host, no `ca` and no `servername`: never the shim's own, which always names both)
 * trust the test server's certificate, fully verified, until the returned function is called.
 */
export function trustFor(domain: string, certificate: string): () => void {
  const target = tls as { connect: typeof tls.connect };
  const original = target.connect;
  target.connect = ((...args: Parameters<typeof tls.connect>) => {
    const options = args[0] as tls.ConnectionOptions | undefined;
    if (options && typeof options === 'object' && options.socket && !options.ca && !options.servername) {
      if (options.host === domain) args[0] = { ...options, ca: [certificate] } as never;
    }
    return original.apply(tls, args as never);
  }) as typeof tls.connect;
  return () => {
    target.connect = original;
  };
}

/** A real @xmpp/client user (STARTTLS, then SASL PLAIN inside TLS), with what it received. */
export interface XmppUser {
  /** `user@domain`. */
  readonly bare: string;
  /** Every stanza received so far. */
  readonly received: LtxElement[];
  // biome-ignore lint/suspicious/noExplicitAny: @xmpp/client 0.14 ships no types
  readonly entity: any;
  /** Connects, logs in, fetches the roster and sends initial presence (RFC 6121 §2.2, §4.2). */
  start(): Promise<void>;
  send(el: LtxElement): Promise<void>;
  /** The first stanza received (earlier ones count) that matches and was not taken yet; taken. */
  receive(match: (el: LtxElement) => boolean, what: string, timeoutMs?: number): Promise<LtxElement>;
  /** The roster: jid -> subscription. */
  roster(): Promise<Map<string, string>>;
  /** Whether its stream runs over TLS. */
  encrypted(): boolean;
  stop(): Promise<void>;
}

/** A real @xmpp/client for `user@domain` on 127.0.0.1:`port`. */
export function xmppUser(options: {
  port: number;
  domain: string;
  user: string;
  password: string;
}): XmppUser {
  const { user, password, domain } = options;
  const entity = client({
    service: `xmpp://127.0.0.1:${options.port}`,
    domain,
    resource: 'desk',
    username: user,
    password,
    // PLAIN inside TLS: SCRAM would cost a second of CPU per login on a shared test machine.
    credentials: (authenticate: (c: object, m: string) => Promise<void>) =>
      authenticate({ username: user, password }, 'PLAIN'),
  });
  entity.reconnect.stop();
  entity.on('error', () => {});
  const received: LtxElement[] = [];
  const taken = new Set<LtxElement>();
  const waiters = new Set<() => void>();
  entity.on('stanza', (el: LtxElement) => {
    received.push(el);
    for (const wake of [...waiters]) wake();
  });
  const receive = async (match: (el: LtxElement) => boolean, what: string, timeoutMs = 15_000) => {
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
    const result: LtxElement = await entity.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })),
    );
    const items = result.getChild('query')?.getChildren('item') ?? [];
    return new Map(items.map((i) => [i.attrs.jid!, i.attrs.subscription ?? 'none']));
  };
  return {
    bare: `${user}@${domain}`,
    received,
    entity,
    async start() {
      await entity.start();
      await roster();
      await entity.send(xml('presence', {}));
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

/** From the bare JID `bare` (any resource). */
export const fromBare = (bare: string) => (el: LtxElement) => (el.attrs.from ?? '').split('/')[0] === bare;

/** One relayed connection: what the client wrote, and a way to cut it. */
export interface Relayed {
  /** The client's bytes, in order, as the server got them. */
  fromClient: Buffer[];
  /** Drops both sides at once (a network failure). */
  cut(): void;
}

/**
 * A TCP relay on 127.0.0.1 (a free port) in front of `upstream`, recording what each client writes:
 * what a passive observer of the network sees of the client's side.
 */
export async function startRelay(upstream: { host: string; port: number }) {
  const connections: Relayed[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(upstream.port, upstream.host);
    const fromClient: Buffer[] = [];
    connections.push({
      fromClient,
      cut: () => {
        client.destroy();
        up.destroy();
      },
    });
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (d: Buffer) => fromClient.push(Buffer.from(d)));
    client.pipe(up);
    up.pipe(client);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A server that is not a real XMPP server: for each `[trigger, reply]` in order, once what the
 * client sent so far contains `trigger`, it writes `reply` (in one write). Records what the client
 * sent. For the negotiation's refusals.
 */
export async function startFakeServer(script: readonly (readonly [string, string])[]) {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let step = 0;
    socket.on('data', (d: Buffer) => {
      received.push(Buffer.from(d));
      const text = Buffer.concat(received).toString('latin1');
      while (step < script.length && text.includes(script[step]![0])) socket.write(script[step++]![1]);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
