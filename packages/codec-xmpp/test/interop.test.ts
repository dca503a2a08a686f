import { spawn } from 'node:child_process';
import { type RelayedEvent, type SessionRelay, startSessionRelay } from '@crosstalk/compliance';
import {
  type Address,
  type Codec,
  eventFromJson,
  isCrossTalkError,
  type ProxySession,
  type RosterItem,
  type SessionEvent,
} from '@crosstalk/core';
import { xml } from '@xmpp/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xmpp } from '../src/index.js';
import { type RunningProsody, ScriptedXmppClient, startProsody } from '../src/testing/index.js';
import { xmppJsClient } from './helpers.js';

// Interop with real software (PEERS.md): prosody as the server, @xmpp/client as the client, our
// proxy session in between through compliance's TCP relay. Needs prosody (installed by .ci/run).

const ALICE: Address = { user: 'alice', network: 'localhost' };
const FOREIGN: RosterItem[] = [
  {
    address: { user: 'bob', network: 'yahoo' },
    name: 'Bob',
    groups: ['Yahoo'],
    subscription: 'both',
    pending: false,
  },
  { address: { user: 'a@hotmail.com', network: 'msn' }, groups: [], subscription: 'to', pending: false },
];

/** The codec with its sessions wrapped so the test sees exactly what reaches the server. */
function recordingCodec(toServer: Buffer[], fromClient: Buffer[]): Codec {
  const base = xmpp();
  const wrap = (s: ProxySession): ProxySession => ({
    get protocol() {
      return s.protocol;
    },
    get state() {
      return s.state;
    },
    get user() {
      return s.user;
    },
    fromClient(chunk) {
      fromClient.push(Buffer.from(chunk));
      const out = s.fromClient(chunk);
      for (const b of out.toServer) toServer.push(Buffer.from(b));
      return out;
    },
    fromServer: (chunk) => s.fromServer(chunk),
    deliver: (event) => s.deliver(event),
    affinity: (event) => s.affinity(event),
    close: (reason) => s.close(reason),
  });
  return { ...base, openSession: (ctx) => wrap(base.openSession(ctx)) } as Codec;
}

const isType =
  <T extends SessionEvent['type']>(type: T) =>
  (e: RelayedEvent): boolean =>
    e.event.type === type;

