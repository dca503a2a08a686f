import {
  type Address,
  type CanonicalEvent,
  type Direction,
  emptyOutput,
  type FeatureSet,
  type Framer,
  type ProxySession,
  type RosterItem,
  type SessionContext,
  type SessionOutput,
  type SessionState,
  SessionStateError,
  StreamClosedError,
  subtractFeatures,
  toProtocolError,
  UnsupportedEventError,
} from '@crosstalk/core';
import { createYmsgFramer } from '../framer/framer.js';
import { PROTOCOL } from '../header/header.js';
import {
  type ListAddition,
  type ListEntry,
  ListParser,
  list15Records,
  v9Lines,
} from '../list/list-parser.js';
import {
  decodePacket,
  encodePacket,
  type PayloadLimits,
  type YmsgPacket,
  ymsgPacket,
} from '../packet/packet.js';
import { YmsgKey as K } from '../protocol/keys.js';
import { YmsgService as S } from '../protocol/services.js';
import { STATUS_ACK, YmsgStatus } from '../protocol/status.js';
import { YmsgTranslator } from '../translator/translator.js';

export interface YmsgSessionOptions extends PayloadLimits {
  features: FeatureSet;
  maxFrameSize?: number;
  /** Group for merged foreign buddies whose roster item names none (default `CrossTalk`). */
  rosterGroup?: string;
}

/** AUTHRESP key 66 codes as libpurple words them (yahoo_process_authresp). */
const LOGIN_ERRORS: Record<string, string> = {
  '3': 'Username does not exist',
  '13': 'Invalid username or password',
  '14': 'Account locked after too many failed login attempts',
  '52': 'Unknown error 52; reconnecting should fix this',
  '1013': 'The username is invalid',
};

/** Client packets whose target (key 5 or 7) the session checks; the rest pass untouched. */
const TARGET_KEY: Record<number, number> = {
  [S.MESSAGE]: K.TARGET,
  [S.NOTIFY]: K.TARGET,
  [S.AUTH_REQ_15]: K.TARGET,
  [S.PEERTOPEER]: K.TARGET,
  [S.P2PFILEXFER]: K.TARGET,
  [S.FILETRANSFER]: K.TARGET,
  [S.FILETRANS_15]: K.TARGET,
  [S.MESSAGE_ACK]: K.TARGET,
  [S.ADDBUDDY]: K.BUDDY,
  [S.REMBUDDY]: K.BUDDY,
  [S.REJECTCONTACT]: K.BUDDY,
};

/** Client packets that change the user's own status (libpurple yahoo_set_status, Escargot ISAWAY/ISBACK). */
const OWN_PRESENCE = new Set<number>([S.ISAWAY, S.ISBACK, S.Y6_STATUS_UPDATE, S.Y6_VISIBLE_TOGGLE]);

interface Side {
  framer: Framer;
  /** Bytes of the frame in progress that were already relayed raw before the session was verified. */
  passThrough: number;
}

/**
 * One proxied YMSG connection (sans-IO). Before the server confirms the login it relays every
 * chunk as it came and only watches (identity gate). Once verified it forwards frames with their
 * original bytes, withholds client packets addressed to foreign users (reporting them as
 * `outbound` and answering locally where the client waits for an answer), injects delivered
 * events with the session id the server assigned, and follows each server buddy list with a list
 * packet of the user's foreign buddies.
 */
export class YmsgProxySession implements ProxySession {
  readonly protocol = PROTOCOL;
  readonly #ctx: SessionContext;
  readonly #options: YmsgSessionOptions;
  readonly #translator: YmsgTranslator;
  readonly #lists = new ListParser();
  readonly #sides: Record<Direction, Side>;
  #state: SessionState = 'connecting';
  #user: Address | undefined;
  #loginFailed = false;
  /** Packets for the client waiting for the server stream to reach a frame boundary. */
  #queuedToClient: Uint8Array[] = [];
  /**
   * A server chunk being relayed as it came (before verification): `cursor` bytes of it are out,
   * `end` is where the frame being watched ends in it. A packet injected meanwhile (the merged
   * foreign list after the server's first LIST) goes right after that frame.
   */
  #relay: { chunk: Uint8Array; out: SessionOutput; cursor: number; end: number } | undefined;

