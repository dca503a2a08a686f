import { addressToScreenName, IcqStatus, screenNameToAddress } from '@crosstalk/codec-oscar';
import {
  type MockOscarServer,
  ScriptedOscarClient,
  startMockOscarServer,
} from '@crosstalk/codec-oscar/testing';
import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type PresenceStatus,
  type TypingState,
} from '@crosstalk/core';
import type { ConnectUser, Dial, NetworkFixture, NetworkUser, UserDriver } from './driver.js';
import { Inbox } from './inbox.js';

/** AIM screen names; a screen name of 5 to 10 digits is an ICQ UIN (network `icq`). */
const NETWORK = 'aol';
/** Frames and events a client keeps for its waits (bounded, so long benchmark runs do not grow). */
const HISTORY = 1000;

const own = (a: Address) => a.network === 'aol' || a.network === 'icq';
/** Every other network a screen name such as `bob@yahoo` or `dave@localhost` can name is foreign. */
const isForeign = (a: Address) => !own(a);
const addressOf = (screenName: string) => screenNameToAddress(screenName, isForeign);
const same = (a: Address, b: Address) => addressKey(a) === addressKey(b);
/** Authorization reasons are byte strings on the wire: UTF-8, one char per byte. */
const byteString = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** The OSCAR fixture, with its mock server (what it received on each connection, for tests). */
export interface OscarNetworkFixture extends NetworkFixture {
  readonly mock: MockOscarServer;
}

/**
 * AIM and ICQ users on a mock OSCAR server (`startMockOscarServer`), each driven by a
 * `ScriptedOscarClient` whose auth and BOS connections both go through `dial`. Users start with
 * empty buddy lists.
 */
export const startOscarNetwork = async (users: readonly NetworkUser[]): Promise<OscarNetworkFixture> => {
  const server = await startMockOscarServer({
    users: users.map((u) => ({ screenName: u.name, password: u.password })),
  });
  const passwords = new Map(users.map((u) => [u.name.replace(/ /g, '').toLowerCase(), u.password]));
  const drivers = new Set<OscarUserDriver>();
  const fixture: OscarNetworkFixture = {
    mock: server,
    protocol: 'oscar',
    network: NETWORK,
    server: { host: server.host, port: server.port },
    address: (name) => screenNameToAddress(name, () => false),
    driver(name, dial) {
      const password = passwords.get(name.replace(/ /g, '').toLowerCase());
      if (password === undefined) throw new Error(`no OSCAR user ${name} on this mock server`);
      const d = new OscarUserDriver(name, password, fixture.server, dial);
      drivers.add(d);
      return d;
    },
    async stop() {
      await Promise.all([...drivers].map((d) => d.disconnect()));
      await server.close();
    },
  };
  return fixture;
};

/** A driver for an AIM/ICQ user of an OSCAR server that runs elsewhere (the benchmark's server process). */
export const connectOscarUser: ConnectUser = (server, user, dial) =>
  new OscarUserDriver(user.name, user.password, { host: server.host, port: server.port }, dial);

class OscarUserDriver implements UserDriver {
  readonly address: Address;
  readonly #inbox = new Inbox<CanonicalEvent>();
  #client: ScriptedOscarClient | undefined;
  #onIm: ((from: Address, text: string) => void) | undefined;

  constructor(
    readonly name: string,
    readonly password: string,
    readonly server: { host: string; port: number },
    readonly dial: Dial,
  ) {
    this.address = screenNameToAddress(name, () => false);
  }

  get #c(): ScriptedOscarClient {
    if (!this.#client || this.#client.bos.isClosed) throw new Error(`${this.#who} is not logged in`);
    return this.#client;
  }

  get #who(): string {
    return addressKey(this.address);
  }

  async login(): Promise<void> {
    await this.disconnect();
    this.#client = await ScriptedOscarClient.login({
      ...this.server,
      screenName: this.name,
      password: this.password,
      dial: this.dial,
      isForeign,
      maxHistory: HISTORY,
      onEvent: (e) => {
        if (e.kind === 'im' && this.#onIm) this.#onIm(e.from, e.text);
        else this.#inbox.push(e);
      },
    });
  }

  async logout(): Promise<void> {
    await this.#c.close(); // FLAP sign-off; the server closes the connection
  }

  async disconnect(): Promise<void> {
    const client = this.#client;
    if (!client || client.bos.isClosed) return;
    client.bos.destroy();
    await client.bos.closed;
  }

  /** Adds `screenName` to the server-stored list (feedbag insert), unless it is there already. */
  async #add(screenName: string): Promise<void> {
    const key = addressKey(addressOf(screenName));
    if (this.buddies().some((b) => addressKey(b) === key)) return;
    await this.#c.addBuddy(screenName);
  }

  async addBuddy(buddy: Address, message?: string): Promise<void> {
    // As AIM 6 and ICQ clients do: ask for authorization, and list the buddy.
    const screenName = addressToScreenName(buddy);
    this.#c.requestAuthorization(screenName, byteString(message ?? ''));
    await this.#add(screenName);
  }

  async nextBuddyRequest(from: Address, timeoutMs?: number): Promise<{ message?: string }> {
    const e = await this.#next('buddy-request', from, timeoutMs);
    return e.kind === 'buddy-request' && e.message !== undefined ? { message: e.message } : {};
  }

  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    const screenName = addressToScreenName(from);
    this.#c.respondAuthorization(screenName, accept);
    // OSCAR's authorization is one way: to see the requester, the client lists them too.
    if (accept) await this.#add(screenName);
  }

  async nextBuddyResponse(from: Address, timeoutMs?: number): Promise<{ accepted: boolean }> {
    const e = await this.#next('buddy-response', from, timeoutMs);
    return { accepted: e.kind === 'buddy-response' && e.accepted };
  }

  buddies(): Address[] {
    const seen = new Map<string, Address>();
    for (const b of this.#client?.feedbag.buddies() ?? []) {
      const a = addressOf(b.name);
      seen.set(addressKey(a), a);
    }
    return [...seen.values()];
  }

  async sendIm(to: Address, text: string): Promise<void> {
    const c = this.#c;
    // Resolves on the host ack (the server's, or the gateway's for a foreign buddy).
    await c.waitForAck(c.sendIm(addressToScreenName(to), text));
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
    this.#c.sendTyping(addressToScreenName(to), state === 'composing' ? 'typing' : 'paused');
  }

  async nextTyping(from: Address, timeoutMs?: number): Promise<TypingState> {
    const e = await this.#next('typing', from, timeoutMs);
    return e.kind === 'typing' ? e.state : 'paused';
  }

  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    if (this.address.network === 'icq')
      this.#c.setIcqStatus(status === 'away' ? IcqStatus.away : IcqStatus.online);
    else this.#c.setAway(status === 'away' ? (text ?? 'Away') : undefined);
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
}
