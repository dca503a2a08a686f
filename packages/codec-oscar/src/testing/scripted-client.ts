import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { type Address, type CanonicalEvent, WaitingInbox } from '@crosstalk/core';
import { FeedbagAttribute, FeedbagClass, type FeedbagItem } from '../feedbag/feedbag-item.js';
import { FeedbagList, feedbagEditOf, orderOf, withOrder } from '../feedbag/feedbag-list.js';
import type { FlapFrame } from '../flap/flap-frame.js';
import { textToFragments } from '../icbm/message-text.js';
import { loginErrorMessage } from '../login/login-errors.js';
import { roastPassword } from '../login/roast.js';
import { parseHostPort } from '../session/proxy-session.js';
import { Bucp, Buddy, Family, Feedbag, Icbm, Locate, OService } from '../snac/families.js';
import { isSnac, snacFrame } from '../snac/snac.js';
import type { IcbmTlv, SnacBody } from '../snac/snac-body.js';
import { findTlv, type Tlv, tlv, tlvString, tlvU16, tlvU32Value } from '../tlv/tlv.js';
import { networkOf, sameScreenName } from '../translate/screen-names.js';
import { OscarTranslator, TypingEvent } from '../translate/translator.js';
import { bucpStrongHash, bucpWeakHash, TLV_STRONG_HASH_FLAG } from './credentials.js';
import { FlapSocket } from './flap-socket.js';

/**
 * How the scripted client logs in: BUCP with the strong or the weak MD5 hash, or a roasted password on FLAP
 * channel 1.
 */
export type LoginMethod = 'bucp-strong' | 'bucp-weak' | 'roasted';

/** Opens one TCP connection: directly, or through a SOCKS proxy as a configured client does. */
export type OscarDial = (host: string, port: number) => Promise<Socket>;

/** A direct TCP connection (the default `dial`). */
export const directDial: OscarDial = async (host, port) => {
  const socket = connect(port, host);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  return socket;
};

/** Options of the scripted client's login. */
export interface ScriptedLoginOptions {
  /** The auth server, or a proxy in front of it. */
  host: string;
  port: number;
  screenName: string;
  password: string;
  /** BUCP MD5 with the strong or weak hash, or the channel-1 roasted password. Default `bucp-strong`. */
  method?: LoginMethod;
  /**
   * Where to open the BOS connection. Default: the address in the login reply. A test that relays
   * through a proxy on a fixed upstream names the proxy here.
   */
  bos?: { host: string; port: number };
  /**
   * Opens every connection the client makes (auth, then BOS at the address the login reply names
   * or `bos`). Default: a direct `net.connect`. A client configured with a SOCKS4 proxy passes
   * `(host, port) => socksConnect(proxy, host, port)`.
   */
  dial?: OscarDial;
  /** Which addresses are foreign, for the canonical events (default core's `defaultIsForeign`). */
  isForeign?: (address: Address) => boolean;
  /** Called with each canonical event received on BOS, as it arrives (also kept in `events`). */
  onEvent?: (event: CanonicalEvent) => void;
  /**
   * Keep only about this many of the latest frames and events for the `waitFor*` methods (default:
   * all). Long load runs set it so that nothing grows without bound.
   */
  maxHistory?: number;
  /** The client's first FLAP sequence number on each connection (AIM clients pick one; default 0x2000). */
  startSeq?: number;
  /** Query and activate the feedbag during login (AIM 5 and later); default true. */
  feedbag?: boolean;
  /** A client-side buddy list sent with 0x03/0x04 before "client online". */
  buddies?: string[];
  /** Wait for the server's stats 0x0B/0x02 that ends sign-on (default true). */
  awaitSignonComplete?: boolean;
  timeoutMs?: number;
}

/** A login the server refused: `code` is its TLV 8 error subcode. */
export class OscarLoginError extends Error {
  override readonly name = 'OscarLoginError';
  constructor(
    readonly code: number,
    readonly screenName: string,
  ) {
    super(
      `login of ${screenName} refused: ${loginErrorMessage(code)} (0x${code.toString(16).padStart(4, '0')})`,
    );
  }
}

