import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { type Address, addressKey, type CanonicalEvent, type Framer, WaitingInbox } from '@crosstalk/core';
import { createYmsgFramer } from '../framer/framer.js';
import { parseHeader } from '../header/header.js';
import { v1Response } from '../login/challenge.js';
import { decodePacket, encodePacket, type YmsgPacket, type YmsgValue, ymsgPacket } from '../packet/packet.js';
import { YmsgKey as K } from '../protocol/keys.js';
import { YmsgService as S } from '../protocol/services.js';
import { YmsgStatus } from '../protocol/status.js';
import { YmsgTranslator } from '../translator/translator.js';

/** Options of `ScriptedYmsgClient`. */
export interface ScriptedYmsgClientOptions {
  host: string;
  port: number;
  id: string;
  password: string;
  /** Header version the client writes (default 0x000a, YMSG10; Escargot's own clients write 0x0a00). */
  version?: number;
  /** Default wait for `waitFor*` in ms (default 5000). */
  timeoutMs?: number;
  /**
   * Opens the client's TCP connection (default: a direct `net.connect`). Pass one that goes through
   * a SOCKS4 proxy (`socksConnect(gateway.socks, host, port)`) to behave as a client configured
   * with that proxy.
   */
  dial?: (host: string, port: number) => Promise<Socket>;
  /**
   * Most packets (and events) kept in `packets` / `events` for `waitFor`; the oldest go first.
   * Default: all (tests read the whole history); load generators bound it.
   */
  maxHistory?: number;
  /**
   * Which native names (`bob@aol`, `dave@localhost`) name foreign users, for the addresses of the
   * events this client reports. Default: core's built-in networks other than `yahoo`.
   */
  isForeign?: (address: Address) => boolean;
}

const YMSG10 = 0x000a;

/** A direct connection, the default `dial`. */
async function directDial(host: string, port: number): Promise<Socket> {
  const socket = connect(port, host);
  await once(socket, 'connect');
  return socket;
}

/**
 * A scripted YMSG9/10 client for tests: logs in with the v1 challenge (VERIFY, AUTH, AUTHRESP
 * {0 6 96 2 1 135} as the Escargot transcript's client does), sends messages, typing, presence,
 * buddy adds and authorisation answers, and lets a test await the packets and canonical events it
 * receives.
 */
export class ScriptedYmsgClient {
  readonly id: string;
  // Core's WaitingInbox, capped at `maxHistory`; unref'd timers, so an abandoned wait holds no process.
  readonly #packets: WaitingInbox<YmsgPacket>;
  readonly #events: WaitingInbox<CanonicalEvent>;
  readonly #socket: Socket;
  readonly #framer: Framer = createYmsgFramer();
  readonly #password: string;
  readonly #version: number;
  readonly #timeout: number;
  readonly #translator: YmsgTranslator;
  /** Packets a `waitFor` returned: they stay in `packets`, but no later wait gets them. */
  readonly #consumed = new WeakSet<YmsgPacket>();
  readonly #listeners = new Set<(event: CanonicalEvent) => void>();
  /** The buddy list as the client shows it, by address key. */
  readonly #buddies = new Map<string, Address>();
  #sessionId = 0;
  #closed = false;
  readonly #ended: Promise<void>;

