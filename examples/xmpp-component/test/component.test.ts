import { startOscarNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { oscar } from '@crosstalk/codec-oscar';
import { xmpp } from '@crosstalk/codec-xmpp';
import { ScriptedXmppClient } from '@crosstalk/codec-xmpp/testing';
import { addressKey, LIMITS, MemoryDht, parseAddress } from '@crosstalk/core';
import { type CrossTalkNode, createGateway, createNode, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { trustCertificate, type XmppUser, xmppUser } from '@crosstalk/shim/testing';
import type { Element } from '@xmpp/component';
import { xml, component as xmppComponent } from '@xmpp/component';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ComponentAuthError,
  type ComponentEvent,
  SenderNotAllowedError,
  startXmppComponent,
  type XmppComponent,
} from '../src/index.js';
import { newSecret, startTlsProsody, type TlsProsody } from '../support/prosody.js';

/**
 * CrossTalk as an XMPP component (issue 16) against a real prosody that requires TLS for clients:
 * `@xmpp/client` users over STARTTLS on one side; on the other an AIM user on codec-oscar's mock
 * server, behind a SOCKS gateway (`createGateway`), the node and the gateway sharing a MemoryDht and
 * talking G2G over 127.0.0.1. They add each other both ways, chat both ways with non-ASCII text and
 * see each other's presence; then what the component refuses.
 */

const DOMAIN = 'crosstalk.localhost';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const FROM_XMPP = 'Grüße aus dem XMPP-Land — ça va? 你好 🎉';
const FROM_AIM = 'Привет из AIM ✓ ñandú 😀';

let prosody: TlsProsody;
let untrust: () => void;
let node: CrossTalkNode;
let gateway: Gateway;
let crosstalk: XmppComponent;
let aim: Awaited<ReturnType<typeof startOscarNetwork>>;
const componentEvents: ComponentEvent[] = [];
const secret = newSecret();
const evilSecret = newSecret();
const started: { stop(): Promise<unknown> }[] = [];

beforeAll(async () => {
  prosody = await startTlsProsody({
    hosts: ['localhost', 'guests.localhost'],
    accounts: [
      { user: 'carol', password: 'carol-pw' },
      { user: 'dave', password: 'dave-pw' },
      { user: 'erin', password: 'erin-pw' },
      { user: 'mallory', host: 'guests.localhost', password: 'mallory-pw' },
    ],
    components: [
      { domain: DOMAIN, secret },
      { domain: 'evil.localhost', secret: evilSecret },
    ],
  });
  untrust = trustCertificate(prosody.hosts, prosody.certificate);
  const dht = new MemoryDht();
  node = await createNode({ dht, logger: false });
  crosstalk = await startXmppComponent({
    node,
    service: `xmpp://127.0.0.1:${prosody.componentPort}`,
    domain: DOMAIN,
    secret,
    userDomains: ['localhost'],
  });
  crosstalk.on((e) => componentEvents.push(e));
  // The AIM side: a SOCKS gateway that bridges XMPP too (so `carol@localhost` is foreign to AIM users).
  gateway = await createGateway({ codecs: [oscar(), xmpp()], dht, socks: { port: 0 }, logger: false });
  aim = await startOscarNetwork([
    { name: 'alice', password: 'alice-pw' },
    { name: 'alan', password: 'alan-pw' },
  ]);
}, 60_000);

afterAll(async () => {
  for (const s of started.splice(0).reverse()) await s.stop().catch(() => {});
  await crosstalk?.stop();
  await gateway?.close();
  await node?.close();
  await aim?.stop();
  untrust?.();
  await prosody?.stop();
});

function aimUser(name: string): UserDriver {
  const user = aim.driver(name, (host, port) => socksConnect(gateway.socks, host, port));
  started.push({ stop: () => user.disconnect() });
  return user;
}

function localUser(user: string, host = 'localhost', resource = 'desk'): XmppUser<Element> {
  const password = `${user}-pw`;
  const u = xmppUser<Element>({ port: prosody.c2sPort, domain: host, user, password, resource });
  started.push(u);
  return u;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Logs an AIM user in and waits until the directory says where they are. */
async function aimOnline(user: UserDriver) {
  await user.login();
  await until(async () => (await gateway.directory.lookupLocation(user.address)) !== undefined, 'AIM login');
}

const carolAddress = parseAddress('carol@localhost');
const isFrom = (jid: string) => (el: Element) => el.attrs.from?.split('/')[0] === jid;
const presenceFrom = (jid: string, type?: string) => (el: Element) =>
  el.name === 'presence' && isFrom(jid)(el) && el.attrs.type === type;
const errorCondition = (el: Element) =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.attrs.xmlns === NS_STANZAS)?.name;

describe('an XMPP user over TLS and an AIM user through the component', () => {
  it('add each other both ways, chat both ways with non-ASCII text, and see presence come and go', async () => {
    const alice = aimUser('alice');
    await aimOnline(alice);
    const aliceJid = crosstalk.jidOf(alice.address);
    expect(aliceJid).toBe('alice%aol@crosstalk.localhost');

    const carol = localUser('carol');
    await carol.start();
    expect(carol.encrypted()).toBe(true);
    await carol.send(xml('presence'));

    // Carol asks Alice (an XMPP subscription request, RFC 6121 §3.1): an AIM authorization request.
    await carol.send(
      xml('presence', { to: aliceJid, type: 'subscribe' }, xml('status', {}, 'Carol from XMPP here')),
    );
    expect(await alice.nextBuddyRequest(carolAddress)).toEqual({ message: 'Carol from XMPP here' });
    await until(() => crosstalk.users().some((u) => addressKey(u) === 'carol@localhost'), 'carol attached');
    await alice.answerBuddyRequest(carolAddress, true);
    await carol.receive(presenceFrom(aliceJid, 'subscribed'), "alice's approval");
    // She sees Alice online at once (the engine tells newly mutual buddies; the server probes too).
    await carol.receive(presenceFrom(aliceJid, undefined), "alice's presence");

    // Alice asks Carol: the subscription request reaches Carol's client; she approves.
    await alice.addBuddy(carolAddress, 'Hi Carol, Alice from AIM');
    const asked = await carol.receive(presenceFrom(aliceJid, 'subscribe'), "alice's request");
    expect(asked.getChildText('status')).toBe('Hi Carol, Alice from AIM');
    await carol.send(xml('presence', { to: aliceJid, type: 'subscribed' }));
    expect(await alice.nextBuddyResponse(carolAddress)).toEqual({ accepted: true });
    // prosody keeps the roster: Alice is there, subscribed both ways.
    await until(async () => (await carol.roster()).get(aliceJid) === 'both', 'a mutual roster item');
    expect(alice.buddies().map(addressKey)).toContain('carol@localhost');

    // IMs both ways, non-ASCII in each direction.
    await carol.send(xml('message', { to: aliceJid, type: 'chat', id: 'm1' }, xml('body', {}, FROM_XMPP)));
    expect(await alice.nextIm(carolAddress)).toBe(FROM_XMPP);
    await alice.sendIm(carolAddress, FROM_AIM);
    const im = await carol.receive(
      (el) => el.name === 'message' && isFrom(aliceJid)(el) && !!el.getChild('body'),
      'IM',
    );
    expect(im.getChildText('body')).toBe(FROM_AIM);
    expect(im.attrs.type).toBe('chat');

    // Typing (XEP-0085 chat states <-> AIM typing notifications).
    await carol.send(
      xml(
        'message',
        { to: aliceJid, type: 'chat' },
        xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    );
    expect(await alice.nextTyping(carolAddress)).toBe('composing');

    // Presence: Alice goes away; Carol goes away; Carol logs out; Alice logs out.
    await alice.setPresence('away', 'out for lunch');
    const away = await carol.receive(
      (el) => presenceFrom(aliceJid, undefined)(el) && el.getChildText('show') === 'away',
      "alice's away",
    );
    expect(away.getChildText('status')).toBe('out for lunch');
    await carol.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'en réunion')));
    expect(await alice.nextPresence(carolAddress, 'away')).toBe('away');
    await carol.stop();
    expect(await alice.nextPresence(carolAddress, 'offline')).toBe('offline');
    await until(() => crosstalk.users().length === 0, 'carol detached');

    // Back again: the server probes Alice, and the component answers with what it last saw (away).
    const again = localUser('carol', 'localhost', 'phone');
    await again.start();
    await again.send(xml('presence'));
    // (The answer to the probe is addressed to the resource that probed; the node also tells the bare JID.)
    const probed = await again.receive(
      (el) =>
        presenceFrom(aliceJid, undefined)(el) &&
        el.attrs.to === 'carol@localhost/phone' &&
        el.getChildText('show') === 'away',
      "alice's last presence, from the probe",
    );
    expect(probed.getChildText('status')).toBe('out for lunch');
    expect(await alice.nextPresence(carolAddress, 'online')).toBe('online');

    // A second resource: Carol is one user to Alice, online while any of her resources is.
    const told: string[] = []; // what Alice's gateway shows her of Carol from now on
    const stopWatching = gateway.on((e) => {
      if (
        e.type === 'delivered' &&
        e.event.kind === 'presence' &&
        addressKey(e.event.from) === 'carol@localhost'
      )
        told.push(e.event.status);
    });
    const desk = localUser('carol', 'localhost', 'desk');
    await desk.start();
    await desk.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'busy at my desk')));
    expect(await alice.nextPresence(carolAddress, 'busy')).toBe('busy');
    await desk.stop(); // her phone is still online: she is what the phone said last, not offline
    await again.send(xml('presence', {}, xml('show', {}, 'away')));
    expect(await alice.nextPresence(carolAddress, 'away')).toBe('away');
    stopWatching();
    expect(told).not.toContain('offline');
    expect(told.at(-1)).toBe('away');
    expect(crosstalk.users().map(addressKey)).toEqual(['carol@localhost']);

    await alice.logout();
    await again.receive(presenceFrom(aliceJid, 'unavailable'), "alice's logout");
    await again.stop();
  });
});

