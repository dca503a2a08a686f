import {
  addressToJid,
  element,
  getAttr,
  jidToAddress,
  localName,
  NS,
  type XmlElement,
  XmppTranslator,
} from '@crosstalk/codec-xmpp';
import { ScriptedXmppClient, startProsody } from '@crosstalk/codec-xmpp/testing';
import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type PresenceStatus,
  type TypingState,
} from '@crosstalk/core';
import type { ConnectUser, Dial, NetworkFixture, StartNetwork, UserDriver } from './driver.js';
import { Inbox } from './inbox.js';

/** The resource every scripted user binds (fixed, so two runs of one script write the same bytes). */
const RESOURCE = 'crosstalk';

const same = (a: Address, b: Address) => addressKey(a) === addressKey(b);

/**
 * XMPP users on a real prosody (`startProsody`: c2s on a free loopback port, SASL PLAIN allowed
 * without TLS, fresh accounts with empty rosters), each driven by a `ScriptedXmppClient` whose one
 * connection goes through `dial`. The network id is prosody's domain, `localhost`: a user's address
 * is `alice@localhost`.
 */
export const startXmppNetwork: StartNetwork = async (users) => {
  const prosody = await startProsody({ users: users.map((u) => ({ user: u.name, password: u.password })) });
  const passwords = new Map(users.map((u) => [u.name, u.password]));
  const drivers = new Set<XmppUserDriver>();
  const fixture: NetworkFixture = {
    protocol: 'xmpp',
    network: prosody.domain,
    server: { host: prosody.host, port: prosody.port },
    address: (name) => ({ user: name, network: prosody.domain }),
    driver(name, dial) {
      const password = passwords.get(name);
      if (password === undefined) throw new Error(`no XMPP user ${name} on this prosody`);
      const d = new XmppUserDriver(name, password, prosody.domain, fixture.server, dial);
      drivers.add(d);
      return d;
    },
    async stop() {
      await Promise.all([...drivers].map((d) => d.disconnect()));
      await prosody.stop();
    },
  };
  return fixture;
};

/** A driver for a user of an XMPP server running elsewhere (`server.network` is its domain). */
export const connectXmppUser: ConnectUser = (server, user, dial) =>
  new XmppUserDriver(
    user.name,
    user.password,
    server.network,
    { host: server.host, port: server.port },
    dial,
  );

class XmppUserDriver implements UserDriver {
  readonly address: Address;
  readonly #inbox = new Inbox<CanonicalEvent>();
  /** The roster as the client shows it: bare JID -> address, from the roster result and pushes. */
  readonly #roster = new Map<string, Address>();
  #client: ScriptedXmppClient | undefined;
  #onIm: ((from: Address, text: string) => void) | undefined;

  constructor(
    readonly name: string,
    readonly password: string,
    readonly domain: string,
    readonly server: { host: string; port: number },
    readonly dial: Dial,
  ) {
    this.address = { user: name, network: domain };
  }

  get #c(): ScriptedXmppClient {
    if (!this.#client) throw new Error(`${this.name}@${this.domain} is not logged in`);
    return this.#client;
  }