  private constructor(socket: Socket, options: ScriptedYmsgClientOptions) {
    this.#socket = socket;
    this.id = options.id;
    this.#password = options.password;
    this.#version = options.version ?? YMSG10;
    this.#timeout = options.timeoutMs ?? 5000;
    const history = {
      capacity: options.maxHistory ?? Number.POSITIVE_INFINITY,
      timeoutMs: this.#timeout,
      name: this.id,
      unrefTimers: true,
    };
    this.#packets = new WaitingInbox(history);
    this.#events = new WaitingInbox(history);
    this.#translator = new YmsgTranslator({
      self: { user: options.id, network: 'yahoo' },
      dialect: 'v10',
      ...(options.isForeign ? { isForeign: options.isForeign } : {}),
    });
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#ended = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        resolve();
      }),
    );
    socket.on('error', () => socket.destroy());
  }

  /** Every packet received, in order (a live view; the latest `maxHistory`). */
  get packets(): YmsgPacket[] {
    return this.#packets.items as YmsgPacket[];
  }

  /** Canonical events of the received packets, as the codec's translator reads them (the latest `maxHistory`). */
  get events(): CanonicalEvent[] {
    return this.#events.items as CanonicalEvent[];
  }

  /** Opens the connection (through `options.dial` when given). */
  static async connect(options: ScriptedYmsgClientOptions): Promise<ScriptedYmsgClient> {
    const socket = await (options.dial ?? directDial)(options.host, options.port);
    return new ScriptedYmsgClient(socket, options);
  }

  /** Calls `listener` with every canonical event received from now on. Returns an unsubscribe function. */
  onEvent(listener: (event: CanonicalEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The buddy list as a client shows it: every LIST / LIST_15 entry of this connection (a server
   * may send several lists; Yahoo clients add them all up), plus buddies whose ADDBUDDY the server
   * acknowledged (key 66 = 0 added, 2 already there), minus removed and denied ones.
   */
  get buddies(): Address[] {
    return [...this.#buddies.values()];
  }

  /** The session id the server assigned (0 before AUTH is answered). */
  get sessionId(): number {
    return this.#sessionId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the connection is closed (by either side). */
  ended(): Promise<void> {
    return this.#ended;
  }

  #receive(chunk: Buffer): void {
    for (const frame of this.#framer.push(chunk)) {
      parseHeader(frame); // binary-parser checks the header of every frame this client reads
      const packet = decodePacket(frame.slice());
      if (packet.sessionId !== 0) this.#sessionId = packet.sessionId;
      this.#packets.push(packet);
      let events: CanonicalEvent[] = [];
      try {
        events = this.#translator.toEvents(packet, 'server');
      } catch {
        // a packet our translator cannot read is still in `packets`
      }
      this.#trackList(packet, events);
      for (const event of events) {
        this.#events.push(event);
        for (const listener of this.#listeners) listener(event);
      }
    }
  }

  #trackList(packet: YmsgPacket, events: CanonicalEvent[]): void {
    const result = packet.get(K.RESULT);
    const buddy = packet.get(K.BUDDY);
    if (packet.service === S.ADDBUDDY && buddy && (result === '0' || result === '2')) {
      const address = this.#translator.address(buddy);
      this.#buddies.set(addressKey(address), address);
    } else if (packet.service === S.REMBUDDY && buddy && result === '0') {
      this.#buddies.delete(addressKey(this.#translator.address(buddy)));
    }
    for (const event of events) {
      if (event.kind === 'roster') {
        for (const item of event.items) this.#buddies.set(addressKey(item.address), item.address);
      } else if (event.kind === 'buddy-response' && !event.accepted) {
        this.#buddies.delete(addressKey(event.from)); // the server drops a denied buddy from the list
      }
    }
  }

  /** Sends a packet with this client's header version and the current session id. */
  send(service: number, pairs: [number, YmsgValue][], status = 0): void {
    const packet = ymsgPacket(service, pairs, { version: this.#version, status, sessionId: this.#sessionId });
    this.#socket.write(encodePacket(packet));
  }

  /**
   * Resolves with the first received packet (past or future, not yet returned by a wait) that
   * matches; else a `WaitTimeoutError` (`@crosstalk/core`).
   */
  waitFor(match: number | ((p: YmsgPacket) => boolean), timeoutMs = this.#timeout): Promise<YmsgPacket> {
    const test = typeof match === 'number' ? (p: YmsgPacket) => p.service === match : match;
    // Consumed inside the predicate (the inbox tries waits oldest first), so two waits never share one.
    const unconsumed = (p: YmsgPacket) => {
      if (this.#consumed.has(p) || !test(p)) return false;
      this.#consumed.add(p);
      return true;
    };
    return this.#packets.waitFor(unconsumed, { timeoutMs, what: 'matching packet' });
  }

  /** Resolves with the first canonical event (past or future) that matches; else a `WaitTimeoutError`. */
  waitForEvent(match: (e: CanonicalEvent) => boolean, timeoutMs = this.#timeout): Promise<CanonicalEvent> {
    return this.#events.waitFor(match, { timeoutMs, what: 'matching event' });
  }

  /**
   * VERIFY, AUTH, AUTHRESP with the v1 answer, then waits for the server's LIST and LOGON.
   * Rejects with the AUTHRESP error code (key 66) when the server refuses the login.
   */
  async login(): Promise<void> {
    this.send(S.VERIFY, []);
    await this.waitFor(S.VERIFY);
    this.send(S.AUTH, [[K.CURRENT_ID, this.id]]);
    const challenge = await this.waitFor((p) => p.service === S.AUTH || p.service === S.AUTHRESP);
    if (challenge.service === S.AUTHRESP) throw new Error(`login refused: error ${challenge.get(K.RESULT)}`);
    const { key6, key96 } = v1Response(this.id, challenge.get(K.CHALLENGE) ?? '', this.#password);
    this.send(S.AUTHRESP, [
      [K.USERNAME, this.id],
      [K.HASH_PASSWORD, key6],
      [K.HASH_CRYPT, key96],
      [K.ACTIVE_ID, this.id],
      [K.CURRENT_ID, this.id],
      [K.CLIENT_VERSION, '5, 5, 0, 1244'],
    ]);
    const reply = await this.waitFor(
      (p) => p.service === S.LIST || (p.service === S.AUTHRESP && p.status === YmsgStatus.LOGIN_ERROR),
    );
    if (reply.service === S.AUTHRESP) throw new Error(`login refused: error ${reply.get(K.RESULT)}`);
    await this.waitFor((p) => p.service === S.LOGON && p.get(K.CURRENT_ID) === this.id);
  }

  /** MESSAGE as the transcript's client sends it: status 0x5A55AA56 {1 5 14 97 63 64}. */
  sendMessage(to: string, text: string, options: { utf8?: boolean } = {}): void {
    this.send(
      S.MESSAGE,
      [
        [K.CURRENT_ID, this.id],
        [K.TARGET, to],
        [K.MESSAGE, text],
        ...(options.utf8 === false ? [] : ([[K.UTF8, 1]] as [number, YmsgValue][])),
        [63, ';0'],
        [64, 0],
      ],
      YmsgStatus.OFFLINE,
    );
  }

  /** NOTIFY typing: status 0x16 {4 5 14 13 49} (transcript #0035). */
  sendTyping(to: string, typing: boolean): void {
    this.send(
      S.NOTIFY,
      [
        [K.SENDER, this.id],
        [K.TARGET, to],
        [K.MESSAGE, ' '],
        [K.FLAG, typing ? 1 : 0],
        [K.NOTIFY_TYPE, 'TYPING'],
      ],
      YmsgStatus.TYPING,
    );
  }

  /** ISAWAY with a custom message (status 99, {10 19 47}, transcript #0030). */
  setAway(message: string): void {
    this.send(
      S.ISAWAY,
      [
        [K.STATE, YmsgStatus.CUSTOM],
        [K.CUSTOM_STATUS, message],
        [K.AWAY, 1],
      ],
      YmsgStatus.CUSTOM,
    );
  }

  /** ISBACK {10 = 0}; with a message, available with a custom status {10 = 99, 19, 47 = 0}. */
  setBack(message?: string): void {
    if (message === undefined) this.send(S.ISBACK, [[K.STATE, 0]]);
    else
      this.send(S.ISBACK, [
        [K.STATE, YmsgStatus.CUSTOM],
        [K.CUSTOM_STATUS, message],
        [K.AWAY, 0],
      ]);
  }

  addBuddy(id: string, group = 'Friends', message?: string): void {
    this.send(S.ADDBUDDY, [
      [K.CURRENT_ID, this.id],
      [K.BUDDY, id],
      [K.GROUP, group],
      ...(message ? ([[K.MESSAGE, message]] as [number, YmsgValue][]) : []),
    ]);
  }

  removeBuddy(id: string, group = 'Friends'): void {
    this.send(S.REMBUDDY, [
      [K.CURRENT_ID, this.id],
      [K.BUDDY, id],
      [K.GROUP, group],
    ]);
  }

  /** Answers an add request with AUTH_REQ_15 {1 5 13 334 [97 14]} (libpurple yahoo_buddy_add_*_cb). */
  answerBuddy(requester: string, accept: boolean, message?: string): void {
    this.send(S.AUTH_REQ_15, [
      [K.CURRENT_ID, this.id],
      [K.TARGET, requester],
      [K.FLAG, accept ? 1 : 2],
      [K.AUTH_FLAG, 0],
      ...(!accept && message
        ? ([
            [K.UTF8, 1],
            [K.MESSAGE, message],
          ] as [number, YmsgValue][])
        : []),
    ]);
  }

  /** Denies the YMSG10 way: REJECTCONTACT {1 7 14} (transcript #0073). */
  rejectBuddy(requester: string, reason: string): void {
    this.send(S.REJECTCONTACT, [
      [K.CURRENT_ID, this.id],
      [K.BUDDY, requester],
      [K.MESSAGE, reason],
    ]);
  }

  /** Asks for the buddy list again (transcript #0076). */
  requestList(): void {
    this.send(S.LIST, [[K.CURRENT_ID, this.id]]);
  }

  logoff(): void {
    this.send(S.LOGOFF, []);
  }

  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    this.#socket.end();
    this.#socket.destroy();
  }
}
