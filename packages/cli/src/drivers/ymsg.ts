import { YmsgKey, YmsgService } from '@crosstalk/codec-ymsg';
import { ScriptedYmsgClient, startMockYmsgServer } from '@crosstalk/codec-ymsg/testing';
import { type Address, addressToNative, formatAddress } from '@crosstalk/core';
import type { ConnectUser, StartNetwork } from './driver.js';
import { EventDriver } from './events.js';
import { type Account, connector, networkFixture } from './fixture.js';

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

const native = (a: Address) => addressToNative(a, [NETWORK]);

/**
 * Yahoo users on a mock YMSG server (`startMockYmsgServer`), each driven by a `ScriptedYmsgClient`
 * whose every connection goes through `dial`. Users start with empty buddy lists.
 */
export const startYmsgNetwork: StartNetwork = async (users) => {
  const mock = await startMockYmsgServer({
    users: users.map((u) => ({ id: u.name, password: u.password })),
  });
  return networkFixture({
    protocol: 'ymsg',
    network: NETWORK,
    server: { host: mock.host, port: mock.port },
    users,
    key: (name) => name.toLowerCase(),
    address: (name) => ({ user: name, network: NETWORK }),
    driver: (account) => new YmsgUserDriver(account),
    close: () => mock.close(),
  });
};

/** A driver for a Yahoo user of a YMSG server that runs elsewhere (e.g. the benchmark's server process). */
export const connectYmsgUser: ConnectUser = connector((account) => new YmsgUserDriver(account));

class YmsgUserDriver extends EventDriver {
  readonly address: Address;
  readonly #account: Account;
  #client: ScriptedYmsgClient | undefined;

  constructor(account: Account) {
    super();
    this.#account = account;
    this.address = { user: account.name, network: NETWORK };
  }

  get #c(): ScriptedYmsgClient {
    if (!this.#client || this.#client.closed)
      throw new Error(`${formatAddress(this.address)} is not logged in`);
    return this.#client;
  }

  async login(): Promise<void> {
    await this.disconnect();
    const { name, password, server, dial } = this.#account;
    const client = await ScriptedYmsgClient.connect({
      ...server,
      id: name,
      password,
      version: HEADER_VERSION,
      dial,
      isForeign: (a) => a.network !== NETWORK,
      timeoutMs: 10_000,
      maxHistory: HISTORY,
    });
    this.#client = client;
    client.onEvent((e) => this.received(e));
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

  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    if (accept) {
      // Adding the requester back accepts (Escargot, YMSG10) and puts them on this user's list too.
      this.#c.addBuddy(native(from), GROUP);
      await this.#added(native(from));
    } else {
      this.#c.answerBuddy(native(from), false);
    }
  }

  buddies(): Address[] {
    return this.#client?.buddies ?? [];
  }

  async sendIm(to: Address, text: string): Promise<void> {
    this.#c.sendMessage(native(to), text);
  }

  async sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void> {
    this.#c.sendTyping(native(to), state === 'composing');
  }

  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    if (status === 'away') this.#c.setAway(text ?? 'Away');
    else this.#c.setBack(text);
  }
}