const AIM_CLIENT = 'AOL Instant Messenger (SM), version 5.9.3702/WIN32';

/**
 * A scripted OSCAR client on real sockets, following the login order of the recorded sessions
 * (captures/transcripts/oscar_*): auth (BUCP or roasted) -> BOS with the cookie -> 0x01/0x17,
 * 0x01/0x06, 0x01/0x08, 0x01/0x0E, rights queries, feedbag query and activate -> 0x01/0x02.
 * It numbers its frames gap-free, records the server's numbers, and turns what it receives into
 * canonical events.
 */
export class ScriptedOscarClient {
  readonly screenName: string;
  /** The BOS connection. */
  readonly bos: FlapSocket;
  /** The auth connection (closed after login). */
  readonly auth: FlapSocket;
  /** The buddy list as this client knows it (the server's reply plus server-initiated edits). */
  readonly feedbag = new FeedbagList();
  readonly #translator: OscarTranslator;
  readonly #timeout: number;
  #requestId = 0x100;
  #cookie = 0;
  #onEvent: ((event: CanonicalEvent) => void) | undefined;
  /** ICBM cookie -> the request id it was sent with (an ICBM error names only the request id). */
  readonly #imRequests = new Map<string, number>();
  // Core's WaitingInbox, capped at `maxHistory`; unref'd timers, so an abandoned wait holds no process.
  readonly #events: WaitingInbox<CanonicalEvent>;

  private constructor(
    screenName: string,
    auth: FlapSocket,
    bos: FlapSocket,
    translator: OscarTranslator,
    timeout: number,
    maxHistory: number,
  ) {
    this.screenName = screenName;
    this.auth = auth;
    this.bos = bos;
    this.#translator = translator;
    this.#timeout = timeout;
    this.#events = new WaitingInbox({ capacity: maxHistory, name: screenName, unrefTimers: true });
  }

  /** Canonical events from what the server sent on BOS (a live view; the latest `maxHistory`). */
  get events(): CanonicalEvent[] {
    return this.#events.items as CanonicalEvent[];
  }

