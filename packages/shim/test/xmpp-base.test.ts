import { type RunningProsody, startProsody } from '@crosstalk/codec-xmpp/testing';
import { type CanonicalEvent, isCrossTalkError, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseClientEvents } from '../src/index.js';
import { fromBare, trustCertificate, type XmppUser, xml, xmppUser } from '../src/testing/index.js';
import { type XmppBase, type XmppBaseOptions, xmppBase } from '../src/xmpp/index.js';
import { TEXT, TEXT_BACK, until } from './support.js';
import { startFakeServer, startRelay } from './xmpp-support.js';

/**
 * The XMPP base client alone, against a real prosody that requires TLS (`c2s_require_encryption`):
 * TLS before anything else, verified against the server's certificate; what it sends reaches
 * another user of the server through the server; what the server sends becomes canonical events;
 * and every way a login can fail is a typed error.
 */

let prosody: RunningProsody;
let untrust: () => void;
const open: { close?(): Promise<void>; stop?(): Promise<void> }[] = [];

beforeAll(async () => {
  prosody = await startProsody({
    requireEncryption: true,
    users: ['alice', 'bob', 'carol'].map((user) => ({ user, password: `${user}-pw` })),
  });
  untrust = trustCertificate([prosody.domain], prosody.certificate);
}, 60_000);

afterAll(async () => {
  for (const c of open.reverse()) await (c.close?.() ?? c.stop?.())?.catch(() => {});
  untrust?.();
  await prosody?.stop();
});

function base(user: string, extra: Partial<XmppBaseOptions> = {}): XmppBase {
  const b = xmppBase({
    jid: `${user}@localhost`,
    password: `${user}-pw`,
    service: `xmpp://127.0.0.1:${prosody.port}`,
    tls: { ca: prosody.certificate },
    mechanism: 'PLAIN',
    ...extra,
  });
  open.push(b);
  return b;
}

/** Events a base client reports, and whether it said its connection was lost. */
function recorder() {
  const events: CanonicalEvent[] = [];
  const lost: Error[] = [];
  const sink: BaseClientEvents = { receive: (e) => events.push(e), lost: (e) => lost.push(e) };
  return { events, lost, sink };
}

async function user(name: string): Promise<XmppUser> {
  const u = xmppUser({
    port: prosody.port,
    domain: prosody.domain,
    user: name,
    password: `${name}-pw`,
    presence: true,
  });
  open.push(u);
  await u.start();
  return u;
}