  get #who(): string {
    return `${this.name}@${this.domain}`;
  }

  /** Logs in as a client does: SASL PLAIN, bind, roster get, initial presence (RFC 6121 §2.2, §4.2). */
  async login(): Promise<void> {
    await this.disconnect();
    const client = await ScriptedXmppClient.login({
      ...this.server,
      domain: this.domain,
      user: this.name,
      password: this.password,
      resource: RESOURCE,
      dial: this.dial,
    });
    this.#client = client;
    const translator = new XmppTranslator();
    translator.bind(client.jid!);
    // What arrived during the login (the gateway may deliver as soon as the bind is confirmed),
    // then everything after it: no gap, this runs in one turn.
    const take = (el: XmlElement) => this.#onStanza(client, translator, el);
    for (const el of client.received) take(el);
    client.onStanza(take);
    this.#roster.clear();
    for (const item of await client.getRoster()) this.#setItem(item.jid, item.subscription);
    client.sendPresence();
  }

  async logout(): Promise<void> {
    const client = this.#c;
    client.sendPresence({ type: 'unavailable' });
    this.#client = undefined;
    await client.close();
  }

  async disconnect(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    client.destroy();
    await client.close();
  }

  /** A roster set (the buddy list entry), then a subscription request (RFC 6121 §2.3, §3.1.1). */
  async addBuddy(buddy: Address, message?: string): Promise<void> {
    await this.#rosterSet(buddy);
    this.#c.subscribe(addressToJid(buddy), message);
  }

  async nextBuddyRequest(from: Address, timeoutMs?: number): Promise<{ message?: string }> {
    const e = await this.#next('buddy-request', from, timeoutMs);
    return e.kind === 'buddy-request' && e.message !== undefined ? { message: e.message } : {};
  }

  /**
   * `subscribed` or `unsubscribed` (RFC 6121 §3.1.4). The server puts an approved requester on the
   * list itself (a roster push; for a foreign requester the gateway's session pushes it, recorded
   * as mutual), so no request back is needed.
   */
  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    this.#c.answer(addressToJid(from), accept);
  }

  async nextBuddyResponse(from: Address, timeoutMs?: number): Promise<{ accepted: boolean }> {
    const e = await this.#next('buddy-response', from, timeoutMs);
    return { accepted: e.kind === 'buddy-response' && e.accepted };
  }

  buddies(): Address[] {
    return [...this.#roster.values()];
  }

  async sendIm(to: Address, text: string): Promise<void> {
    this.#c.sendMessage(addressToJid(to), text);
  }

  onIm(listener: (from: Address, text: string) => void): () => void {
    this.#onIm = listener;
    return () => {
      if (this.#onIm === listener) this.#onIm = undefined;
    };
  }

  async nextIm(from: Address, timeoutMs?: number): Promise<string> {
    const e = await this.#next('im', from, timeoutMs);
    return e.kind === 'im' ? e.text : '';
  }

  async sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void> {
    this.#c.sendChatState(addressToJid(to), state);
  }

  async nextTyping(from: Address, timeoutMs?: number): Promise<TypingState> {
    const e = await this.#next('typing', from, timeoutMs);
    return e.kind === 'typing' ? e.state : 'paused';
  }

  /** A presence broadcast: `<show>away</show>` or none (RFC 6121 §4.7.2.1). */
  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    this.#c.sendPresence({
      ...(status === 'away' ? { show: 'away' } : {}),
      ...(text !== undefined ? { status: text } : {}),
    });
  }

  async nextPresence(from: Address, status?: PresenceStatus, timeoutMs?: number): Promise<PresenceStatus> {
    const e = await this.#inbox.next(
      (x) => x.kind === 'presence' && same(x.from, from) && (status === undefined || x.status === status),
      timeoutMs,
      `${this.#who}: presence${status ? ` ${status}` : ''} of ${addressKey(from)}`,
    );
    return e.kind === 'presence' ? e.status : 'offline';
  }

  #next(kind: CanonicalEvent['kind'], from: Address, timeoutMs?: number): Promise<CanonicalEvent> {
    return this.#inbox.next(
      (x) => x.kind === kind && 'from' in x && same(x.from, from),
      timeoutMs,
      `${this.#who}: ${kind} from ${addressKey(from)}`,
    );
  }

  async #rosterSet(buddy: Address): Promise<void> {
    const item = element('item', { jid: addressToJid(buddy) });
    const result = await this.#c.iq(
      element('iq', { type: 'set' }, [element('query', { xmlns: NS.roster }, [item])]),
    );
    if (getAttr(result, 'type') !== 'result') throw new Error(`${this.#who}: roster set refused`);
  }

  #setItem(jid: string, subscription: string | undefined): void {
    if (subscription === 'remove') {
      this.#roster.delete(jid);
      return;
    }
    const address = jidToAddress(jid);
    if (address) this.#roster.set(jid, address);
  }

  /** Canonical events into the inbox; roster pushes applied and acknowledged (RFC 6121 §2.1.6). */
  #onStanza(client: ScriptedXmppClient, translator: XmppTranslator, el: XmlElement): void {
    for (const event of translator.read(el, 'server')) {
      if (event.kind === 'im' && this.#onIm) this.#onIm(event.from, event.text);
      else this.#inbox.push(event);
    }
    if (localName(el.name) !== 'iq' || getAttr(el, 'type') !== 'set') return;
    const query = rosterQuery(el);
    if (!query) return;
    for (const item of children(query, 'item')) {
      const jid = getAttr(item, 'jid');
      if (jid !== undefined) this.#setItem(jid, getAttr(item, 'subscription'));
    }
    if (client === this.#client) client.send(element('iq', { type: 'result', id: getAttr(el, 'id') }));
  }
}

function children(el: XmlElement, local: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.type === 'element' && localName(c.name) === local);
}

function rosterQuery(iq: XmlElement): XmlElement | undefined {
  return children(iq, 'query').find((q) => getAttr(q, 'xmlns') === NS.roster);
}
