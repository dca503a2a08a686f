import { addressToPassport, MSN_NETWORK, type MsnpFrame, MsnpTranslator } from '@crosstalk/codec-msnp';
import {
  type ClientConnection,
  type MockMsnpServer,
  passportOverHttp,
  ringOf,
  type ScriptedConversation,
  ScriptedMsnpClient,
  startMockMsnpServer,
} from '@crosstalk/codec-msnp/testing';
import { type Address, type CanonicalEvent, formatAddress } from '@crosstalk/core';
import type { ConnectUser, Dial, NetworkUser, StartNetwork } from './driver.js';
import { EventDriver } from './events.js';
import { type DriverFixture, networkFixture } from './fixture.js';

/** MSN users on the codec's mock server (notification + switchboard), driven by its scripted client. */
export interface MsnpNetworkFixture extends DriverFixture<MsnpUserDriver> {
  /** The mock server: what each connection received and sent, users' server-side lists. */
  readonly mock: MockMsnpServer;
}

export interface MsnpNetworkOptions {
  /** The protocol version the scripted clients speak (8-12, TWN logins). Default 12. */
  dialect?: number;
  /** How long a scripted client waits for any one reply, ms. Default 10 000. */
  timeout?: number;
}

/** MSN network factory for a chosen protocol version. */
export function msnpNetwork(
  options: MsnpNetworkOptions = {},
): (users: readonly NetworkUser[]) => Promise<MsnpNetworkFixture> {
  return async (users) => {
    // Users start with empty lists on the server: buddies come from the script (and the gateway).
    const mock = await startMockMsnpServer({
      users: users.map((u) => ({ email: passportOf(u.name), password: u.password })),
    });
    const key = (name: string) => passportOf(name).toLowerCase();
    const native = new Set(users.map((u) => key(u.name)));
    const fixture = networkFixture({
      protocol: 'msnp',
      network: MSN_NETWORK,
      server: { host: mock.host, port: mock.port },
      users,
      key,
      address: (name) => ({ user: passportOf(name), network: MSN_NETWORK }),
      driver: ({ name, password, server, dial }) =>
        new MsnpUserDriver({
          server,
          user: { name: passportOf(name), password },
          dial,
          native,
          ...options,
        }),
      close: () => mock.close(),
    });
    return { ...fixture, mock };
  };
}

/** MSN users are passports (e-mail addresses); a bare name `amy` is taken as `amy@hotmail.com`. */
function passportOf(name: string): string {
  return name.includes('@') ? name : `${name}@hotmail.com`;
}

/** MSN users (MSNP12) for the demo and the end-to-end tests. */
export const startMsnpNetwork: StartNetwork = msnpNetwork();

/**
 * An MSN user (MSNP12) of a mock server in another process (the benchmark's load generator): the
 * Passport ticket comes over the wire from the mock's Passport stand-in, and the client keeps no
 * byte record and only the frames its own waits may still want.
 */
export const connectMsnpUser: ConnectUser = (server, user, dial) =>
  new MsnpUserDriver({
    server,
    user: { name: passportOf(user.name), password: user.password },
    dial,
    lean: true,
  });

/** What a long-running client need not keep: what the driver's observer consumes as it arrives. */
const CONSUMED = new Set(['MSG', 'NLN', 'ILN', 'FLN', 'UBX', 'RNG', 'BYE', 'ACK', 'NAK', 'QNG']);
const retainLean = (frame: MsnpFrame) =>
  !(
    frame.type === 'command' &&
    (CONSUMED.has(frame.verb) || ((frame.verb === 'ADC' || frame.verb === 'ADD') && frame.trid === 0))
  );

/** The name a user has inside MSN (`bob@yahoo`, `carol@hotmail.com`), for comparing what a client sees. */
const nativeName = (a: Address) => addressToPassport(a).toLowerCase();

/**
 * How long MSN Messenger shows "is typing" after the last typing notice: MSN has no "stopped
 * typing" message (a typing client repeats its notice every few seconds), so the indicator goes
 * out on its own, or when a message from that buddy arrives. The driver reports that as `paused`.
 */
const TYPING_SHOWN_MS = 6000;

export interface MsnpUserOptions {
  /** The notification server (which also answers Passport requests). */
  server: { host: string; port: number };
  /** The passport and password. */
  user: NetworkUser;
  dial: Dial;
  /** The passports of the network's users, when known (tells `dave@example.org` from a passport). */
  native?: ReadonlySet<string>;
  /** Protocol version (8-12). Default 12. */
  dialect?: number;
  /** How long the client waits for any one reply, ms. Default 10 000. */
  timeout?: number;
  /** Keep no bytes and no consumed frames (long runs: the benchmark). */
  lean?: boolean;
}

