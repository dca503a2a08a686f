import { YmsgKey, YmsgService } from '@crosstalk/codec-ymsg';
import { ScriptedYmsgClient, startMockYmsgServer } from '@crosstalk/codec-ymsg/testing';
import {
  type Address,
  addressKey,
  addressToNative,
  type CanonicalEvent,
  type PresenceStatus,
  type TypingState,
} from '@crosstalk/core';
import type { ConnectUser, Dial, NetworkFixture, StartNetwork, UserDriver } from './driver.js';
import { Inbox } from './inbox.js';

const NETWORK = 'yahoo';

/**
 * The header version the scripted clients write: 16 (YMSG16, libpurple's `YAHOO_PROTO_VER`). The
 * mock server and the proxy session then speak the YMSG13+ dialect to them, which has an
 * "accepted" notice (AUTH_REQ_15 status 1); YMSG10 has none (a requester only sees the buddy's
 * presence), so a v10 client could not observe a foreign buddy's acceptance. The login itself
 * stays the v1 challenge-response the mock checks.
 */
const HEADER_VERSION = 0x0010;
/** The group buddies are added to, as the scripted client's default. */
const GROUP = 'Friends';
/** Packets and events a client keeps for `waitFor` (bounded, so long benchmark runs do not grow). */
const HISTORY = 1000;

const same = (a: Address, b: Address) => addressKey(a) === addressKey(b);
const native = (a: Address) => addressToNative(a, [NETWORK]);

/**
 * Yahoo users on a mock YMSG server (`startMockYmsgServer`), each driven by a `ScriptedYmsgClient`
 * whose every connection goes through `dial`. Users start with empty buddy lists.
 */
export const startYmsgNetwork: StartNetwork = async (users) => {
  const server = await startMockYmsgServer({
    users: users.map((u) => ({ id: u.name, password: u.password })),
  });
  const passwords = new Map(users.map((u) => [u.name.toLowerCase(), u.password]));
  const drivers = new Set<YmsgUserDriver>();
  const fixture: NetworkFixture = {
    protocol: 'ymsg',
    network: NETWORK,
    server: { host: server.host, port: server.port },
    address: (name) => ({ user: name, network: NETWORK }),
    driver(name, dial) {
      const password = passwords.get(name.toLowerCase());
      if (password === undefined) throw new Error(`no Yahoo user ${name} on this mock server`);
      const d = new YmsgUserDriver(name, password, fixture.server, dial);
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

/** A driver for a Yahoo user of a YMSG server that runs elsewhere (e.g. the benchmark's server process). */
export const connectYmsgUser: ConnectUser = (server, user, dial) =>
  new YmsgUserDriver(user.name, user.password, { host: server.host, port: server.port }, dial);

class YmsgUserDriver implements UserDriver {
  readonly address: Address;
  readonly #inbox = new Inbox<CanonicalEvent>();
  #client: ScriptedYmsgClient | undefined;
  #onIm: ((from: Address, text: string) => void) | undefined;

  constructor(
    readonly name: string,
    readonly password: string,
    readonly server: { host: string; port: number },
    readonly dial: Dial,
  ) {
    this.address = { user: name, network: NETWORK };
  }

  get #c(): ScriptedYmsgClient {
    if (!this.#client || this.#client.closed) throw new Error(`${this.name}@yahoo is not logged in`);
    return this.#client;
  }

  async login(): Promise<void> {
    await this.disconnect();
    const client = await ScriptedYmsgClient.connect({
      ...this.server,
      id: this.name,
      password: this.password,
      version: HEADER_VERSION,
      dial: this.dial,
      isForeign: (a) => a.network !== NETWORK,
      timeoutMs: 10_000,
      maxHistory: HISTORY,
    });
    this.#client = client;
    client.onEvent((e) => {
      if (e.kind === 'im' && this.#onIm) this.#onIm(e.from, e.text);
      else this.#inbox.push(e);
    });
    await client.login();
  }

  async logout(): Promise<void> {
    const client = this.#c;
    client.logoff(); // the server answers by closing the connection
    await client.ended();
  }

  async disconnect(): Promise<void> {
    const client = this.#client;
    if (!client || client.closed) return;
    await client.close();
    await client.ended();
  }

  async #added(buddy: string): Promise<void> {
    await this.#c.waitFor(
      (p) =>
        p.service === YmsgService.ADDBUDDY && p.get(YmsgKey.BUDDY)?.toLowerCase() === buddy.toLowerCase(),
    );
  }

  async addBuddy(buddy: Address, message?: string): Promise<void> {
    this.#c.addBuddy(native(buddy), GROUP, message);
    await this.#added(native(buddy));
  }

  async nextBuddyRequest(from: Address, timeoutMs?: number): Promise<{ message?: string }> {
    const e = await this.#next('buddy-request', from, timeoutMs);
    return e.kind === 'buddy-request' && e.message !== undefined ? { message: e.message } : {};
  }

  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    if (accept) {
      // Adding the requester back accepts (Escargot, YMSG10) and puts them on this user's list too.
      this.#c.addBuddy(native(from), GROUP);
      await this.#added(native(from));
    } else {
      this.#c.answerBuddy(native(from), false);
    }
  }

  async nextBuddyResponse(from: Address, timeoutMs?: number): Promise<{ accepted: boolean }> {
    const e = await this.#next('buddy-response', from, timeoutMs);
    return { accepted: e.kind === 'buddy-response' && e.accepted };
  }

  buddies(): Address[] {
    return this.#client?.buddies ?? [];
  }

  async sendIm(to: Address, text: string): Promise<void> {
    this.#c.sendMessage(native(to), text);
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
    this.#c.sendTyping(native(to), state === 'composing');
  }

  async nextTyping(from: Address, timeoutMs?: number): Promise<TypingState> {
    const e = await this.#next('typing', from, timeoutMs);
    return e.kind === 'typing' ? e.state : 'paused';
  }

  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    if (status === 'away') this.#c.setAway(text ?? 'Away');
    else this.#c.setBack(text);
  }

  async nextPresence(from: Address, status?: PresenceStatus, timeoutMs?: number): Promise<PresenceStatus> {
    const e = await this.#inbox.next(
      (x) => x.kind === 'presence' && same(x.from, from) && (status === undefined || x.status === status),
      timeoutMs,
      `${this.name}@yahoo: presence${status ? ` ${status}` : ''} of ${addressKey(from)}`,
    );
    return e.kind === 'presence' ? e.status : 'offline';
  }

  #next(kind: CanonicalEvent['kind'], from: Address, timeoutMs?: number): Promise<CanonicalEvent> {
    return this.#inbox.next(
      (x) => x.kind === kind && 'from' in x && same(x.from, from),
      timeoutMs,
      `${this.name}@yahoo: ${kind} from ${addressKey(from)}`,
    );
  }
}
