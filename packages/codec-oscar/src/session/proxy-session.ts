import {
  type Address,
  type CanonicalEvent,
  emptyOutput,
  type Framer,
  isCrossTalkError,
  joinOutput,
  type ProtocolError,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  type SessionOutput,
  type SessionState,
  SessionStateError,
  StreamClosedError,
  subtractFeatures,
  toHex,
  toProtocolError,
  UnsupportedEventError,
} from '@crosstalk/core';
import { OSCAR_FEATURES } from '../features.js';
import { FeedbagClass, type FeedbagItem } from '../feedbag/feedbag-item.js';
import { FeedbagList, feedbagEditOf } from '../feedbag/feedbag-list.js';
import { mergeForeignBuddies } from '../feedbag/roster-merge.js';
import { decodeFlap, encodeFlap, type FlapFrame, type Snac } from '../flap/flap-frame.js';
import { createFlapFramer } from '../flap/flap-framer.js';
import { loginErrorMessage } from '../login/login-errors.js';
import { Bucp, Family, Feedbag, Icbm, OService, SERVER_REQUEST_ID, SnacFlag } from '../snac/families.js';
import { snacFrame } from '../snac/snac.js';
import type { FeedbagItemsBody, ScreenNamesBody, SnacBody } from '../snac/snac-body.js';
import { findTlv, type Tlv, tlvString, tlvU16 } from '../tlv/tlv.js';
import { addressToScreenName, sameAddress } from '../translate/screen-names.js';
import { OscarTranslator } from '../translate/translator.js';
import { PROTOCOL } from '../wire/byte-reader.js';
import { SequenceRewriter } from './sequence-rewriter.js';

/** Login TLVs (retro-aim-server LoginTLVTags*): 1 screen name, 5 BOS address, 6 cookie, 8 error. */
const TLV_SCREEN_NAME = 0x01;
const TLV_RECONNECT_HERE = 0x05;
const TLV_COOKIE = 0x06;
const TLV_ERROR = 0x08;
/** 0x01/0x05 service response TLV 0x0D: the family the new connection serves. */
const TLV_SERVICE_FAMILY = 0x0d;
/** ICBM TLV 3: the sender asks the server for a host ack (0x04/0x0C). */
const TLV_REQUEST_HOST_ACK = 0x03;

type Role = 'unknown' | 'auth' | 'bos';

interface Pending {
  toServer: Uint8Array[];
  toClient: Uint8Array[];
  events: SessionEvent[];
}

/** `host:port` from a TLV 5 value; OSCAR's default port when none is given. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(value.trim());
  const host = m?.[1] ?? value;
  const port = m?.[2] ? Number(m[2]) : 5190;
  return { host, port };
}

/**
 * The client's own status change among a client frame's events (away message 0x02/0x04, ICQ
 * status 0x01/0x1E, idle 0x01/0x11): the session passes the frame on and reports it as `self`,
 * so the gateway mirrors it to foreign buddies (the server tells native ones).
 */
function ownPresence(events: readonly CanonicalEvent[]): CanonicalEvent | undefined {
  return events.find((e) => e.kind === 'presence');
}

/**
 * The OSCAR proxy session (docs/DESIGN.md "Codec contract"). One per proxied TCP connection: the auth
 * connection (BUCP or roasted-password login) or a BOS/service connection entered with a cookie.
 *
 * Identity: the auth connection reports `identified` from the login request and records the BOS
 * cookie of a successful reply in `ctx.cookies` (with a `redirect`). A BOS connection presenting a
 * recorded cookie belongs to that user (else the server's self info 0x01/0x0F names them); the
 * client's "client online" 0x01/0x02 makes it `verified`. Before that it only watches.
 *
 * Once verified it withholds ICBMs, typing, feedbag edits and authorization traffic addressed to
 * foreign users (reporting `outbound`), answers what the client waits for (ICBM host ack,
 * feedbag status), merges foreign buddies into the feedbag, injects delivered events, and renumbers
 * FLAP sequence numbers in both directions so that neither side sees a gap or a repeat.
 */