/**
 * One MSN user: the codec's scripted client, with every connection (notification server,
 * switchboards, the virtual switchboards the gateway rings it into) opened through `dial`. What the
 * server sends is translated by the codec's translator into canonical events kept in an inbox. The
 * client behaves as MSN Messenger does: it answers every ring, adds whom it accepts to its list,
 * and reads a reverse-list notice from someone it asked as their acceptance.
 */
export class MsnpUserDriver extends EventDriver {
  readonly address: Address;
  /** Presence is state: what a user said before is outdated once a wait returned a newer one. */
  protected override readonly presenceIsState = true;
  readonly #o: MsnpUserOptions;
  /** Foreign users the script named (by their MSN name): how `dave@example.org` is told from a passport. */
  readonly #foreign = new Set<string>();
  readonly #translators = new WeakMap<ClientConnection, MsnpTranslator>();
  readonly #conversations = new Map<string, Promise<ScriptedConversation>>();
  readonly #answering = new Set<Promise<unknown>>();
  readonly #problems: string[] = [];
  readonly #typing = new Map<string, NodeJS.Timeout>();
  #client: ScriptedMsnpClient | undefined;
  /** Every client this driver logged in with, oldest first (their connections keep their bytes); none when lean. */
  readonly clients: ScriptedMsnpClient[] = [];

  constructor(options: MsnpUserOptions) {
    super();
    this.#o = options;
    this.address = { user: options.user.name, network: MSN_NETWORK };
  }