describe('interop: @xmpp/client -> proxy session -> prosody', () => {
  let prosody: RunningProsody;
  let relay: SessionRelay;
  // biome-ignore lint/suspicious/noExplicitAny: @xmpp/client has no types
  let alice: any;
  let carol: ScriptedXmppClient;
  const aliceStanzas: {
    name: string;
    attrs: Record<string, string>;
    getChildText(n: string): string | null;
  }[] = [];
  const toServer: Buffer[] = [];
  const fromClient: Buffer[] = [];

  beforeAll(async () => {
    prosody = await startProsody({
      users: [
        { user: 'alice', password: 'alicepw' },
        { user: 'carol', password: 'carolpw' },
      ],
    });
    relay = await startSessionRelay({
      codec: recordingCodec(toServer, fromClient),
      upstream: { host: prosody.host, port: prosody.port },
      foreignRoster: () => FOREIGN,
    });
    carol = await ScriptedXmppClient.login({
      host: prosody.host,
      port: prosody.port,
      domain: prosody.domain,
      user: 'carol',
      password: 'carolpw',
      resource: 'phone',
    });
    carol.sendPresence();
    alice = xmppJsClient({ port: relay.port, user: 'alice', password: 'alicepw', resource: 'desk' });
    alice.on('stanza', (el: (typeof aliceStanzas)[number]) => aliceStanzas.push(el));
    await alice.start();
  });

  afterAll(async () => {
    await alice?.stop().catch(() => {});
    await carol?.close().catch(() => {});
    await relay?.close();
    await prosody?.stop();
  });

  const aliceReceives = async (match: (el: (typeof aliceStanzas)[number]) => boolean) => {
    const found = aliceStanzas.find(match);
    if (found) return found;
    return new Promise<(typeof aliceStanzas)[number]>((resolve) => {
      const listener = (el: (typeof aliceStanzas)[number]) => {
        if (match(el)) {
          alice.removeListener('stanza', listener);
          resolve(el);
        }
      };
      alice.on('stanza', listener);
    });
  };

  it('alice logs in through the session: identified, then verified with her JID', async () => {
    const identified = await relay.waitFor(isType('identified'));
    const verified = await relay.waitFor(isType('verified'));
    expect(identified.event).toEqual({ type: 'identified', address: ALICE });
    expect(verified.event).toEqual({ type: 'verified', address: ALICE });
    expect(relay.events.indexOf(identified)).toBeLessThan(relay.events.indexOf(verified));
    expect(String(alice.jid)).toBe('alice@localhost/desk');
    expect(relay.connections[0]!.session.state).toBe('verified');
  });

  it('her roster comes back from prosody with the foreign buddies merged in', async () => {
    await alice.iqCaller.request(
      xml(
        'iq',
        { type: 'set' },
        xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'carol@localhost', name: 'Carol' })),
      ),
    );
    const result = await alice.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })),
    );
    const items = result
      .getChild('query')
      .getChildren('item')
      .map((i: { attrs: Record<string, string> }) => i.attrs.jid);
    expect(items).toEqual(['carol@localhost', 'bob@yahoo', 'a\\40hotmail.com@msn']);
    const roster = await relay.waitFor(isType('roster'));
    expect(roster.event).toMatchObject({
      type: 'roster',
      owner: ALICE,
      items: [{ address: { user: 'carol', network: 'localhost' }, name: 'Carol' }],
      merged: FOREIGN,
    });
  });

  it('messages to and from local users pass unchanged', async () => {
    await alice.send(
      xml(
        'message',
        { to: 'carol@localhost/phone', type: 'chat', id: 'local1' },
        xml('body', {}, 'hello carol, caf\u00e9 \u{1F600}'),
      ),
    );
    const got = await carol.waitFor(
      (el) => el.name === 'message' && el.attrs.some((a) => a.value === 'local1'),
    );
    expect(got.children.find((c) => c.type === 'element' && c.name === 'body')).toMatchObject({
      children: [{ type: 'text', text: 'hello carol, caf\u00e9 \u{1F600}' }],
    });
    // The exact bytes @xmpp/client wrote are the bytes prosody got.
    const sent = Buffer.concat(fromClient).toString('utf8');
    const frame = /<message[^>]*local1[\s\S]*?<\/message>/.exec(sent)![0];
    expect(Buffer.concat(toServer).toString('utf8')).toContain(frame);

    carol.sendMessage('alice@localhost/desk', 'hi alice');
    const back = await aliceReceives((el) => el.name === 'message' && el.getChildText('body') === 'hi alice');
    expect(back.attrs.from).toBe('carol@localhost/phone');
    const inbound = await relay.waitFor(
      (e) => e.event.type === 'inbound' && 'event' in e.event && e.event.event.kind === 'im',
    );
    expect(inbound.event).toMatchObject({
      event: { kind: 'im', from: { user: 'carol' }, to: ALICE, text: 'hi alice' },
    });
  });

  it('a message to bob@yahoo is withheld from prosody and reported as outbound', async () => {
    await alice.send(
      xml('message', { to: 'bob@yahoo', type: 'chat', id: 'far1' }, xml('body', {}, 'hi bob')),
    );
    const outbound = await relay.waitFor((e) => e.event.type === 'outbound' && e.event.event.kind === 'im');
    expect(outbound.event).toEqual({
      type: 'outbound',
      event: {
        kind: 'im',
        id: 'far1',
        from: ALICE,
        to: { user: 'bob', network: 'yahoo' },
        text: 'hi bob',
        sentAt: expect.any(Number),
      },
    });
    expect(Buffer.concat(toServer).toString('utf8')).not.toContain('bob@yahoo');
  });

  it('a subscription request to bob@yahoo becomes an outbound buddy-request', async () => {
    await alice.send(xml('presence', { to: 'bob@yahoo', type: 'subscribe' }));
    const outbound = await relay.waitFor(
      (e) => e.event.type === 'outbound' && e.event.event.kind === 'buddy-request',
    );
    expect(outbound.event).toEqual({
      type: 'outbound',
      event: { kind: 'buddy-request', from: ALICE, to: { user: 'bob', network: 'yahoo' } },
    });
    expect(Buffer.concat(toServer).toString('utf8')).not.toContain('bob@yahoo');
  });

  it('an injected canonical im from bob@yahoo arrives in @xmpp/client as an ordinary message', async () => {
    relay.deliver(
      eventFromJson({
        kind: 'im',
        id: 'g2g-1',
        from: 'bob@yahoo',
        to: 'alice@localhost',
        text: 'hello from yahoo',
        sentAt: Date.now(),
      }),
    );
    const msg = await aliceReceives((el) => el.name === 'message' && el.attrs.from === 'bob@yahoo');
    expect(msg.attrs).toMatchObject({
      from: 'bob@yahoo',
      to: 'alice@localhost/desk',
      type: 'chat',
      id: 'g2g-1',
    });
    expect(msg.getChildText('body')).toBe('hello from yahoo');
    // The stream is still healthy: prosody answers a ping after the injection.
    const pong = await alice.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    expect(pong.attrs.type).toBe('result');
    expect(relay.errors).toEqual([]);
  });
});

