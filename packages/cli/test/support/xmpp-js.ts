import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { WaitingInbox } from '@crosstalk/core';
import { socksConnect } from '@crosstalk/gateway/testing';
import { xml, client as xmppClient } from '@xmpp/client';

export { xml };

/**
 * @xmpp/client has no SOCKS support. To put it behind the gateway as a SOCKS-configured client
 * would be, it connects to this tiny local TCP forwarder (127.0.0.1, port 0), which opens each
 * connection to `target` through the SOCKS4 proxy with `socksConnect` and then only pipes bytes.
 */
export async function startSocksForwarder(
  proxy: { host: string; port: number },
  target: { host: string; port: number },
) {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = createServer({ allowHalfOpen: true }, (local) => {
    track(local);
    local.pause();
    socksConnect(proxy, target.host, target.port).then(
      (remote) => {
        track(remote);
        local.on('error', () => remote.destroy());
        remote.on('error', () => local.destroy());
        local.pipe(remote);
        remote.pipe(local);
        local.resume();
      },
      () => local.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: @xmpp/client 0.14 ships no types
type XmppJs = any;
export interface XmppJsElement {
  name: string;
  attrs: Record<string, string>;
  getChildText(name: string): string | null;
  getChild(name: string): XmppJsElement | undefined;
  getChildren(name: string): XmppJsElement[];
}

/** A real @xmpp/client, forced onto SASL PLAIN (SCRAM would cost a second of CPU per login). */
export function xmppJs(port: number, user: string, password: string) {
  const entity: XmppJs = xmppClient({
    service: `xmpp://127.0.0.1:${port}`,
    domain: 'localhost',
    resource: 'desk',
    username: user,
    password,
    credentials: (authenticate: (c: object, m: string) => Promise<void>) =>
      authenticate({ username: user, password }, 'PLAIN'),
  });
  entity.on('error', () => {});
  const stanzas = new WaitingInbox<XmppJsElement>({ name: `${user}@localhost (@xmpp/client)` });
  entity.on('stanza', (el: XmppJsElement) => stanzas.push(el));
  /** The first stanza received (earlier ones count) that matches, or a timeout error naming `what`. */
  const receive = (match: (el: XmppJsElement) => boolean, what: string, timeoutMs = 10_000) =>
    stanzas.waitFor(match, { what, timeoutMs });
  const roster = async (): Promise<string[]> => {
    const result: XmppJsElement = await entity.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })),
    );
    return (result.getChild('query')?.getChildren('item') ?? []).map((i) => i.attrs.jid!);
  };
  return { entity, receive, roster };
}