  /** Remembers a foreign user the script named, so their MSN name maps back to them. */
  #named(a: Address): Address {
    if (a.network !== MSN_NETWORK) this.#foreign.add(nativeName(a));
    return a;
  }

  /** Every user a wait is for is one the script named. */
  protected override awaiting(from: Address): void {
    this.#named(from);
  }

  /** Users compared by the name they have inside MSN (what the client sees). */
  protected override same(a: Address, b: Address): boolean {
    return nativeName(a) === nativeName(b);
  }

  /** Rings that could not be answered. */
  protected override problems(): readonly string[] {
    return this.#problems;
  }

  get #ns(): ScriptedMsnpClient {
    if (!this.#client) throw new Error(`${formatAddress(this.address)} is not logged in`);
    return this.#client;
  }

  async login(): Promise<void> {
    const { server, user, dial, lean } = this.#o;
    const client = new ScriptedMsnpClient({
      host: server.host,
      port: server.port,
      email: user.name,
      password: user.password,
      dialect: this.#o.dialect ?? 12,
      // The Passport stand-in on the mock's own port, reached like everything else through `dial`.
      passport: passportOverHttp(server, dial),
      dial,
      onFrame: (frame, connection) => this.#onFrame(frame, connection),
      timeout: this.#o.timeout ?? 10_000,
      ...(lean ? { retain: retainLean, record: false } : {}),
    });
    this.#client = client;
    if (!lean) this.clients.push(client);
    this.#conversations.clear();
    await client.login();
    await client.sync();
    await client.setStatus('NLN');
  }

  async logout(): Promise<void> {
    await Promise.allSettled([...this.#answering]);
    await this.#client?.logout();
    this.#client = undefined;
    this.#conversations.clear();
    this.#forgetTyping();
  }

  async disconnect(): Promise<void> {
    this.#client?.disconnect();
    this.#client = undefined;
    this.#conversations.clear();
    this.#forgetTyping();
  }

  // ------------------------------------------------------------------ buddies

  async addBuddy(buddy: Address, _message?: string): Promise<void> {
    // MSN has no request message. "Add a contact" puts them on FL (the request) and AL (allowed).
    const passport = addressToPassport(this.#named(buddy));
    await this.#listAdd(passport, 'FL');
    await this.#listAdd(passport, 'AL');
  }

  async answerBuddyRequest(from: Address, accept: boolean): Promise<void> {
    const passport = addressToPassport(this.#named(from));
    if (!accept) {
      await this.#listAdd(passport, 'BL');
      return;
    }
    // Allow them, and (as MSN Messenger offers) add them to the own list unless they are on it.
    await this.#listAdd(passport, 'AL');
    if (!this.#onList(passport, 1)) await this.#listAdd(passport, 'FL');
  }

  override async nextBuddyResponse(from: Address, timeoutMs?: number): Promise<{ accepted: boolean }> {
    // MSNP up to 12 has no answer to a request: a contact one asked who adds the user back (the
    // reverse-list notice) has accepted. A refusal shows nothing at all.
    const asked = () => this.#onList(addressToPassport(from), 1);
    const got = await this.nextEvent(['buddy-response', 'buddy-request'], from, timeoutMs, asked);
    return { accepted: got.kind === 'buddy-response' ? got.accepted : true };
  }

  buddies(): Address[] {
    const client = this.#client;
    if (!client) return [];
    const names = this.#translator(client.notification);
    return [...client.contacts.values()].filter((c) => c.lists & 1).map((c) => names.address(c.email));
  }

  #onList(passport: string, bit: number): boolean {
    return ((this.#client?.contacts.get(passport.toLowerCase())?.lists ?? 0) & bit) !== 0;
  }

  async #listAdd(passport: string, list: 'FL' | 'AL' | 'BL'): Promise<void> {
    const reply = await this.#ns.addContact(passport, list, passport);
    // 215: already on that list, which is what was wanted.
    if (reply.type === 'error' && reply.code !== 215)
      throw new Error(`MSN ${list} add of ${passport} failed with error ${reply.code}`);
  }

  // ------------------------------------------------------------------ messages

  async sendIm(to: Address, text: string): Promise<void> {
    const conversation = await this.#conversation(this.#named(to));
    const answer = await conversation.sendMessage(text, { ack: 'A' });
    if (answer !== 'ACK')
      throw new Error(`MSN message to ${formatAddress(to)} was not delivered (${answer})`);
  }

  async sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void> {
    // MSN only says "typing now"; stopping is saying nothing more.
    if (state === 'composing') (await this.#conversation(this.#named(to))).sendTyping();
  }

  /** The open conversation with `buddy` (one it rang us into, or one we open: XFR SB, USR, CAL). */
  #conversation(buddy: Address): Promise<ScriptedConversation> {
    const known = this.#conversations.get(nativeName(buddy));
    if (known) {
      return known.then(
        (c) => (c.connection.closed ? this.#open(buddy) : c),
        () => this.#open(buddy),
      );
    }
    return this.#open(buddy);
  }

  #open(buddy: Address): Promise<ScriptedConversation> {
    const opening = this.#ns.openConversation(addressToPassport(buddy));
    this.#conversations.set(nativeName(buddy), opening);
    return opening;
  }

  // ------------------------------------------------------------------ presence

  async setPresence(status: 'online' | 'away', text?: string): Promise<void> {
    await this.#ns.setStatus(status === 'away' ? 'AWY' : 'NLN');
    if (text !== undefined && this.#ns.dialect >= 11) await this.#ns.setPersonalMessage(text);
  }

  // ------------------------------------------------------------------ what the server sends

  #translator(connection: ClientConnection): MsnpTranslator {
    let translator = this.#translators.get(connection);
    if (!translator) {
      translator = new MsnpTranslator({
        self: this.address,
        dialect: this.#o.dialect ?? 12,
        // `bob@yahoo` is a foreign buddy; `dave@example.org` is one only when the script named them
        // as one, or (in a fixture that knows its users) when no MSN user has that passport.
        isForeign: (a) => a.network !== MSN_NETWORK,
        knownForeign: (a) => {
          const name = nativeName(a);
          return this.#foreign.has(name) || (this.#o.native !== undefined && !this.#o.native.has(name));
        },
      });
      this.#translators.set(connection, translator);
    }
    return translator;
  }

  #onFrame(frame: MsnpFrame, connection: ClientConnection): void {
    if (frame.type === 'command' && frame.verb === 'RNG') {
      this.#answer(frame);
      return;
    }
    for (const event of this.#translator(connection).toEvents(frame, 'server')) {
      if (event.kind === 'im' || event.kind === 'typing') this.#typingShown(event);
      if (event.kind !== 'roster') this.received(event);
    }
  }

  /** Keeps the "is typing" indicator: on with a typing notice, off after a while or with a message. */
  #typingShown(event: CanonicalEvent & { kind: 'im' | 'typing' }): void {
    const key = nativeName(event.from);
    const shown = this.#typing.get(key);
    clearTimeout(shown);
    this.#typing.delete(key);
    const off: CanonicalEvent = { kind: 'typing', from: event.from, to: this.address, state: 'paused' };
    if (event.kind === 'im') {
      if (shown) this.received(off);
      return;
    }
    const timer = setTimeout(() => {
      this.#typing.delete(key);
      this.received(off);
    }, TYPING_SHOWN_MS);
    timer.unref();
    this.#typing.set(key, timer);
  }

  #forgetTyping(): void {
    for (const timer of this.#typing.values()) clearTimeout(timer);
    this.#typing.clear();
  }

  /** A ring (someone opened a conversation with the user): answered at once, as a client does. */
  #answer(rng: MsnpFrame & { type: 'command' }): void {
    const client = this.#client!;
    const ring = ringOf(rng);
    const caller = this.#translator(client.notification).address(ring.caller);
    const answered = client.answer(ring);
    this.#conversations.set(nativeName(caller), answered);
    this.#answering.add(answered);
    answered
      .catch((error: unknown) =>
        this.#problems.push(`answering a ring from ${ring.caller}: ${String(error)}`),
      )
      .finally(() => this.#answering.delete(answered));
  }
}