export class OscarProxySession implements ProxySession {
  readonly protocol = PROTOCOL;
  #state: SessionState = 'connecting';
  #user: Address | undefined;
  readonly #ctx: SessionContext;
  readonly #clientFramer: Framer;
  readonly #serverFramer: Framer;
  readonly #translator: OscarTranslator;
  readonly #toServer = new SequenceRewriter();
  readonly #toClient = new SequenceRewriter();
  #role: Role = 'unknown';
  #cookie: string | undefined;
  #families: Set<number> | undefined;
  /** The feedbag as the client knows it (the server's items plus what this session merged in). */
  readonly #feedbag = new FeedbagList();
  #feedbagSeen = false;
  #feedbagMerged = false;
  #replyParts: FeedbagItem[] = [];
  /** The client's own status as last set before "client online" (reported at `verified`). */
  #earlyPresence: CanonicalEvent | undefined;
  /** Feedbag edits split between server and gateway: request id -> positions answered locally. */
  readonly #splitEdits = new Map<number, number[]>();

  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
    this.#clientFramer = createFlapFramer();
    this.#serverFramer = createFlapFramer();
    this.#translator = new OscarTranslator({ isForeign: (a) => ctx.isForeign(a), now: () => ctx.now() });
  }

  get state(): SessionState {
    return this.#state;
  }

  get user(): Address | undefined {
    return this.#user;
  }

  // ---------------------------------------------------------------- pumping

  fromClient(chunk: Uint8Array): SessionOutput {
    return this.#pump(chunk, this.#clientFramer, (raw, out) => this.#clientFrame(raw, out));
  }

  fromServer(chunk: Uint8Array): SessionOutput {
    return this.#pump(chunk, this.#serverFramer, (raw, out) => this.#serverFrameOrPass(raw, out));
  }

  #pump(chunk: Uint8Array, framer: Framer, handle: (raw: Uint8Array, out: Pending) => void): SessionOutput {
    if (this.#state === 'closed') throw new StreamClosedError(PROTOCOL, 'session is closed');
    const out: Pending = { toServer: [], toClient: [], events: [] };
    let frames: Uint8Array[];
    try {
      frames = framer.push(chunk);
    } catch (error) {
      this.#state = 'closed';
      throw error;
    }
    try {
      for (const raw of frames) handle(raw, out);
    } catch (error) {
      if (!isCrossTalkError(error)) throw error;
      return this.#fail(out, error as ProtocolError);
    }
    if (framer.error) return this.#fail(out, framer.error);
    return this.#output(out);
  }

  #output(out: Pending): SessionOutput {
    return joinOutput({ toServer: out.toServer, toClient: out.toClient, events: out.events });
  }

  #fail(out: Pending, error: ProtocolError): SessionOutput {
    this.#state = 'closed';
    out.events.push({ type: 'closed', reason: error.message, error });
    return this.#output(out);
  }

  #identify(address: Address, out: Pending): void {
    if (this.#user) return;
    this.#user = address;
    this.#translator.self = address;
    if (this.#state === 'connecting') this.#state = 'identified';
    out.events.push({ type: 'identified', address });
  }

  get #verified(): boolean {
    return this.#state === 'verified';
  }

  // ---------------------------------------------------------------- client -> server

  #clientFrame(raw: Uint8Array, out: Pending): void {
    const frame = decodeFlap(raw);
    const events = this.#translator.toEvents(frame, 'client');
    const p = frame.payload;
    if (this.#role === 'unknown' && p.type === 'signon') this.#signon(p.tlvs, out);
    if (p.type !== 'snac') {
      this.#forwardToServer(raw, out);
      return;
    }

    if (
      p.family === Family.bucp &&
      (p.subtype === Bucp.challengeRequest || p.subtype === Bucp.loginRequest)
    ) {
      this.#role = 'auth';
      const name = p.body.type === 'tlvs' ? tlvString(p.body.tlvs, TLV_SCREEN_NAME) : undefined;
      if (name) this.#identify(this.#translator.address(name), out);
      this.#forwardToServer(raw, out);
      return;
    }
    if (p.family === Family.oservice && p.subtype === OService.clientOnline && this.#role === 'bos') {
      this.#forwardToServer(raw, out);
      if (this.#user && !this.#verified) this.#verify(out);
      return;
    }
    if (!this.#verified || this.#role !== 'bos') {
      // A status the client set during sign-on is reported once the login is verified.
      if (this.#role === 'bos') this.#earlyPresence = ownPresence(events) ?? this.#earlyPresence;
      this.#forwardToServer(raw, out);
      return;
    }
    this.#intercept(raw, p, events, out);
    const presence = ownPresence(events);
    if (presence) out.events.push({ type: 'self', event: presence });
  }

  #signon(tlvs: Tlv[], out: Pending): void {
    const cookie = findTlv(tlvs, TLV_COOKIE);
    if (cookie) {
      this.#role = 'bos';
      this.#cookie = toHex(cookie);
      const known = this.#ctx.cookies.lookup(PROTOCOL, this.#cookie);
      if (known) this.#identify(known.owner, out);
      return;
    }
    const name = tlvString(tlvs, TLV_SCREEN_NAME);
    if (name) {
      // Channel-1 login with a roasted password (TLV 2): the old auth method.
      this.#role = 'auth';
      this.#identify(this.#translator.address(name), out);
    }
  }

  #verify(out: Pending): void {
    this.#state = 'verified';
    out.events.push({ type: 'verified', address: this.#user! });
    if (this.#earlyPresence) out.events.push({ type: 'self', event: this.#earlyPresence });
    this.#earlyPresence = undefined;
    if (this.#cookie) this.#ctx.cookies.forget(PROTOCOL, this.#cookie);
    // The feedbag reply came before "client online" (it always does at login): add the foreign
    // buddies now, as a server-initiated insert the client applies to its list.
    if (this.#feedbagSeen && !this.#feedbagMerged) this.#injectForeignRoster(out);
  }

  #forwardToServer(raw: Uint8Array, out: Pending): void {
    out.toServer.push(this.#toServer.forward(raw));
  }

  #withholdFromClient(out: Pending, events: CanonicalEvent[]): void {
    this.#toServer.withhold();
    for (const event of events) out.events.push({ type: 'outbound', event });
  }

  #injectToClient(frame: FlapFrame, out: Pending): void {
    frame.seq = this.#toClient.inject();
    out.toClient.push(encodeFlap(frame));
  }

  /** A screen name such as `bob@yahoo` that maps to a foreign address (ctx.isForeign decides). */
  #foreign(screenName: string): boolean {
    const a = this.#translator.address(screenName);
    return a.network !== 'aol' && a.network !== 'icq';
  }

  #intercept(raw: Uint8Array, p: Snac, events: CanonicalEvent[], out: Pending): void {
    const body = p.body;
    switch (body.type) {
      case 'icbm-to-host':
        // Only what the gateway can carry is withheld; anything else (a file-transfer proposal on
        // channel 2, say) goes to the server, whose error tells the client the truth.
        if (!this.#foreign(body.screenName) || events.length === 0) break;
        this.#withholdFromClient(out, events);
        // The client asked for a host ack (TLV 3): the gateway answers as the server would.
        if (body.tlvs.some((t) => t.type === TLV_REQUEST_HOST_ACK)) {
          const ack = snacFrame(
            Family.icbm,
            Icbm.hostAck,
            { type: 'icbm-ack', cookie: body.cookie, channel: body.channel, screenName: body.screenName },
            { requestId: p.requestId },
          );
          this.#injectToClient(ack, out);
        }
        return;
      case 'icbm-event':
        if (!this.#foreign(body.screenName)) break;
        this.#withholdFromClient(out, events);
        return;
      case 'auth-request':
      case 'auth-reply':
        if (p.family !== Family.feedbag || !this.#foreign(body.screenName)) break;
        this.#withholdFromClient(out, events);
        return;
      case 'feedbag-items':
        if (p.family === Family.feedbag) {
          this.#feedbagEdit(raw, p, body, events, out);
          return;
        }
        break;
      case 'screen-names':
        if (p.family === Family.buddy) {
          this.#localBuddyEdit(raw, body, events, out);
          return;
        }
        break;
      default:
        break;
    }
    this.#forwardToServer(raw, out);
  }

  /** Feedbag insert / update / delete: foreign buddies stay with the gateway, the rest goes on. */
  #feedbagEdit(
    raw: Uint8Array,
    p: Snac,
    body: FeedbagItemsBody,
    events: CanonicalEvent[],
    out: Pending,
  ): void {
    const kind = feedbagEditOf(p.subtype);
    const isForeignItem = (i: FeedbagItem) => i.classId === FeedbagClass.buddy && this.#foreign(i.name);
    const foreign = body.items.filter(isForeignItem);
    this.#feedbag.apply(kind, body.items);
    if (foreign.length === 0) {
      this.#forwardToServer(raw, out);
      return;
    }
    const outbound = this.#foreignRosterEvents(events);
    if (foreign.length === body.items.length) {
      this.#withholdFromClient(out, outbound);
      // Feedbag status 0x13/0x0E: one "ok" per item, as the server answers an edit.
      const status = snacFrame(
        Family.feedbag,
        Feedbag.status,
        { type: 'feedbag-status', codes: body.items.map(() => 0) },
        { requestId: p.requestId },
      );
      this.#injectToClient(status, out);
      return;
    }
    // Mixed: the server gets the native items; its status reply gets the gateway's "ok"s spliced in.
    const positions: number[] = [];
    body.items.forEach((i, at) => {
      if (isForeignItem(i)) positions.push(at);
    });
    this.#splitEdits.set(p.requestId, positions);
    const native = body.items.filter((i) => !isForeignItem(i));
    const frame = decodeFlap(raw);
    (frame.payload as Snac).body = { type: 'feedbag-items', items: native };
    this.#forwardToServer(encodeFlap(frame), out);
    for (const event of outbound) out.events.push({ type: 'outbound', event });
  }

  /** Client-side buddy list 0x03/0x04 and 0x03/0x05: foreign names stay with the gateway. */
  #localBuddyEdit(raw: Uint8Array, body: ScreenNamesBody, events: CanonicalEvent[], out: Pending): void {
    const native = body.names.filter((n) => !this.#foreign(n));
    if (native.length === body.names.length) {
      this.#forwardToServer(raw, out);
      return;
    }
    const outbound = this.#foreignRosterEvents(events);
    if (native.length === 0) {
      this.#withholdFromClient(out, outbound);
      return;
    }
    const frame = decodeFlap(raw);
    (frame.payload as Snac).body = { type: 'screen-names', names: native };
    this.#forwardToServer(encodeFlap(frame), out);
    for (const event of outbound) out.events.push({ type: 'outbound', event });
  }

  #foreignRosterEvents(events: CanonicalEvent[]): CanonicalEvent[] {
    const out: CanonicalEvent[] = [];
    for (const e of events) {
      if (e.kind !== 'roster') continue;
      const items = e.items.filter((i) => this.#ctx.isForeign(i.address));
      if (items.length) out.push({ ...e, items });
    }
    return out;
  }

  // ---------------------------------------------------------------- server -> client

  /**
   * A server frame the session cannot read goes to the client as it came, with an `untranslated`
   * event: it is usually about a contact (an IM, a status), and a contact's bad data must not close
   * the connection of every user who has that contact. The FLAP header is intact (the framer read
   * it), so its sequence number is still renumbered.
   */
  #serverFrameOrPass(raw: Uint8Array, out: Pending): void {
    const mark = { toServer: out.toServer.length, toClient: out.toClient.length, events: out.events.length };
    try {
      this.#serverFrame(raw, out);
    } catch (error) {
      out.toServer.length = mark.toServer;
      out.toClient.length = mark.toClient;
      out.events.length = mark.events;
      this.#forwardToClient(raw, out);
      out.events.push({ type: 'untranslated', direction: 'server', error: toProtocolError(error, PROTOCOL) });
    }
  }

  #serverFrame(raw: Uint8Array, out: Pending): void {
    const frame = decodeFlap(raw);
    const events = this.#translator.toEvents(frame, 'server');
    const p = frame.payload;
    if (p.type === 'signoff') {
      if (this.#role === 'auth' || this.#role === 'unknown') this.#loginReply(p.tlvs, 'bos', out);
      // The server refused the BOS cookie: it is spent.
      else if (this.#cookie && !this.#verified) this.#ctx.cookies.forget(PROTOCOL, this.#cookie);
      this.#forwardToClient(raw, out);
      return;
    }
    if (p.type !== 'snac') {
      this.#forwardToClient(raw, out);
      return;
    }
    const body = p.body;
    if (p.family === Family.bucp && p.subtype === Bucp.loginResponse && body.type === 'tlvs') {
      this.#loginReply(body.tlvs, 'bos', out);
    } else if (p.family === Family.oservice) {
      if (p.subtype === OService.hostOnline && body.type === 'families')
        this.#families = new Set(body.families);
      else if (p.subtype === OService.userInfoUpdate && body.type === 'user-info' && this.#role === 'bos') {
        // A cookie the gateway did not record: the server's own self info names the user.
        const self = body.users[0];
        if (self && !this.#user) this.#identify(this.#translator.address(self.screenName), out);
      } else if (p.subtype === OService.serviceResponse && body.type === 'tlvs' && this.#user) {
        this.#serviceRedirect(body.tlvs, out);
      }
    } else if (p.family === Family.feedbag) {
      if (p.subtype === Feedbag.reply && body.type === 'feedbag-reply') {
        this.#feedbagReply(raw, p, body, events, out);
        return;
      }
      if (p.subtype === Feedbag.status && body.type === 'feedbag-status') {
        this.#feedbagStatus(raw, p, body.codes, out);
        return;
      }
      if (body.type === 'feedbag-items' && p.subtype !== Feedbag.status) {
        // Server-initiated edits (another session of the same user) keep the client's list current.
        const kind = feedbagEditOf(p.subtype);
        this.#feedbag.apply(kind, body.items);
      }
    }
    if (this.#verified) for (const event of events) out.events.push({ type: 'inbound', event });
    this.#forwardToClient(raw, out);
  }

  #forwardToClient(raw: Uint8Array, out: Pending): void {
    out.toClient.push(this.#toClient.forward(raw));
  }

  /** BUCP 0x17/0x03 or a channel-4 roasted-login reply: cookie and BOS address, or an error code. */
  #loginReply(tlvs: Tlv[], purpose: string, out: Pending): void {
    const name = tlvString(tlvs, TLV_SCREEN_NAME);
    const owner = name ? this.#translator.address(name) : this.#user;
    const error = tlvU16(tlvs, TLV_ERROR);
    if (error !== undefined) {
      const event: SessionEvent = {
        type: 'login-failed',
        code: String(error),
        message: loginErrorMessage(error),
      };
      if (owner) event.address = owner;
      out.events.push(event);
      return;
    }
    const cookie = findTlv(tlvs, TLV_COOKIE);
    const where = tlvString(tlvs, TLV_RECONNECT_HERE);
    if (!cookie || !owner) return;
    if (!this.#user) this.#identify(owner, out);
    this.#ctx.cookies.record(PROTOCOL, toHex(cookie), owner, { purpose });
    if (where) {
      const { host, port } = parseHostPort(where);
      out.events.push({ type: 'redirect', host, port, purpose });
    }
  }

  /** 0x01/0x05: the server hands out another connection (chat, icons) with its own cookie. */
  #serviceRedirect(tlvs: Tlv[], out: Pending): void {
    const cookie = findTlv(tlvs, TLV_COOKIE);
    const where = tlvString(tlvs, TLV_RECONNECT_HERE);
    if (!cookie || !where) return;
    const family = tlvU16(tlvs, TLV_SERVICE_FAMILY);
    this.#ctx.cookies.record(PROTOCOL, toHex(cookie), this.#user!, { purpose: 'service', family });
    const { host, port } = parseHostPort(where);
    out.events.push({
      type: 'redirect',
      host,
      port,
      purpose: family === undefined ? 'service' : `service 0x${family.toString(16)}`,
    });
  }

  #feedbagReply(
    raw: Uint8Array,
    p: Snac,
    body: Extract<SnacBody, { type: 'feedbag-reply' }>,
    events: CanonicalEvent[],
    out: Pending,
  ): void {
    const earlier = this.#replyParts;
    const last = (p.flags & SnacFlag.moreFollows) === 0;
    if (!last) {
      this.#replyParts = [...earlier, ...body.items];
      this.#forwardToClient(raw, out);
      return;
    }
    this.#replyParts = [];
    this.#feedbag.items.length = 0;
    this.#feedbag.apply('insert', [...earlier, ...body.items]);
    this.#feedbagSeen = true;
    const serverItems = events.find((e) => e.kind === 'roster')?.items ?? [];
    if (!this.#verified || !this.#user) {
      this.#forwardToClient(raw, out);
      return;
    }
    // Merge into the last SNAC of the reply; groups sent in earlier parts keep their order TLV.
    const inThisPart = new Set(body.items.map((i) => `${i.groupId}/${i.itemId}`));
    const merge = mergeForeignBuddies(
      this.#feedbag,
      this.#ctx.foreignRoster(this.#user),
      (item) => addressToScreenName(item.address),
      (g) => inThisPart.has(`${g.groupId}/${g.itemId}`),
    );
    this.#feedbagMerged = true;
    out.events.push({ type: 'roster', owner: this.#user, items: serverItems, merged: merge.merged });
    if (merge.added.length === 0 && merge.updated.length === 0) {
      this.#forwardToClient(raw, out);
      return;
    }
    const updated = new Map(merge.updated.map((i) => [`${i.groupId}/${i.itemId}`, i]));
    const items = [...body.items.map((i) => updated.get(`${i.groupId}/${i.itemId}`) ?? i), ...merge.added];
    this.#feedbag.apply('update', merge.updated);
    this.#feedbag.apply('insert', merge.added);
    const frame = decodeFlap(raw);
    (frame.payload as Snac).body = { ...body, items };
    this.#forwardToClient(encodeFlap(frame), out);
  }

  #feedbagStatus(raw: Uint8Array, p: Snac, codes: number[], out: Pending): void {
    const positions = this.#splitEdits.get(p.requestId);
    if (!positions) {
      this.#forwardToClient(raw, out);
      return;
    }
    this.#splitEdits.delete(p.requestId);
    const merged = [...codes];
    for (const at of positions) merged.splice(at, 0, 0);
    const frame = decodeFlap(raw);
    (frame.payload as Snac).body = { type: 'feedbag-status', codes: merged };
    this.#forwardToClient(encodeFlap(frame), out);
  }

  /** After "client online": foreign buddies as a server-initiated feedbag insert (and group updates). */
  #injectForeignRoster(out: Pending): void {
    this.#feedbagMerged = true;
    const user = this.#user!;
    const merge = mergeForeignBuddies(this.#feedbag, this.#ctx.foreignRoster(user), (item) =>
      addressToScreenName(item.address),
    );
    const serverItems = this.#feedbag.rosterItems((n) => this.#translator.address(n));
    out.events.push({ type: 'roster', owner: user, items: serverItems, merged: merge.merged });
    this.#sendFeedbagChanges(merge.added, merge.updated, out);
  }

  #sendFeedbagChanges(added: FeedbagItem[], updated: FeedbagItem[], out: Pending): void {
    if (added.length) {
      this.#feedbag.apply('insert', added);
      this.#injectToClient(
        snacFrame(
          Family.feedbag,
          Feedbag.insertItem,
          { type: 'feedbag-items', items: added },
          { requestId: SERVER_REQUEST_ID },
        ),
        out,
      );
    }
    if (updated.length) {
      this.#feedbag.apply('update', updated);
      this.#injectToClient(
        snacFrame(
          Family.feedbag,
          Feedbag.updateItem,
          { type: 'feedbag-items', items: updated },
          { requestId: SERVER_REQUEST_ID },
        ),
        out,
      );
    }
  }

  // ---------------------------------------------------------------- delivery

  deliver(event: CanonicalEvent): SessionOutput {
    if (this.#state !== 'verified') {
      throw new SessionStateError(
        `oscar: cannot deliver a ${event.kind} before the login is verified (${this.#state})`,
      );
    }
    if (this.#role !== 'bos') throw new SessionStateError('oscar: only a BOS connection delivers events');
    const out: Pending = { toServer: [], toClient: [], events: [] };
    const { event: reduced, lost } = subtractFeatures(event, OSCAR_FEATURES);
    if (lost.length) out.events.push({ type: 'feature-loss', event, lost });
    if (!reduced) throw new UnsupportedEventError(PROTOCOL, event.kind);
    if (reduced.kind === 'roster') {
      this.#deliverRoster(reduced.items, out);
    } else {
      for (const frame of this.#translator.fromEvent(reduced, 'server')) this.#injectToClient(frame, out);
    }
    return this.#output(out);
  }

  #deliverRoster(items: RosterItem[], out: Pending): void {
    // A removal is an item with no groups, no subscription and nothing pending (README "Mapping").
    const removed = items.filter((i) => i.groups.length === 0 && i.subscription === 'none' && !i.pending);
    const kept = items.filter((i) => !removed.includes(i));
    const merge = mergeForeignBuddies(this.#feedbag, kept, (item) => addressToScreenName(item.address));
    this.#sendFeedbagChanges(merge.added, merge.updated, out);
    const gone = this.#feedbag
      .buddies()
      .filter((b) => removed.some((r) => sameAddress(this.#translator.address(b.name), r.address)));
    if (gone.length) {
      this.#feedbag.apply('delete', gone);
      this.#injectToClient(
        snacFrame(
          Family.feedbag,
          Feedbag.deleteItem,
          { type: 'feedbag-items', items: gone },
          { requestId: SERVER_REQUEST_ID },
        ),
        out,
      );
    }
  }

  affinity(event: CanonicalEvent): number {
    if (this.#state !== 'verified' || this.#role !== 'bos' || !this.#user) return 0;
    const to = 'to' in event ? event.to : event.kind === 'roster' ? event.owner : undefined;
    if (to && !sameAddress(to, this.#user)) return 0;
    const family =
      event.kind === 'im' || event.kind === 'typing'
        ? Family.icbm
        : event.kind === 'presence'
          ? Family.buddy
          : event.kind === 'roster' || event.kind === 'buddy-request' || event.kind === 'buddy-response'
            ? Family.feedbag
            : undefined;
    if (family === undefined) return 0;
    // A service connection (icons, chat) serves other families: the host-online list says which.
    if (this.#families && !this.#families.has(family)) return 0;
    return 1;
  }

  close(reason: string): SessionOutput {
    const out = emptyOutput();
    if (this.#state === 'closed') return out;
    this.#state = 'closed';
    out.events.push({ type: 'closed', reason });
    return out;
  }
}
