import { addressToScreenName, IcqStatus, screenNameToAddress } from '@crosstalk/codec-oscar';
import {
  type MockOscarServer,
  ScriptedOscarClient,
  startMockOscarServer,
} from '@crosstalk/codec-oscar/testing';
import { type Address, addressKey, formatAddress } from '@crosstalk/core';
import type { ConnectUser, NetworkFixture, NetworkUser } from './driver.js';
import { EventDriver } from './events.js';
import { type Account, connector, networkFixture } from './fixture.js';

/** AIM screen names; a screen name of 5 to 10 digits is an ICQ UIN (network `icq`). */
const NETWORK = 'aol';
/** Frames and events a client keeps for its waits (bounded, so long benchmark runs do not grow). */
const HISTORY = 1000;

const own = (a: Address) => a.network === 'aol' || a.network === 'icq';
/** Every other network a screen name such as `bob@yahoo` or `dave@localhost` can name is foreign. */
const isForeign = (a: Address) => !own(a);
const addressOf = (screenName: string) => screenNameToAddress(screenName, isForeign);
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
  const mock = await startMockOscarServer({
    users: users.map((u) => ({ screenName: u.name, password: u.password })),
  });
  const fixture = networkFixture({
    protocol: 'oscar',
    network: NETWORK,
    server: { host: mock.host, port: mock.port },
    users,
    key: (name) => name.replace(/ /g, '').toLowerCase(),
    address: (name) => screenNameToAddress(name, () => false),
    driver: (account) => new OscarUserDriver(account),
    close: () => mock.close(),
  });
  return { ...fixture, mock };
};

/** A driver for an AIM/ICQ user of an OSCAR server that runs elsewhere (the benchmark's server process). */
export const connectOscarUser: ConnectUser = connector((account) => new OscarUserDriver(account));

class OscarUserDriver extends EventDriver {
  readonly address: Address;
  readonly #account: Account;
  #client: ScriptedOscarClient | undefined;

  constructor(account: Account) {
    super();
    this.#account = account;
    this.address = screenNameToAddress(account.name, () => false);
  }

  get #c(): ScriptedOscarClient {
    if (!this.#client || this.#client.bos.isClosed)
      throw new Error(`${formatAddress(this.address)} is not logged in`);
    return this.#client;
  }

  async login(): Promise<void> {
    await this.disconnect();
    const { name, password, server, dial } = this.#account;
    this.#client = await ScriptedOscarClient.login({
      ...server,
      screenName: name,
      password,
      dial,
      isForeign,
      maxHistory: HISTORY,
      onEvent: (e) => this.received(e),
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

  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    const screenName = addressToScreenName(from);
    this.#c.respondAuthorization(screenName, accept);
    // OSCAR's authorization is one way: to see the requester, the client lists them too.
    if (accept) await this.#add(screenName);
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

  async sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void> {
    this.#c.sendTyping(addressToScreenName(to), state === 'composing' ? 'typing' : 'paused');
  }

  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    if (this.address.network === 'icq')
      this.#c.setIcqStatus(status === 'away' ? IcqStatus.away : IcqStatus.online);
    else this.#c.setAway(status === 'away' ? (text ?? 'Away') : undefined);
  }
}