  /** Logs in by `method` and completes the BOS sign-on; throws `OscarLoginError` on a refusal. */
  static async login(options: ScriptedLoginOptions): Promise<ScriptedOscarClient> {
    const timeout = options.timeoutMs ?? 10_000;
    const startSeq = options.startSeq ?? 0x2000;
    const method = options.method ?? 'bucp-strong';
    const dial = options.dial ?? directDial;
    const maxHistory = options.maxHistory ?? Number.POSITIVE_INFINITY;
    const auth = await open(dial, options.host, options.port, `${options.screenName} auth`, startSeq);
    await auth.waitFor((f) => f.channel === 1, timeout, 'server hello');
    let reply: Tlv[];
    if (method === 'roasted') {
      auth.send({
        channel: 1,
        seq: 0,
        payload: {
          type: 'signon',
          version: 1,
          tlvs: [
            tlv(0x01, options.screenName),
            tlv(0x02, roastPassword(options.password)),
            tlv(0x03, 'AOL Instant Messenger (SM), version 3.0.1464/WIN32'),
          ],
        },
      });
      const f = await auth.waitFor((x) => x.channel === 4, timeout, 'roasted login reply');
      reply = f.payload.type === 'signoff' ? f.payload.tlvs : [];
    } else {
      auth.send({ channel: 1, seq: 0, payload: { type: 'signon', version: 1, tlvs: [] } });
      auth.send(
        snacFrame(
          Family.bucp,
          Bucp.challengeRequest,
          { type: 'tlvs', tlvs: [tlv(0x01, options.screenName)] },
          { requestId: 1 },
        ),
      );
      const first = await auth.waitFor(
        (f) => isSnac(f, Family.bucp, Bucp.challengeResponse) || isSnac(f, Family.bucp, Bucp.loginResponse),
        timeout,
        'BUCP challenge',
      );
      if (first.payload.type === 'snac' && first.payload.body.type === 'bucp-challenge') {
        const key = first.payload.body.key;
        const strong = method === 'bucp-strong';
        const hash = strong ? bucpStrongHash(key, options.password) : bucpWeakHash(key, options.password);
        const tlvs: Tlv[] = [tlv(0x01, options.screenName), tlv(0x25, hash), tlv(0x03, AIM_CLIENT)];
        if (strong) tlvs.push(tlv(TLV_STRONG_HASH_FLAG));
        tlvs.push(tlv(0x4a, [0x01]));
        auth.send(snacFrame(Family.bucp, Bucp.loginRequest, { type: 'tlvs', tlvs }, { requestId: 2 }));
        const f = await auth.waitFor(
          (x) => isSnac(x, Family.bucp, Bucp.loginResponse),
          timeout,
          'BUCP login reply',
        );
        reply = f.payload.type === 'snac' && f.payload.body.type === 'tlvs' ? f.payload.body.tlvs : [];
      } else {
        reply =
          first.payload.type === 'snac' && first.payload.body.type === 'tlvs' ? first.payload.body.tlvs : [];
      }
    }
    const error = tlvU16(reply, 0x08);
    const cookie = findTlv(reply, 0x06);
    const where = tlvString(reply, 0x05);
    if (error !== undefined || !cookie || !where) {
      auth.destroy();
      throw new OscarLoginError(error ?? 0, options.screenName);
    }
    if (method !== 'roasted') auth.send({ channel: 4, seq: 0, payload: { type: 'signoff', tlvs: [] } });
    auth.end();

    const target = options.bos ?? parseHostPort(where);
    const translator = new OscarTranslator({
      self: { user: options.screenName, network: networkOf(options.screenName) },
      ...(options.isForeign ? { isForeign: options.isForeign } : {}),
    });
    const client = new ScriptedOscarClient(
      options.screenName,
      auth,
      undefined as never,
      translator,
      timeout,
      maxHistory,
    );
    client.#onEvent = options.onEvent;
    const bos = await open(
      dial,
      target.host,
      target.port,
      `${options.screenName} BOS`,
      startSeq,
      (frame) => client.#receive(frame),
      maxHistory,
    );
    (client as { bos: FlapSocket }).bos = bos;
    await bos.waitFor((f) => f.channel === 1, timeout, 'BOS hello');
    bos.send({ channel: 1, seq: 0, payload: { type: 'signon', version: 1, tlvs: [tlv(0x06, cookie)] } });
    await client.#expect(Family.oservice, OService.hostOnline, 'host online');
    await client.#request(
      Family.oservice,
      OService.clientVersions,
      raw(0, 1, 0, 3, 0, 3, 0, 1, 0, 4, 0, 1, 0, 0x13, 0, 4),
      OService.hostVersions,
    );
    await client.#request(Family.oservice, OService.rateParamsQuery, raw(), OService.rateParamsReply);
    client.#send(Family.oservice, OService.rateParamsSubAdd, raw(0, 1));
    await client.#request(Family.oservice, OService.userInfoQuery, raw(), OService.userInfoUpdate);
    await client.#request(Family.locate, Locate.rightsQuery, raw(), Locate.rightsReply);
    await client.#request(Family.buddy, Buddy.rightsQuery, raw(), Buddy.rightsReply);
    await client.#request(Family.icbm, Icbm.parameterQuery, raw(), Icbm.parameterReply);
    if (options.feedbag ?? true) {
      await client.#request(Family.feedbag, Feedbag.rightsQuery, raw(), Feedbag.rightsReply);
      await client.#request(Family.feedbag, Feedbag.query, { type: 'tlvs', tlvs: [] }, Feedbag.reply);
      client.#send(Family.feedbag, Feedbag.use, { type: 'tlvs', tlvs: [] });
    }
    // ICBM parameters: channel 0, flags 0x0B (messages, missed calls, typing events 0x8).
    client.#send(
      Family.icbm,
      Icbm.addParameters,
      raw(0, 0, 0, 0, 0, 0x0b, 0x1f, 0x40, 0x03, 0xe7, 0x03, 0xe7, 0, 0, 0, 0),
    );
    if (options.buddies?.length)
      client.#send(Family.buddy, Buddy.addBuddies, { type: 'screen-names', names: options.buddies });
    client.#send(
      Family.oservice,
      OService.clientOnline,
      raw(0, 1, 0, 4, 1, 0x10, 6, 0x29, 0, 4, 0, 1, 1, 0x10, 6, 0x29),
    );
    if (options.awaitSignonComplete ?? true) {
      // The server's last sign-on SNAC (stats 0x0B/0x02 on Open OSCAR Server and the mock) shows it
      // processed "client online", so presence and routing are in place when login() resolves.
      await client.#expect(Family.stats, 0x0002, 'end of sign-on (0x0B/0x02)');
    }
    return client;
  }

  #receive(frame: FlapFrame): void {
    const p = frame.payload;
    if (p.type === 'snac' && p.family === Family.feedbag && p.body.type === 'feedbag-reply') {
      this.feedbag.items.length = 0;
      this.feedbag.apply('insert', p.body.items);
    } else if (
      p.type === 'snac' &&
      p.family === Family.feedbag &&
      p.body.type === 'feedbag-items' &&
      p.requestId & 0x80000000
    ) {
      const kind = feedbagEditOf(p.subtype);
      this.feedbag.apply(kind, p.body.items);
    }
    for (const event of this.#translator.toEvents(frame, 'server')) {
      this.#events.push(event);
      this.#onEvent?.(event);
    }
  }

  #send(family: number, subtype: number, body: SnacBody): number {
    const requestId = ++this.#requestId;
    this.bos.send(snacFrame(family, subtype, body, { requestId }));
    return requestId;
  }

  async #request(family: number, subtype: number, body: SnacBody, replySubtype: number): Promise<FlapFrame> {
    const requestId = this.#send(family, subtype, body);
    return this.bos.waitFor(
      (f) =>
        f.payload.type === 'snac' &&
        f.payload.family === family &&
        f.payload.subtype === replySubtype &&
        f.payload.requestId === requestId,
      this.#timeout,
      `reply 0x${family.toString(16)}/0x${replySubtype.toString(16)}`,
    );
  }

  #expect(family: number, subtype: number, what: string): Promise<FlapFrame> {
    return this.bos.waitFor((f) => isSnac(f, family, subtype), this.#timeout, what);
  }

  #nextCookie(): string {
    this.#cookie++;
    return (
      (0x43540000 + this.#cookie).toString(16).padStart(8, '0') + this.#cookie.toString(16).padStart(8, '0')
    );
  }

  // ---------------------------------------------------------------- actions

  /** Sends an IM on channel 1 (TLV 3 asks the server for a host ack); returns its cookie. */
  sendIm(to: string, text: string, options: { ack?: boolean } = {}): string {
    const cookie = this.#nextCookie();
    const tlvs: IcbmTlv[] = [{ type: 2, fragments: textToFragments(text) }];
    if (options.ack ?? true) tlvs.push({ type: 3, value: new Uint8Array(0) });
    const requestId = this.#send(Family.icbm, Icbm.channelMsgToHost, {
      type: 'icbm-to-host',
      cookie,
      channel: 1,
      screenName: to,
      tlvs,
    });
    if (options.ack ?? true) this.#imRequests.set(cookie, requestId);
    return cookie;
  }

  /**
   * Waits for the host ack 0x04/0x0C of a message sent with `sendIm`; rejects when the server
   * answers with an ICBM error 0x04/0x01 instead (0x0004: the recipient is not logged on).
   */
  async waitForAck(cookie: string): Promise<FlapFrame> {
    const requestId = this.#imRequests.get(cookie);
    const f = await this.bos.waitFor(
      (x) =>
        x.payload.type === 'snac' &&
        ((x.payload.body.type === 'icbm-ack' && x.payload.body.cookie === cookie) ||
          (x.payload.family === Family.icbm &&
            x.payload.subtype === Icbm.error &&
            x.payload.requestId === requestId)),
      this.#timeout,
      `host ack of ${cookie}`,
    );
    this.#imRequests.delete(cookie);
    if (f.payload.type === 'snac' && f.payload.body.type === 'error') {
      throw new Error(
        `${this.screenName}: message ${cookie} refused with ICBM error 0x${f.payload.body.code.toString(16).padStart(4, '0')}`,
      );
    }
    return f;
  }

  /** Typing notification 0x04/0x14; returns its SNAC request id. */
  sendTyping(to: string, state: 'typing' | 'paused' | 'none'): number {
    const event =
      state === 'typing' ? TypingEvent.typing : state === 'paused' ? TypingEvent.paused : TypingEvent.none;
    return this.#send(Family.icbm, Icbm.clientEvent, {
      type: 'icbm-event',
      cookie: '0000000000000000',
      channel: 1,
      screenName: to,
      event,
    });
  }

  /**
   * Adds a buddy to the feedbag as AIM clients do: begin edit 0x11, insert 0x08 (the group first
   * when it is new), update 0x09 of the group's order, end edit 0x12; resolves with the status codes.
   */
  async addBuddy(
    screenName: string,
    options: { group?: string; alias?: string; pending?: boolean } = {},
  ): Promise<number[]> {
    const groupName = options.group ?? 'Buddies';
    let group = this.feedbag.groupByName(groupName);
    const inserts: FeedbagItem[] = [];
    if (!group) {
      group = {
        name: groupName,
        groupId: this.feedbag.freeGroupId(),
        itemId: 0,
        classId: FeedbagClass.group,
        attributes: [],
      };
      inserts.push(group);
    }
    const attributes: Tlv[] = [];
    if (options.alias) attributes.push(tlv(FeedbagAttribute.alias, options.alias));
    if (options.pending) attributes.push(tlv(FeedbagAttribute.pending));
    const buddy: FeedbagItem = {
      name: screenName,
      groupId: group.groupId,
      itemId: this.feedbag.freeItemId(),
      classId: FeedbagClass.buddy,
      attributes,
    };
    this.#send(Family.feedbag, Feedbag.startCluster, { type: 'tlvs', tlvs: [] });
    const items = [...inserts, buddy];
    this.feedbag.apply('insert', items);
    const codes = await this.#feedbagRequest(Feedbag.insertItem, items);
    const reordered = withOrder(group, [
      ...orderOf(this.feedbag.group(group.groupId) ?? group),
      buddy.itemId,
    ]);
    this.feedbag.apply('update', [reordered]);
    await this.#feedbagRequest(Feedbag.updateItem, [reordered]);
    this.#send(Family.feedbag, Feedbag.endCluster, { type: 'tlvs', tlvs: [] });
    return codes;
  }

  /** Removes a buddy (delete 0x0A inside an edit bracket); resolves with the status codes. */
  async removeBuddy(screenName: string): Promise<number[]> {
    const items = this.feedbag.buddies().filter((b) => sameScreenName(b.name, screenName));
    this.#send(Family.feedbag, Feedbag.startCluster, { type: 'tlvs', tlvs: [] });
    this.feedbag.apply('delete', items);
    const codes = await this.#feedbagRequest(Feedbag.deleteItem, items);
    this.#send(Family.feedbag, Feedbag.endCluster, { type: 'tlvs', tlvs: [] });
    return codes;
  }

  /** Sends a raw feedbag edit (insert, update or delete) and resolves with the status codes 0x13/0x0E. */
  async #feedbagRequest(subtype: number, items: FeedbagItem[]): Promise<number[]> {
    const reply = await this.#request(
      Family.feedbag,
      subtype,
      { type: 'feedbag-items', items },
      Feedbag.status,
    );
    return reply.payload.type === 'snac' && reply.payload.body.type === 'feedbag-status'
      ? reply.payload.body.codes
      : [];
  }

  /** Feedbag edit of any items (tests use it to mix native and foreign buddies in one SNAC). */
  feedbagEdit(kind: 'insert' | 'update' | 'delete', items: FeedbagItem[]): Promise<number[]> {
    this.feedbag.apply(kind, items);
    const subtype =
      kind === 'insert' ? Feedbag.insertItem : kind === 'update' ? Feedbag.updateItem : Feedbag.deleteItem;
    return this.#feedbagRequest(subtype, items);
  }

  /** Authorization request 0x13/0x18 (libpurple aim_ssi_sendauthrequest layout). */
  requestAuthorization(screenName: string, reason: string): void {
    this.#send(Family.feedbag, Feedbag.requestAuthorizeToHost, {
      type: 'auth-request',
      screenName,
      reason,
      rest: new Uint8Array(2),
    });
  }

  /** Authorization reply 0x13/0x1A. */
  respondAuthorization(screenName: string, accepted: boolean, reason = ''): void {
    this.#send(Family.feedbag, Feedbag.respondAuthorizeToHost, {
      type: 'auth-reply',
      screenName,
      accepted: accepted ? 1 : 0,
      reason,
      rest: new Uint8Array(2),
    });
  }

  /** Away message (0x02/0x04 TLV 4); `undefined` comes back. */
  setAway(message: string | undefined): void {
    this.#send(Family.locate, Locate.setInfo, {
      type: 'tlvs',
      tlvs: [tlv(0x03, 'text/aolrtf; charset="us-ascii"'), tlv(0x04, message ?? '')],
    });
  }

  /** ICQ status (0x01/0x1E TLV 6). */
  setIcqStatus(status: number): void {
    this.#send(Family.oservice, OService.setUserInfoFields, {
      type: 'tlvs',
      tlvs: [tlvU32Value(0x06, status)],
    });
  }

  setIdle(seconds: number): void {
    this.#send(Family.oservice, OService.idleNotification, { type: 'idle', seconds });
  }

  addLocalBuddies(names: string[]): void {
    this.#send(Family.buddy, Buddy.addBuddies, { type: 'screen-names', names });
  }

  /** The first canonical event (already seen or still to come) that matches; else a `WaitTimeoutError`. */
  waitForEvent(
    predicate: (e: CanonicalEvent) => boolean,
    timeoutMs = this.#timeout,
  ): Promise<CanonicalEvent> {
    return this.#events.waitFor(predicate, { timeoutMs, what: 'matching event' });
  }

  waitForFrame(predicate: (f: FlapFrame) => boolean, what = 'a matching frame'): Promise<FlapFrame> {
    return this.bos.waitFor(predicate, this.#timeout, what);
  }

  /** Signs off (FLAP channel 4) and waits for the server to close. */
  async close(): Promise<void> {
    if (!this.bos.isClosed) {
      this.bos.send({ channel: 4, seq: 0, payload: { type: 'signoff', tlvs: [] } });
      this.bos.end();
    }
    await Promise.race([this.bos.closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.bos.destroy();
  }
}

function raw(...bytes: number[]): SnacBody {
  return { type: 'raw', bytes: Uint8Array.from(bytes) };
}

async function open(
  dial: OscarDial,
  host: string,
  port: number,
  label: string,
  startSeq: number,
  onFrame?: (frame: FlapFrame) => void,
  maxHistory?: number,
): Promise<FlapSocket> {
  const socket = await dial(host, port);
  return new FlapSocket(socket, {
    label,
    startSeq,
    ...(onFrame ? { onFrame } : {}),
    ...(maxHistory !== undefined ? { maxHistory } : {}),
  });
}