describe('interop: STARTTLS through the session (openssl s_client -> session -> prosody)', () => {
  it('relays the TLS handshake untouched and reports the stream opaque', async () => {
    const prosody = await startProsody({ users: [], starttls: true });
    const relay = await startSessionRelay({
      codec: xmpp(),
      upstream: { host: prosody.host, port: prosody.port },
    });
    try {
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          'openssl',
          [
            's_client',
            '-connect',
            `127.0.0.1:${relay.port}`,
            '-starttls',
            'xmpp',
            '-xmpphost',
            'localhost',
            '-brief',
          ],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString()));
        child.stderr.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('CONNECTION ESTABLISHED')) child.stdin.end();
        });
        child.on('error', reject);
        child.on('close', () => resolve(text));
      });
      expect(output).toContain('CONNECTION ESTABLISHED');
      const opaque = await relay.waitFor(isType('opaque'));
      expect(opaque.event).toMatchObject({ type: 'opaque', reason: expect.stringContaining('STARTTLS') });
      expect(relay.events.some((e) => e.event.type === 'verified')).toBe(false);
      // The compliance relay closes the session when openssl hangs up, and may still feed it the
      // server's last TLS record (close_notify) racing in behind: that one ERR_STREAM_CLOSED is the
      // relay's timing, not the session's; nothing else may have failed.
      expect(relay.errors.filter((e) => !isCrossTalkError(e.error, 'ERR_STREAM_CLOSED'))).toEqual([]);
    } finally {
      await relay.close();
      await prosody.stop();
    }
  });
});

describe('e2e: many scripted clients through proxy sessions at once', () => {
  it('20 users log in concurrently, chat locally, and have their foreign messages withheld', async () => {
    const users = Array.from({ length: 20 }, (_, i) => ({ user: `user${i}`, password: `pw${i}` }));
    const prosody = await startProsody({ users });
    const relay = await startSessionRelay({
      codec: xmpp(),
      upstream: { host: prosody.host, port: prosody.port },
    });
    const clients: ScriptedXmppClient[] = [];
    try {
      clients.push(
        ...(await Promise.all(
          users.map((u) =>
            ScriptedXmppClient.login({
              host: relay.host,
              port: relay.port,
              domain: 'localhost',
              user: u.user,
              password: u.password,
              resource: 'r',
            }),
          ),
        )),
      );
      const verified = relay.events.filter((e) => e.event.type === 'verified');
      expect(verified.length).toBe(20);
      // Each user messages the next one (locally) and bob@yahoo (foreign).
      clients.forEach((c, i) => {
        c.sendMessage(`user${(i + 1) % 20}@localhost/r`, `ring ${i}`);
        c.sendMessage('bob@yahoo', `far ${i}`);
      });
      await Promise.all(
        clients.map((c, i) =>
          c.waitFor((el) => el.name === 'message' && JSON.stringify(el).includes(`ring ${(i + 19) % 20}`)),
        ),
      );
      const outbound = await Promise.all(
        users.map((_, i) =>
          relay.waitFor(
            (e) =>
              e.event.type === 'outbound' && e.event.event.kind === 'im' && e.event.event.text === `far ${i}`,
          ),
        ),
      );
      expect(new Set(outbound.map((o) => o.connectionId)).size).toBe(20);
      expect(relay.errors).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await relay.close();
      await prosody.stop();
    }
  });
});
