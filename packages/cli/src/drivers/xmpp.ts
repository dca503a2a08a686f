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
import { type Address, formatAddress } from '@crosstalk/core';
import type { ConnectUser, StartNetwork } from './driver.js';
import { EventDriver } from './events.js';
import { type Account, connector, networkFixture } from './fixture.js';

/** The resource every scripted user binds (fixed, so two runs of one script write the same bytes). */
const RESOURCE = 'crosstalk';

/**
 * XMPP users on a real prosody (`startProsody`: c2s on a free loopback port, SASL PLAIN allowed
 * without TLS, fresh accounts with empty rosters), each driven by a `ScriptedXmppClient` whose one
 * connection goes through `dial`. The network id is prosody's domain, `localhost`: a user's address
 * is `alice@localhost`.
 */
export const startXmppNetwork: StartNetwork = async (users) => {
  const prosody = await startProsody({ users: users.map((u) => ({ user: u.name, password: u.password })) });
  return networkFixture({
    protocol: 'xmpp',
    network: prosody.domain,
    server: { host: prosody.host, port: prosody.port },
    users,
    key: (name) => name,
    address: (name) => ({ user: name, network: prosody.domain }),
    driver: (account) => new XmppUserDriver(account),
    close: () => prosody.stop(),
  });
};

/** A driver for a user of an XMPP server running elsewhere (`server.network` is its domain). */
export const connectXmppUser: ConnectUser = connector((account) => new XmppUserDriver(account));

class XmppUserDriver extends EventDriver {
  readonly address: Address;
  /** The roster as the client shows it: bare JID -> address, from the roster result and pushes. */
  readonly #roster = new Map<string, Address>();
  readonly #account: Account;
  #client: ScriptedXmppClient | undefined;

  /** `account.network` is the server's domain. */
  constructor(account: Account) {
    super();
    this.#account = account;
    this.address = { user: account.name, network: account.network };
  }

  get #c(): ScriptedXmppClient {
    if (!this.#client) throw new Error(`${this.#who} is not logged in`);
    return this.#client;
  }

  get #who(): string {
    return formatAddress(this.address);
  }

  /** Logs in as a client does: SASL PLAIN, bind, roster get, initial presence (RFC 6121 §2.2, §4.2). */
  async login(): Promise<void> {
    await this.disconnect();
    const { name, password, server, network, dial } = this.#account;
    const client = await ScriptedXmppClient.login({
      ...server,
      domain: network,
      user: name,
      password,
      resource: RESOURCE,
      dial,
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

  /**
   * `subscribed` or `unsubscribed` (RFC 6121 §3.1.4). The server puts an approved requester on the
   * list itself (a roster push; for a foreign requester the gateway's session pushes it, recorded
   * as mutual), so no request back is needed.
   */
  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    this.#c.answer(addressToJid(from), accept);
  }

  buddies(): Address[] {
    return [...this.#roster.values()];
  }

  async sendIm(to: Address, text: string): Promise<void> {
    this.#c.sendMessage(addressToJid(to), text);
  }

  async sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void> {
    this.#c.sendChatState(addressToJid(to), state);
  }

  /** A presence broadcast: `<show>away</show>` or none (RFC 6121 §4.7.2.1). */
  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    this.#c.sendPresence({
      ...(status === 'away' ? { show: 'away' } : {}),
      ...(text !== undefined ? { status: text } : {}),
    });
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
    for (const event of translator.read(el, 'server')) this.received(event);
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