describe('the XMPP base client on a prosody that requires TLS', () => {
  it('logs in over verified TLS; IMs, typing, presence and subscriptions go through the server both ways', async () => {
    const bob = await user('bob');
    expect(bob.encrypted()).toBe(true);
    const alice = base('alice');
    const r = recorder();
    await alice.connect(r.sink);
    expect(alice.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(alice.tls?.peer).toBe('localhost');

    const aliceAddress = parseAddress('alice@localhost');
    const bobAddress = parseAddress('bob@localhost');
    await alice.send({
      kind: 'im',
      id: 'm-1',
      from: aliceAddress,
      to: bobAddress,
      text: TEXT,
      sentAt: Date.now(),
    });
    const got = await bob.receive((el) => el.name === 'message' && fromBare('alice@localhost')(el), 'the IM');
    expect(got.getChildText('body')).toBe(TEXT);
    expect(got.attrs.id).toBe('m-1');
    expect(got.attrs.from).toBe('alice@localhost/crosstalk');

    await bob.send(
      xml('message', { to: 'alice@localhost', type: 'chat', id: 'b-1' }, xml('body', {}, TEXT_BACK)),
    );
    await until(() => r.events.some((e) => e.kind === 'im'), 'bob IM at alice');
    expect(r.events.find((e) => e.kind === 'im')).toMatchObject({
      id: 'b-1',
      from: bobAddress,
      to: aliceAddress,
      text: TEXT_BACK,
    });

    await alice.send({ kind: 'typing', from: aliceAddress, to: bobAddress, state: 'composing' });
    const typing = await bob.receive((el) => el.name === 'message' && !!el.getChild('composing'), 'typing');
    expect(typing.getChild('composing')?.attrs.xmlns).toBe('http://jabber.org/protocol/chatstates');

    // Subscription: alice asks, bob approves (and asks back, as clients do); alice approves through send.
    await alice.send({
      kind: 'buddy-request',
      id: 'r-1',
      from: aliceAddress,
      to: bobAddress,
      message: 'hi bob',
    });
    await bob.receive((el) => el.name === 'presence' && el.attrs.type === 'subscribe', 'the request');
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribed' }));
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'subscribe' }));
    await until(() => r.events.some((e) => e.kind === 'buddy-response'), 'the approval at alice');
    expect(r.events.find((e) => e.kind === 'buddy-response')).toMatchObject({
      from: bobAddress,
      accepted: true,
    });
    await until(() => r.events.some((e) => e.kind === 'buddy-request'), 'bob asks back');
    await alice.send({ kind: 'buddy-response', from: aliceAddress, to: bobAddress, accepted: true });
    await until(
      () => alice.roster().some((i) => i.address.user === 'bob' && i.subscription === 'both'),
      'bob mutual in alice roster',
    );
    expect((await bob.roster()).get('alice@localhost')).toBe('both');

    // Presence both ways.
    await alice.presence('away', 'at lunch ☕');
    const away = await bob.receive(
      (el) => el.name === 'presence' && fromBare('alice@localhost')(el) && el.getChildText('show') === 'away',
      'alice away',
    );
    expect(away.getChildText('status')).toBe('at lunch ☕');
    await bob.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'busy, sorry')));
    await until(
      () => r.events.some((e) => e.kind === 'presence' && e.status === 'busy'),
      'bob busy at alice',
    );
    expect(r.events.find((e) => e.kind === 'presence' && e.status === 'busy')).toMatchObject({
      from: bobAddress,
      text: 'busy, sorry',
    });
    expect(r.lost).toEqual([]);
  });

  it('a certificate it cannot verify: BaseTlsFailedError, nothing sent in plain text', async () => {
    const alice = base('carol', { tls: {} });
    const error = await alice.connect(recorder().sink).catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_BASE_TLS_FAILED')).toBe(true);
  });

  it('a wrong password: BaseLoginFailedError', async () => {
    const alice = base('carol', { password: 'wrong' });
    const error = await alice.connect(recorder().sink).catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_BASE_LOGIN_FAILED')).toBe(true);
    expect(error).toMatchObject({ condition: 'not-authorized' });
  });

  it('TLS comes first: before it the client writes only its stream header and <starttls/>', async () => {
    const relay = await startRelay(prosody);
    open.push(relay);
    const alice = base('alice', { service: `xmpp://127.0.0.1:${relay.port}`, resource: 'tapped' });
    await alice.connect(recorder().sink);
    const written = Buffer.concat(relay.connections[0]!.fromClient);
    const starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    const plain = written.subarray(0, written.indexOf(starttls) + starttls.length).toString('utf8');
    expect(plain).toMatch(
      /^<\?xml version='1\.0'\?><stream:stream to='localhost' [^>]*><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>$/,
    );
    expect(plain.match(/</g)).toHaveLength(3); // the declaration, the header, <starttls/>
    // Then a TLS handshake record (RFC 8446 §5.1: content type 22), and nothing readable.
    expect(written[plain.length]).toBe(0x16);
    const rest = written.subarray(plain.length);
    for (const secret of ['alice-pw', Buffer.from('\0alice\0alice-pw').toString('base64'), '<auth', 'tapped'])
      expect(rest.includes(secret)).toBe(false);
  });

  it('a server that offers no STARTTLS: BaseTlsUnavailableError before a credential is sent', async () => {
    const plain = await startProsody({ users: [{ user: 'alice', password: 'alice-pw' }] });
    const relay = await startRelay(plain);
    try {
      const alice = base('alice', { service: `xmpp://127.0.0.1:${relay.port}` });
      const error = await alice.connect(recorder().sink).catch((e: unknown) => e);
      expect(isCrossTalkError(error, 'ERR_BASE_TLS_UNAVAILABLE')).toBe(true);
      const written = Buffer.concat(relay.connections.flatMap((c) => c.fromClient)).toString('utf8');
      expect(written).not.toContain('<auth');
      expect(written).not.toContain('<starttls');
    } finally {
      await relay.close();
      await plain.stop();
    }
  });

  it('plain bytes after <proceed/> (STARTTLS injection): refused, TLS never starts', async () => {
    const header =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
      "from='localhost' id='s1' version='1.0'>";
    const fake = await startFakeServer([
      [
        '<stream:stream',
        `${header}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`,
      ],
      [
        '<starttls',
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
      ],
    ]);
    open.push(fake);
    const alice = base('alice', { service: `xmpp://127.0.0.1:${fake.port}` });
    const error = await alice.connect(recorder().sink).catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_BASE_TLS_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('after <proceed/>');
    expect(Buffer.concat(fake.received).includes(0x16)).toBe(false);
  });

  it('nothing listening: BaseUnreachableError', async () => {
    const relay = await startRelay(prosody);
    const port = relay.port;
    await relay.close();
    const error = await base('alice', { service: `xmpp://127.0.0.1:${port}` })
      .connect(recorder().sink)
      .catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_BASE_UNREACHABLE')).toBe(true);
  });

  it('a stanza over maxStanzaSize ends that connection only (typed, cause FrameTooLargeError)', async () => {
    const carol = await user('carol');
    const alice = base('alice', { maxStanzaSize: 8192, resource: 'small' });
    const r = recorder();
    await alice.connect(r.sink);
    await carol.send(xml('message', { to: 'alice@localhost/small', type: 'chat' }, xml('body', {}, 'ok')));
    await until(() => r.events.some((e) => e.kind === 'im'), 'a small IM first');
    await carol.send(
      xml('message', { to: 'alice@localhost/small', type: 'chat' }, xml('body', {}, 'é'.repeat(8000))),
    );
    await until(() => r.lost.length > 0, 'alice lost');
    expect(isCrossTalkError(r.lost[0], 'ERR_BASE_CONNECTION_LOST')).toBe(true);
    expect(isCrossTalkError((r.lost[0] as Error).cause, 'ERR_FRAME_TOO_LARGE')).toBe(true);
    expect(r.events.filter((e) => e.kind === 'im')).toHaveLength(1);
    const error = await alice
      .send({ kind: 'typing', from: alice.address, to: parseAddress('carol@localhost'), state: 'active' })
      .catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_BASE_CONNECTION_LOST')).toBe(true);
    // carol's own connection goes on.
    expect((await carol.roster()).size).toBeGreaterThanOrEqual(0);
  });

  it('the connection cut under it: lost, once, with BaseConnectionLostError', async () => {
    const relay = await startRelay(prosody);
    open.push(relay);
    const alice = base('alice', { service: `xmpp://127.0.0.1:${relay.port}`, resource: 'cut' });
    const r = recorder();
    await alice.connect(r.sink);
    relay.connections[0]!.cut();
    await until(() => r.lost.length > 0, 'lost');
    expect(isCrossTalkError(r.lost[0], 'ERR_BASE_CONNECTION_LOST')).toBe(true);
    await alice.close();
    expect(r.lost).toHaveLength(1);
  });
});