describe('what the component refuses', () => {
  let alan: UserDriver;
  let alanJid: string;
  let dave: XmppUser<Element>;

  beforeAll(async () => {
    alan = aimUser('alan');
    await aimOnline(alan);
    alanJid = crosstalk.jidOf(alan.address);
    dave = localUser('dave');
    await dave.start();
    await dave.send(xml('presence'));
  });

  /** Sends a stanza as dave and returns the error stanza the component answers it with. */
  async function refused(stanza: Element): Promise<{ reply: Element; condition: string | undefined }> {
    const id = `r${Math.random().toString(36).slice(2)}`;
    stanza.attrs.id = id;
    await dave.send(stanza);
    const reply = await dave.receive(
      (el) => el.attrs.id === id && el.attrs.type === 'error',
      `an error for ${id}`,
    );
    return { reply, condition: errorCondition(reply) };
  }

  const chat = (to: string, body: string) => xml('message', { to, type: 'chat' }, xml('body', {}, body));

  it('a recipient that is not a user of a foreign network: item-not-found; the component itself: service-unavailable', async () => {
    for (const to of [
      `nobody@${DOMAIN}`, // no user%network
      `carol%localhost@${DOMAIN}`, // the server's own users are reached directly
      `abc%icq@${DOMAIN}`, // not a valid ICQ user (UINs are digits)
      `bob%nowhere@${DOMAIN}`, // no such network
      `${'a'.repeat(120)}%aol@${DOMAIN}`, // not a valid AIM screen name (at most 97 characters)
    ]) {
      const { reply, condition } = await refused(chat(to, 'hello?'));
      expect(condition, to).toBe('item-not-found');
      expect(reply.attrs.from).toBe(to);
    }
    expect((await refused(chat(DOMAIN, 'hello?'))).condition).toBe('service-unavailable');
    // An iq to a foreign user that is not a call offer: nothing answers it here.
    const version = xml('iq', { to: alanJid, type: 'get' }, xml('query', { xmlns: 'jabber:iq:version' }));
    expect((await refused(version)).condition).toBe('service-unavailable');
  });

  it('a stanza past the caps or the canonical limits gets an error; dave, erin and alan carry on', async () => {
    const erin = localUser('erin');
    await erin.start();
    // Deeper than codec-xmpp's maxDepth (128): the server passes it, the component refuses it.
    let deep = xml('x', { xmlns: 'urn:example:deep' });
    for (let i = 0; i < 130; i++) deep = xml('x', {}, deep);
    const tooDeep = xml('message', { to: alanJid, type: 'chat' }, xml('body', {}, 'deep'), deep);
    // More attributes on one element than maxAttributes (64).
    const attrs: Record<string, string> = { xmlns: 'urn:example:wide' };
    for (let i = 0; i < 70; i++) attrs[`a${i}`] = String(i);
    const wide = xml('message', { to: alanJid, type: 'chat' }, xml('body', {}, 'wide'), xml('w', attrs));
    // A message longer than the canonical model carries (64 Ki characters).
    const long = chat(alanJid, 'é'.repeat(LIMITS.text + 1));
    // Erin writes to alan meanwhile.
    const [deepReply, wideReply, longReply] = await Promise.all([
      refused(tooDeep),
      refused(wide),
      refused(long),
      erin.send(chat(alanJid, 'erin, in the middle of it all')),
    ]);
    expect(deepReply.condition).toBe('policy-violation');
    expect(wideReply.condition).toBe('policy-violation');
    expect(longReply.condition).toBe('not-acceptable');
    expect(await alan.nextIm(parseAddress('erin@localhost'))).toBe('erin, in the middle of it all');

    // Nothing of dave's refused stanzas reached alan; dave's next message does, and alan answers.
    await dave.send(chat(alanJid, 'still here: ça marche'));
    expect(await alan.nextIm(parseAddress('dave@localhost'))).toBe('still here: ça marche');
    await alan.sendIm(parseAddress('dave@localhost'), 'and back ✓');
    const back = await dave.receive((el) => el.name === 'message' && isFrom(alanJid)(el), 'alan answers');
    expect(back.getChildText('body')).toBe('and back ✓');
    await erin.stop();
  });

  it("the node's own address is reachable too: /plugins answers as crosstalk%crosstalk@crosstalk.localhost", async () => {
    const system = `crosstalk%crosstalk@${DOMAIN}`;
    await dave.send(chat(system, '/plugins'));
    const answer = await dave.receive((el) => el.name === 'message' && isFrom(system)(el), 'the answer');
    expect(answer.attrs.type).not.toBe('error');
    expect(answer.getChildText('body')).toBe('This gateway has no plugins.');
  });

  it('the server requires TLS: a client that does not negotiate it cannot log in', async () => {
    const plain = ScriptedXmppClient.login({
      host: '127.0.0.1',
      port: prosody.c2sPort,
      domain: 'localhost',
      user: 'dave',
      password: 'dave-pw',
      timeoutMs: 5000,
    });
    // RFC 6120 §6.4.5: SASL without TLS is refused with `encryption-required`.
    await expect(plain).rejects.toThrow(/encryption-required/);
  });

  it('only users of the configured user domains: another virtual host and another component are forbidden', async () => {
    // A real user of the same server, on a virtual host the component does not serve.
    const mallory = localUser('mallory', 'guests.localhost');
    await mallory.start();
    expect(mallory.encrypted()).toBe(true);
    await mallory.send(
      xml('message', { to: alanJid, type: 'chat', id: 'm-guest' }, xml('body', {}, 'hi alan')),
    );
    const reply = await mallory.receive((el) => el.attrs.id === 'm-guest', 'an error');
    expect(reply.attrs.type).toBe('error');
    expect(errorCondition(reply)).toBe('forbidden');
    expect(crosstalk.users().map(addressKey)).not.toContain('mallory@guests.localhost');
    expect(
      componentEvents.some(
        (e) =>
          e.type === 'refused' && e.error instanceof SenderNotAllowedError && e.from?.startsWith('mallory@'),
      ),
    ).toBe(true);

    // Another component of the same server writing as one of its own users.
    const evil = xmppComponent({
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: 'evil.localhost',
      password: evilSecret,
    });
    evil.on('error', () => {});
    const evilReceived: Element[] = [];
    evil.on('stanza', (el) => evilReceived.push(el));
    started.push({ stop: () => evil.stop() });
    await evil.start();
    await evil.send(
      xml(
        'message',
        { from: 'mallory@evil.localhost', to: alanJid, type: 'chat', id: 'm-evil' },
        xml('body', {}, 'hi'),
      ),
    );
    await until(
      () => evilReceived.some((el) => el.attrs.id === 'm-evil'),
      'an error for the other component',
    );
    const evilReply = evilReceived.find((el) => el.attrs.id === 'm-evil')!;
    expect(evilReply.attrs.type).toBe('error');
    expect(errorCondition(evilReply)).toBe('forbidden');
  });

  it('the component stream needs the secret: a wrong one is refused (ComponentAuthError)', async () => {
    const attempt = startXmppComponent({
      node,
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: DOMAIN,
      secret: 'not-the-secret',
      userDomains: ['localhost'],
    });
    await expect(attempt).rejects.toBeInstanceOf(ComponentAuthError);
    // The real component was not disturbed: dave still reaches alan.
    await dave.send(chat(alanJid, 'after the impostor'));
    expect(await alan.nextIm(parseAddress('dave@localhost'))).toBe('after the impostor');
  });
});