  constructor(ctx: SessionContext, options: YmsgSessionOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#translator = new YmsgTranslator({
      isForeign: (a) => ctx.isForeign(a),
      now: () => ctx.now(),
      newId: () => ctx.newId(),
    });
    const framer = () => createYmsgFramer(options.maxFrameSize ? { maxFrameSize: options.maxFrameSize } : {});
    this.#sides = {
      client: { framer: framer(), passThrough: 0 },
      server: { framer: framer(), passThrough: 0 },
    };
  }

  get state(): SessionState {
    return this.#state;
  }

  get user(): Address | undefined {
    return this.#user;
  }

  /** The session id the server assigned, which every injected packet carries. */
  get sessionId(): number {
    return this.#translator.sessionId;
  }

  fromClient(chunk: Uint8Array): SessionOutput {
    return this.#push('client', chunk);
  }

  fromServer(chunk: Uint8Array): SessionOutput {
    return this.#push('server', chunk);
  }

  deliver(event: CanonicalEvent): SessionOutput {
    if (this.#state !== 'verified') {
      throw new SessionStateError(
        `ymsg: cannot deliver a ${event.kind} before the login is verified (${this.#state})`,
      );
    }
    const out = emptyOutput();
    const { event: reduced, lost } = subtractFeatures(event, this.#options.features);
    if (!reduced) throw new UnsupportedEventError(PROTOCOL, event.kind);
    if (lost.length) out.events.push({ type: 'feature-loss', event, lost });
    for (const packet of this.#translator.fromEvent(reduced, 'server'))
      this.#toClient(out, encodePacket(packet));
    return out;
  }

  affinity(event: CanonicalEvent): number {
    if (this.#state !== 'verified' || !this.#user) return 0;
    if (event.kind === 'file-offer' || event.kind === 'call-invite') return 0;
    const target = event.kind === 'roster' ? event.owner : event.to;
    if (target === undefined) return 1; // a presence broadcast
    return target.network === 'yahoo' && this.#translator.isSelf(target.user) ? 1 : 0;
  }

  close(reason: string): SessionOutput {
    const out = emptyOutput();
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      out.events.push({ type: 'closed', reason });
    }
    return out;
  }

  // ------------------------------------------------------------------ pumping

  #push(direction: Direction, chunk: Uint8Array): SessionOutput {
    if (this.#state === 'closed') throw new StreamClosedError(PROTOCOL, 'the session is closed');
    const out = emptyOutput();
    const side = this.#sides[direction];
    // Identity gate: until verified, the chunk goes on exactly as it came; frames are only watched.
    const relayed = this.#state !== 'verified';
    if (relayed && direction === 'client') out.toServer.push(chunk.slice());
    const held = side.framer.buffered; // bytes of an unfinished frame from earlier chunks
    if (relayed && direction === 'server') this.#relay = { chunk, out, cursor: 0, end: 0 };
    try {
      let frames: Uint8Array[];
      try {
        frames = side.framer.push(chunk);
      } catch (error) {
        this.#endRelay(); // what was relayed so far goes out before the session closes
        return this.#fail(out, error);
      }
      try {
        let framed = 0;
        for (const frame of frames) {
          framed += frame.length;
          if (this.#relay) this.#relay.end = framed - held;
          if (direction === 'server') this.#serverFrame(frame, relayed, side, out);
          else if (relayed) this.#watch(direction, frame, out);
          else if (side.passThrough > 0) {
            // The rest of a frame whose start was relayed before verification: it cannot be held back.
            this.#send(direction, out, frame.slice(side.passThrough));
            side.passThrough = 0;
            this.#watch(direction, frame, out);
          } else this.#fromVerifiedClient(frame, out);
        }
      } catch (error) {
        this.#endRelay();
        return this.#fail(out, error);
      }
    } finally {
      this.#endRelay();
    }
    if (relayed && this.#state === 'verified') {
      // Verified inside this chunk: whatever of an unfinished frame was relayed is already out.
      this.#sides.client.passThrough = this.#sides.client.framer.buffered;
      this.#sides.server.passThrough = this.#sides.server.framer.buffered;
    }
    if (side.framer.error) return this.#fail(out, side.framer.error);
    this.#flushToClient(out);
    return out;
  }

  /** Passes on the part of a relayed server chunk not yet out, in one piece when nothing was injected. */
  #endRelay(): void {
    const relay = this.#relay;
    if (!relay) return;
    this.#relay = undefined;
    if (relay.cursor < relay.chunk.length) relay.out.toClient.push(relay.chunk.slice(relay.cursor));
  }

  #send(direction: Direction, out: SessionOutput, bytes: Uint8Array): void {
    if (direction === 'client') out.toServer.push(bytes);
    else out.toClient.push(bytes);
  }

  /**
   * Bytes for the client, held while the server stream is inside a frame that was (partly) relayed
   * raw: during a relayed server chunk, and until a pass-through frame completes.
   */
  #toClient(out: SessionOutput, bytes: Uint8Array): void {
    const relay = this.#relay;
    if (relay) {
      // Inside a relayed server chunk: after the frame being watched, before the rest of the chunk.
      if (relay.end > relay.cursor) relay.out.toClient.push(relay.chunk.slice(relay.cursor, relay.end));
      relay.cursor = Math.max(relay.cursor, relay.end);
      relay.out.toClient.push(bytes);
    } else if (this.#sides.server.passThrough > 0) this.#queuedToClient.push(bytes);
    else out.toClient.push(bytes);
  }

  #flushToClient(out: SessionOutput): void {
    if (this.#queuedToClient.length === 0 || this.#sides.server.passThrough > 0) return;
    for (const b of this.#queuedToClient) out.toClient.push(b);
    this.#queuedToClient = [];
  }

  #fail(out: SessionOutput, error: unknown): SessionOutput {
    const typed = toProtocolError(error, PROTOCOL);
    this.#state = 'closed';
    if (out.toServer.length === 0 && out.toClient.length === 0 && out.events.length === 0) throw typed;
    out.events.push({ type: 'closed', reason: typed.message, error: typed });
    return out;
  }

  #decode(frame: Uint8Array): YmsgPacket {
    return decodePacket(frame, this.#options);
  }

  /** Everything the session learns from a frame in either mode: login progress, lists, session id. */
  #watch(direction: Direction, frame: Uint8Array, out: SessionOutput): YmsgPacket {
    const packet = this.#decode(frame);
    this.#translator.observe(packet, direction);
    if (direction === 'client') {
      if (
        this.#state === 'connecting' &&
        this.#translator.self &&
        (packet.service === S.AUTH || packet.service === S.AUTHRESP)
      ) {
        this.#user = this.#translator.self;
        this.#state = 'identified';
        out.events.push({ type: 'identified', address: this.#user });
      }
      return packet;
    }
    if (packet.status === YmsgStatus.LOGIN_ERROR && packet.service === S.AUTHRESP) {
      // Login refused: AUTHRESP status 0xFFFFFFFF, key 66 says why (libpurple yahoo_process_authresp).
      const code = packet.get(K.RESULT) ?? '';
      this.#loginFailed = true;
      out.events.push({
        type: 'login-failed',
        ...(this.#user ? { address: this.#user } : {}),
        code,
        message: LOGIN_ERRORS[code] ?? `login error ${code || '(no code)'}`,
      });
      return packet;
    }
    const isList = packet.service === S.LIST || packet.service === S.LIST_15;
    if (this.#state === 'identified' && !this.#loginFailed && (isList || this.#confirmsLogin(packet))) {
      this.#state = 'verified';
      out.events.push({ type: 'verified', address: this.#user! });
    }
    if (isList) {
      const entries = this.#lists.push(packet);
      if (entries && this.#state === 'verified') this.#mergeRoster(packet, entries, out);
    }
    return packet;
  }

  /** LOGON naming the user in key 1 (buddy LOGONs carry only key 0 = me; Escargot transcript #0011 vs #0025). */
  #confirmsLogin(packet: YmsgPacket): boolean {
    return (
      packet.service === S.LOGON &&
      packet.status !== YmsgStatus.LOGIN_ERROR &&
      this.#translator.isSelf(packet.get(K.CURRENT_ID))
    );
  }

  #mergeRoster(list: YmsgPacket, entries: ListEntry[], out: SessionOutput): void {
    const owner = this.#user!;
    const items = entries.map((e) => this.#translator.rosterItem(e));
    const known = new Set(entries.map((e) => e.id.toLowerCase()));
    const merged: RosterItem[] = [];
    const additions: ListAddition[] = [];
    for (const item of this.#ctx.foreignRoster(owner)) {
      const id = this.#translator.native(item.address);
      if (known.has(id.toLowerCase())) continue;
      known.add(id.toLowerCase());
      merged.push(item);
      for (const group of item.groups.length ? item.groups : [this.#options.rosterGroup ?? 'CrossTalk']) {
        additions.push({ id, group, pending: item.pending });
      }
    }
    if (additions.length) {
      // A list packet of its own right after the server's last one: the server's bytes stay
      // untouched, and clients add what a list packet names (libpurple yahoo_process_list[_15]).
      const header = { version: list.version, vendor: list.vendor, status: 0, sessionId: list.sessionId };
      const packet =
        list.service === S.LIST
          ? ymsgPacket(S.LIST, [[K.BUDDY_LIST, v9Lines(additions)]], header)
          : ymsgPacket(
              S.LIST_15,
              [
                [K.RECORD_START, K.LIST_MARK_GROUP],
                ...list15Records(additions),
                [K.LIST_END, K.LIST_MARK_GROUP],
              ],
              header,
            );
      this.#toClient(out, encodePacket(packet));
    }
    out.events.push({ type: 'roster', owner, items, merged });
  }

  /**
   * One server frame. Its bytes reach the client whatever happens next (relayed with the chunk,
   * passed through, or copied first); one the session cannot read only adds an `untranslated`
   * event: it is usually about a contact, and a contact's bad data must not close the connection
   * of every user who has that contact.
   */
  #serverFrame(frame: Uint8Array, relayed: boolean, side: Side, out: SessionOutput): void {
    try {
      if (relayed) this.#watch('server', frame, out);
      else if (side.passThrough > 0) {
        // The rest of a frame whose start was relayed before verification: it cannot be held back.
        this.#send('server', out, frame.slice(side.passThrough));
        side.passThrough = 0;
        this.#watch('server', frame, out);
      } else this.#fromVerifiedServer(frame, out);
    } catch (error) {
      out.events.push({ type: 'untranslated', direction: 'server', error: toProtocolError(error, PROTOCOL) });
    }
    if (!relayed) this.#flushToClient(out);
  }

  #fromVerifiedServer(frame: Uint8Array, out: SessionOutput): void {
    out.toClient.push(frame.slice());
    const packet = this.#watch('server', frame, out);
    if (packet.service === S.LIST || packet.service === S.LIST_15) return; // reported as `roster`
    for (const event of this.#translator.toEvents(packet, 'server'))
      out.events.push({ type: 'inbound', event });
  }

  #fromVerifiedClient(frame: Uint8Array, out: SessionOutput): void {
    const packet = this.#watch('client', frame, out);
    const targetKey = TARGET_KEY[packet.service];
    const target = targetKey === undefined ? undefined : packet.get(targetKey);
    if (target === undefined || !this.#translator.isForeign(this.#translator.address(target))) {
      out.toServer.push(frame.slice());
      if (OWN_PRESENCE.has(packet.service)) this.#ownPresence(packet, out);
      return;
    }
    // Addressed to a foreign user: the native server must not see it.
    const events = this.#translator.toEvents(packet, 'client');
    if (packet.service === S.REMBUDDY) {
      // No canonical "remove" kind: reported as a refusal, which ends the subscription both ways.
      events.push({
        kind: 'buddy-response',
        from: this.#user!,
        to: this.#translator.address(target),
        accepted: false,
      });
    }
    for (const event of events) out.events.push({ type: 'outbound', event });
    this.#answerLocally(packet, target, out);
  }

  /** The user's own status change, on its way to the server: foreign buddies should see it too. */
  #ownPresence(packet: YmsgPacket, out: SessionOutput): void {
    let events: CanonicalEvent[] = [];
    try {
      events = this.#translator.toEvents(packet, 'client');
    } catch (error) {
      // The server got it unchanged; a status we cannot read is not mirrored.
      out.events.push({ type: 'untranslated', direction: 'client', error: toProtocolError(error, PROTOCOL) });
      return;
    }
    for (const event of events) if (event.kind === 'presence') out.events.push({ type: 'self', event });
  }

  /** What the server would have answered, for packets whose answer the client waits for. */
  #answerLocally(packet: YmsgPacket, target: string, out: SessionOutput): void {
    if (packet.service !== S.ADDBUDDY && packet.service !== S.REMBUDDY) return;
    // ADDBUDDY/REMBUDDY reply: status 1 {1 7 65 66=0} (Escargot transcript #0057; libpurple yahoo_process_addbuddy).
    const reply = ymsgPacket(
      packet.service,
      [
        [K.CURRENT_ID, packet.get(K.CURRENT_ID) ?? this.#user!.user],
        [K.BUDDY, target],
        [K.GROUP, packet.bytes(K.GROUP) ?? ''],
        [K.RESULT, '0'],
      ],
      this.#translator.header('server', STATUS_ACK),
    );
    this.#toClient(out, encodePacket(reply));
  }
}
