import {
  type Address,
  addressToNative,
  type BuddyRequestEvent,
  type BuddyResponseEvent,
  type CanonicalEvent,
  type Direction,
  type ImEvent,
  nativeToAddress,
  type PresenceEvent,
  type PresenceStatus,
  type RosterEvent,
  type RosterItem,
  rulesFor,
  type Translator,
  type TranslatorOptions,
  type TypingEvent,
  UnsupportedEventError,
} from '@crosstalk/core';
import { PROTOCOL, protocolVersion } from '../header/header.js';
import { type ListEntry, ListParser, list15Records, v9Lines } from '../list/list-parser.js';
import { type YmsgPacket, type YmsgValue, ymsgPacket } from '../packet/packet.js';
import { YmsgKey as K } from '../protocol/keys.js';
import { YmsgService as S } from '../protocol/services.js';
import { STATUS_ACK, STATUS_ADD_DENIED, STATUS_ADD_REQUEST, YmsgStatus } from '../protocol/status.js';
import { htmlToYahooText, parseYahooText } from '../text/formatting.js';
import { decodeName, decodeText } from '../text/values.js';

export const NETWORKS = ['yahoo'] as const;

/** Yahoo's own mail domains: `id@yahoo.com` names the Yahoo id `id` (Escargot strips them the same way). */
const YAHOO_MAIL = /^([A-Za-z0-9][A-Za-z0-9_.+-]*)@(?:yahoo|ymail|rocketmail)(?:\.[a-z]{2,3}){1,2}$/i;

/**
 * Which generation of the protocol to speak when writing packets: `v10` is YMSG9-12 as Escargot
 * and the recorded transcripts speak it (LIST key 87, LOGON/ISAWAY/ISBACK presence, NEWCONTACT
 * authorisation notices); `v16` is YMSG13-16 as libpurple 2.10 speaks it (LIST_15, STATUS_15 /
 * Y6_STATUS_UPDATE, AUTH_REQ_15).
 */
export type YmsgDialect = 'v10' | 'v16';

/** Options of the YMSG translator. */
export interface YmsgTranslatorOptions extends TranslatorOptions {
  /** Dialect before the connection shows one (default `v16`); learned from headers and login packets. */
  dialect?: YmsgDialect;
  /** Group for buddies whose event names none (default `Buddies`, libpurple's default). */
  defaultGroup?: string;
}

/** What a presence record (key 7 and the keys after it) says. */
interface BuddyState {
  id: string;
  federation?: string;
  state?: number;
  custom?: Uint8Array;
  away?: string;
  flag?: string;
  idleSeconds?: number;
}

const AWAY_STATES = new Set([1, 3, 4, 5, 6, 7, 8, 9]); // BRB, not at home ... stepped out

/** The header version a dialect writes when the connection has shown none (libpurple YAHOO_PROTO_VER). */
const DEFAULT_VERSION: Record<YmsgDialect, number> = { v10: 0x000a, v16: 0x0010 };

/**
 * Stateful frames <-> canonical events for one YMSG connection. It learns the logged-in user from
 * the login packets, the dialect from header versions and login keys, the session id and header
 * version/vendor each side writes, so packets it builds look like the ones around them.
 */
export class YmsgTranslator implements Translator<YmsgPacket> {
  readonly #isForeign: (a: Address) => boolean;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #defaultGroup: string;
  #self: Address | undefined;
  #dialect: YmsgDialect;
  #dialectKnown = false;
  #dialectFromClientHeader = false;
  #sessionId = 0;
  readonly #header: Record<Direction, { version: number; vendor: number } | undefined> = {
    client: undefined,
    server: undefined,
  };
  readonly #lists = new ListParser();
  /** Buddies this translator has shown online to the client (LOGON/STATUS_15 first, then updates). */
  readonly #shownOnline = new Set<string>();
  /** Who asked the user for authorisation (lower-case ids): adding them back answers (Escargot). */
  readonly #askedBy = new Set<string>();
  #ids = 0;

  constructor(options: YmsgTranslatorOptions = {}) {
    // Yahoo ids never hold an "@": standalone, any `user@network` that is a valid address elsewhere
    // (a built-in network or an XMPP domain) names a foreign user.
    this.#isForeign = options.isForeign ?? ((a) => !NETWORKS.includes(a.network as 'yahoo'));
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => `ymsg-${++this.#ids}`);
    this.#self = options.self;
    this.#dialect = options.dialect ?? 'v16';
    this.#defaultGroup = options.defaultGroup ?? 'Buddies';
  }

  get self(): Address | undefined {
    return this.#self;
  }

  get dialect(): YmsgDialect {
    return this.#dialect;
  }

  /** The session id the server assigned (header of its replies), 0 until it did. */
  get sessionId(): number {
    return this.#sessionId;
  }

  /**
   * The address behind a native Yahoo name: a foreign buddy `bob@aol` when `isForeign` says so; a
   * Yahoo id written as mail (`erin@yahoo.com`, Escargot REJECTCONTACT) is the id; with key 241 = 2
   * (Yahoo's own MSN federation, libpurple YAHOO_FEDERATION_MSN) the name is an MSN passport.
   */
  address(native: string, federation?: string): Address {
    if (federation === '2' && rulesFor('msn').checkUser(native) === undefined)
      return { user: native, network: 'msn' };
    const mail = YAHOO_MAIL.exec(native);
    if (mail) return { user: mail[1]!, network: 'yahoo' };
    return nativeToAddress(native, 'yahoo', this.#isForeign);
  }

  native(address: Address): string {
    return addressToNative(address, NETWORKS);
  }

  isForeign(address: Address): boolean {
    return address.network !== 'yahoo' && this.#isForeign(address);
  }

  /** True when `native` names the logged-in user (Yahoo ids compare case-insensitively). */
  isSelf(native: string | undefined): boolean {
    return (
      native !== undefined &&
      this.#self !== undefined &&
      native.toLowerCase() === this.#self.user.toLowerCase()
    );
  }

  /** Learns what a packet says about the connection (user, dialect, session id, header style). */
  observe(packet: YmsgPacket, direction: Direction): void {
    this.#header[direction] = { version: packet.version, vendor: packet.vendor };
    const generation = protocolVersion(packet.version);
    if (generation >= 9 && generation <= 16) {
      // A client that writes YMSG13+ headers reads YMSG13+ packets (AUTH_REQ_15 notices), whatever
      // login it used: its own header version settles the dialect; a server's is only a hint.
      const dialect = generation >= 13 ? 'v16' : 'v10';
      if (direction === 'client') {
        this.#dialect = dialect;
        this.#dialectFromClientHeader = true;
      } else this.#setDialect(dialect);
    }
    if (direction === 'server' && packet.sessionId !== 0) this.#sessionId = packet.sessionId;
    if (packet.service === S.AUTHRESP && direction === 'client' && !this.#dialectFromClientHeader) {
      // Escargot's clients write version 0 (`00 00`): then the login keys tell.
      if (packet.has(K.TOKEN_HASH)) this.#setDialect('v16', true);
      else if (packet.has(K.HASH_PASSWORD)) this.#setDialect('v10', true);
    }
    if (this.#self === undefined) {
      const id = this.#loginId(packet, direction);
      if (id) this.#self = { user: id, network: 'yahoo' };
    }
  }

  #setDialect(dialect: YmsgDialect, sure = false): void {
    if (sure || !this.#dialectKnown) this.#dialect = dialect;
    if (sure) this.#dialectKnown = true;
  }

  /** The user a login packet names: AUTH key 1, AUTHRESP keys 0/1/2 (libpurple yahoo_auth16_stage3). */
  #loginId(packet: YmsgPacket, direction: Direction): string | undefined {
    if (packet.service === S.AUTH) return packet.get(K.CURRENT_ID) || undefined;
    if (packet.service === S.AUTHRESP && direction === 'client') {
      return packet.get(K.USERNAME) || packet.get(K.CURRENT_ID) || packet.get(K.ACTIVE_ID) || undefined;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ frames -> events

  toEvents(packet: YmsgPacket, direction: Direction): CanonicalEvent[] {
    this.observe(packet, direction);
    if (packet.raw !== undefined) return [];
    switch (packet.service) {
      case S.MESSAGE:
        return this.#messages(packet, direction);
      case S.NOTIFY:
        return this.#typing(packet, direction);
      case S.LOGON:
      case S.LOGOFF:
      case S.ISAWAY:
      case S.ISBACK:
      case S.Y6_STATUS_UPDATE:
      case S.STATUS_15:
        return direction === 'server' ? this.#buddyPresence(packet) : this.#ownPresence(packet);
      case S.Y6_VISIBLE_TOGGLE: {
        // libpurple yahoo_set_status: 13 = 2 goes invisible, 13 = 1 visible again.
        const from = this.#self;
        if (direction !== 'client' || !from) return [];
        return [
          {
            kind: 'presence',
            from,
            status: packet.get(K.FLAG) === '2' ? 'invisible' : 'online',
          },
        ];
      }
      case S.NEWCONTACT:
        return direction === 'server' ? this.#newContact(packet) : [];
      case S.AUTH_REQ_15:
        return this.#authorization(packet, direction);
      case S.REJECTCONTACT:
        return direction === 'client' ? this.#reject(packet) : [];
      case S.ADDBUDDY:
        return direction === 'client' ? this.#addBuddy(packet) : [];
      case S.LIST:
      case S.LIST_15:
        return direction === 'server' ? this.#roster(packet) : [];
      default:
        return [];
    }
  }

  #utf8(packet: YmsgPacket): boolean {
    return packet.get(K.UTF8) === '1';
  }

  #from(packet: YmsgPacket, direction: Direction): string | undefined {
    // A server names the sender in key 4; a client names itself in key 1 (or 4 in p2p packets).
    return direction === 'server'
      ? (packet.get(K.SENDER) ?? packet.get(K.CURRENT_ID))
      : (packet.get(K.CURRENT_ID) ?? packet.get(K.SENDER) ?? this.#self?.user);
  }

  #messages(packet: YmsgPacket, direction: Direction): ImEvent[] {
    if (direction === 'server' && packet.status === YmsgStatus.BUSY) return []; // "message not sent"
    const texts = packet.getAll(K.MESSAGE);
    if (texts.length === 0) return [];
    // An offline batch repeats 4/5/14/15/97 per message (libpurple yahoo_process_message).
    const froms = direction === 'server' ? packet.getAll(K.SENDER) : packet.getAll(K.CURRENT_ID);
    const tos = packet.getAll(K.TARGET);
    const times = packet.getAll(K.TIME);
    const flags = packet.getAll(K.UTF8);
    // Key 241 names the buddy's network; Yahoo ids never hold an "@", so it can apply to both ends.
    const federation = packet.get(K.FEDERATION);
    const values: Uint8Array[] = [];
    packet.forEachPair((k, v) => {
      if (k === K.MESSAGE) values.push(v.slice());
    });
    const events: ImEvent[] = [];
    values.forEach((value, i) => {
      const from = froms[i] ?? froms[0] ?? this.#from(packet, direction);
      const to = tos[i] ?? tos[0] ?? (direction === 'server' ? this.#self?.user : undefined);
      if (!from || !to) return;
      const time = Number.parseFloat(times[i] ?? '');
      const utf8 = (flags[i] ?? flags[0]) === '1';
      const { text, html } = parseYahooText(decodeText(value, utf8));
      events.push({
        kind: 'im',
        id: this.#newId(),
        from: this.address(from, federation),
        to: this.address(to, federation),
        text,
        ...(html !== undefined ? { html } : {}),
        sentAt: Number.isFinite(time) && time >= 0 ? Math.round(time * 1000) : this.#now(),
      });
    });
    return events;
  }

  #typing(packet: YmsgPacket, direction: Direction): TypingEvent[] {
    if (!(packet.get(K.NOTIFY_TYPE) ?? '').toUpperCase().startsWith('TYPING')) return [];
    const from = this.#from(packet, direction);
    const to = packet.get(K.TARGET) ?? (direction === 'server' ? this.#self?.user : undefined);
    if (!from || !to) return [];
    // Yahoo typing is on/off (libpurple yahoo_process_notify): on -> composing, off -> paused.
    const on = (packet.get(K.FLAG) ?? '').startsWith('1');
    return [
      {
        kind: 'typing',
        from: this.address(from, packet.get(K.FEDERATION)),
        to: this.address(to, packet.get(K.FEDERATION)),
        state: on ? 'composing' : 'paused',
      },
    ];
  }

  /** Buddy presence records: each starts at key 7 (libpurple yahoo_process_status). */
  #records(packet: YmsgPacket): BuddyState[] {
    const records: BuddyState[] = [];
    let current: BuddyState | undefined;
    packet.forEachPair((key, value) => {
      if (key === K.BUDDY) {
        current = { id: latinOf(value) };
        records.push(current);
        return;
      }
      if (!current) return;
      const s = latinOf(value);
      if (key === K.STATE) current.state = Number.parseInt(s, 10);
      else if (key === K.CUSTOM_STATUS) current.custom = value.slice();
      else if (key === K.AWAY) current.away = s;
      else if (key === K.FLAG) current.flag = s;
      else if (key === K.IDLE_SECONDS) current.idleSeconds = Number.parseInt(s, 10);
      else if (key === K.FEDERATION) current.federation = s;
    });
    return records;
  }

  #presenceOf(
    service: number,
    r: Omit<BuddyState, 'id'>,
    utf8: boolean,
  ): { status: PresenceStatus; text?: string; idleSince?: number } {
    const state = r.state ?? 0;
    const text = r.custom && r.custom.length > 0 ? decodeText(r.custom, utf8) : undefined;
    const withText = (status: PresenceStatus) => (text !== undefined ? { status, text } : { status });
    if (service === S.LOGOFF || r.flag === '0' || state === -1 || state === YmsgStatus.INVISIBLE) {
      return { status: 'offline' };
    }
    const idleSince = () => this.#now() - (Number.isFinite(r.idleSeconds) ? r.idleSeconds! * 1000 : 0);
    if (state === YmsgStatus.IDLE || (state === YmsgStatus.CUSTOM && r.away === '2')) {
      return { ...withText('idle'), idleSince: idleSince() };
    }
    if (state === YmsgStatus.BUSY) return withText('busy');
    if (AWAY_STATES.has(state)) return withText('away');
    if (state === YmsgStatus.CUSTOM) return withText(r.away === '1' ? 'away' : 'online');
    return withText('online');
  }

  #buddyPresence(packet: YmsgPacket): PresenceEvent[] {
    if (packet.status === YmsgStatus.LOGIN_ERROR) return []; // LOGOFF -1: signed on elsewhere
    const utf8 = this.#utf8(packet);
    return this.#records(packet).map((r) => {
      const p = this.#presenceOf(packet.service, r, utf8);
      if (p.status === 'offline') this.#shownOnline.delete(r.id.toLowerCase());
      else this.#shownOnline.add(r.id.toLowerCase());
      return { kind: 'presence', from: this.address(r.id, r.federation), ...p };
    });
  }

  #ownPresence(packet: YmsgPacket): PresenceEvent[] {
    const id = packet.get(K.CURRENT_ID);
    const from = this.#self ?? (id ? this.address(id) : undefined);
    if (!from) return [];
    const state = Number.parseInt(
      packet.get(K.STATE) ?? (packet.service === S.ISAWAY ? String(packet.status) : '0'),
      10,
    );
    if (state === YmsgStatus.INVISIBLE) return [{ kind: 'presence', from, status: 'invisible' }];
    const p = this.#presenceOf(
      packet.service,
      {
        state,
        ...(packet.has(K.CUSTOM_STATUS) ? { custom: packet.bytes(K.CUSTOM_STATUS)!.slice() } : {}),
        ...(packet.has(K.AWAY) ? { away: packet.get(K.AWAY)! } : {}),
      },
      this.#utf8(packet),
    );
    return [{ kind: 'presence', from, ...p }];
  }

  #newContact(packet: YmsgPacket): CanonicalEvent[] {
    const to = packet.get(K.CURRENT_ID) ?? this.#self?.user;
    const who = packet.get(K.USER_ID);
    const message = packet.bytes(K.MESSAGE);
    const text = message && message.length > 0 ? decodeText(message, this.#utf8(packet)) : undefined;
    // Escargot: status 3 "someone added you", status 7 "your request was denied" (captures/README.md).
    if (packet.status === STATUS_ADD_REQUEST && who && to) {
      this.#askedBy.add(who.toLowerCase());
      const e: BuddyRequestEvent = { kind: 'buddy-request', from: this.address(who), to: this.address(to) };
      return [text !== undefined ? { ...e, message: text } : e];
    }
    if (packet.status === STATUS_ADD_DENIED && who && to) {
      const e: BuddyResponseEvent = {
        kind: 'buddy-response',
        from: this.address(who),
        to: this.address(to),
        accepted: false,
      };
      return [text !== undefined ? { ...e, message: text } : e];
    }
    return this.#buddyPresence(packet);
  }

  #authorization(packet: YmsgPacket, direction: Direction): CanonicalEvent[] {
    const message = packet.bytes(K.MESSAGE);
    const text = message && message.length > 0 ? decodeText(message, this.#utf8(packet)) : undefined;
    if (direction === 'client') {
      // The answer: 1 me, 5 the requester, 13 = 1 accept / 2 deny (libpurple yahoo_buddy_add_authorize_cb).
      const from = packet.get(K.CURRENT_ID) ?? this.#self?.user;
      const to = packet.get(K.TARGET);
      if (!from || !to) return [];
      this.#askedBy.delete(to.toLowerCase());
      const e: BuddyResponseEvent = {
        kind: 'buddy-response',
        from: this.address(from),
        to: this.address(to),
        accepted: packet.get(K.FLAG) === '1',
      };
      return [text !== undefined ? { ...e, message: text } : e];
    }
    const sender = packet.get(K.SENDER);
    const to = packet.get(K.TARGET) ?? this.#self?.user;
    if (!sender || !to) return [];
    const from = sender;
    const fromAddress = this.address(sender, packet.get(K.FEDERATION));
    if (packet.status === STATUS_ADD_REQUEST) {
      this.#askedBy.add(from.toLowerCase());
      const first = packet.bytes(K.FIRST_NAME);
      const last = packet.bytes(K.LAST_NAME);
      const name = [first, last]
        .filter((b): b is Uint8Array => b !== undefined && b.length > 0)
        .map(decodeName)
        .join(' ');
      const e: BuddyRequestEvent = {
        kind: 'buddy-request',
        from: fromAddress,
        to: this.address(to),
        ...(name ? { name } : {}),
      };
      return [text !== undefined ? { ...e, message: text } : e];
    }
    if (packet.status === STATUS_ACK && packet.has(K.FLAG)) {
      const e: BuddyResponseEvent = {
        kind: 'buddy-response',
        from: fromAddress,
        to: this.address(to),
        accepted: packet.get(K.FLAG) === '1',
      };
      return [text !== undefined ? { ...e, message: text } : e];
    }
    return [];
  }

  #reject(packet: YmsgPacket): BuddyResponseEvent[] {
    const from = packet.get(K.CURRENT_ID) ?? this.#self?.user;
    const to = packet.get(K.BUDDY);
    if (!from || !to) return [];
    this.#askedBy.delete(to.toLowerCase());
    const message = packet.bytes(K.MESSAGE);
    const e: BuddyResponseEvent = {
      kind: 'buddy-response',
      from: this.address(from),
      to: this.address(to),
      accepted: false,
    };
    return [message && message.length > 0 ? { ...e, message: decodeText(message, this.#utf8(packet)) } : e];
  }

  #addBuddy(packet: YmsgPacket): (BuddyRequestEvent | BuddyResponseEvent)[] {
    const from = packet.get(K.CURRENT_ID) ?? this.#self?.user;
    const to = packet.get(K.BUDDY);
    if (!from || !to) return [];
    if (this.#askedBy.delete(to.toLowerCase())) {
      // Adding back someone who asked is how YMSG10 clients accept (captures/README.md, Escargot).
      return [{ kind: 'buddy-response', from: this.address(from), to: this.address(to), accepted: true }];
    }
    const message = packet.bytes(K.MESSAGE);
    const e: BuddyRequestEvent = { kind: 'buddy-request', from: this.address(from), to: this.address(to) };
    return [message && message.length > 0 ? { ...e, message: decodeText(message, this.#utf8(packet)) } : e];
  }

  #roster(packet: YmsgPacket): RosterEvent[] {
    const entries = this.#lists.push(packet);
    if (!entries || !this.#self) return [];
    return [{ kind: 'roster', owner: this.#self, items: entries.map((e) => this.rosterItem(e)) }];
  }

  /** A server list entry as a roster item: Yahoo lists are one-way ("to"); key 223 marks pending. */
  rosterItem(entry: ListEntry): RosterItem {
    return {
      address: this.address(entry.id, entry.federation),
      groups: entry.groups.map((g) => decodeName(Uint8Array.from(g, (c) => c.charCodeAt(0) & 0xff))),
      subscription: 'to',
      pending: entry.pending,
    };
  }

  // ------------------------------------------------------------------ events -> frames

  /** Header fields for a packet `direction` would write, mimicking what that side wrote so far. */
  header(
    direction: Direction,
    status: number,
  ): { version: number; vendor: number; status: number; sessionId: number } {
    const seen = this.#header[direction];
    return {
      version: seen?.version ?? DEFAULT_VERSION[this.#dialect],
      vendor: seen?.vendor ?? 0,
      status,
      sessionId: this.#sessionId,
    };
  }

  #packet(direction: Direction, service: number, status: number, pairs: [number, YmsgValue][]): YmsgPacket {
    return ymsgPacket(service, pairs, this.header(direction, status));
  }

  fromEvent(event: CanonicalEvent, direction: Direction): YmsgPacket[] {
    switch (event.kind) {
      case 'im':
        return [this.#imPacket(event, direction)];
      case 'typing':
        return [this.#typingPacket(event, direction)];
      case 'presence':
        return this.#presencePackets(event, direction);
      case 'buddy-request':
        return [this.#requestPacket(event, direction)];
      case 'buddy-response':
        return this.#responsePackets(event, direction);
      case 'roster':
        if (direction === 'server') return [this.#rosterPacket(event)];
        throw new UnsupportedEventError(PROTOCOL, event.kind, 'a client does not send its whole list');
      default:
        throw new UnsupportedEventError(PROTOCOL, event.kind);
    }
  }

  #body(event: ImEvent): string {
    return event.html !== undefined ? htmlToYahooText(event.html) : event.text;
  }

  #imPacket(event: ImEvent, direction: Direction): YmsgPacket {
    const from = this.native(event.from);
    const to = this.native(event.to);
    if (direction === 'client') {
      // libpurple yahoo_send_im: status 0x5A55AA56, keys 1 5 97 14 63 64 1002 206.
      return this.#packet('client', S.MESSAGE, YmsgStatus.OFFLINE, [
        [K.CURRENT_ID, from],
        [K.TARGET, to],
        [K.UTF8, '1'],
        [K.MESSAGE, this.#body(event)],
        [63, ';0'],
        [64, '0'],
        [1002, '1'],
        [206, '0'],
      ]);
    }
    // As a server delivers it: status 1, keys 4 5 14 15 97 (OpenYMSG MessageResponseTest order).
    return this.#packet('server', S.MESSAGE, STATUS_ACK, [
      [K.SENDER, from],
      [K.TARGET, to],
      [K.MESSAGE, this.#body(event)],
      [K.TIME, String(Math.floor(event.sentAt / 1000))],
      [K.UTF8, '1'],
    ]);
  }

  #typingPacket(event: TypingEvent, direction: Direction): YmsgPacket {
    const on = event.state === 'composing' ? '1' : '0';
    if (direction === 'client') {
      // libpurple yahoo_send_typing: status 0x16, keys 49 1 14 13 5 1002.
      return this.#packet('client', S.NOTIFY, YmsgStatus.TYPING, [
        [K.NOTIFY_TYPE, 'TYPING'],
        [K.CURRENT_ID, this.native(event.from)],
        [K.MESSAGE, ' '],
        [K.FLAG, on],
        [K.TARGET, this.native(event.to)],
        [1002, '1'],
      ]);
    }
    // OpenYMSG TypingNotificationResponseTest: status 1, keys 4 5 13 14 49.
    return this.#packet('server', S.NOTIFY, STATUS_ACK, [
      [K.SENDER, this.native(event.from)],
      [K.TARGET, this.native(event.to)],
      [K.FLAG, on],
      [K.MESSAGE, ' '],
      [K.NOTIFY_TYPE, 'TYPING'],
    ]);
  }

  /** Key 10 / 19 / 47 for a canonical status (libpurple yahoo_set_status: custom status for away with text). */
  #stateKeys(event: PresenceEvent): [number, YmsgValue][] {
    const text = event.text;
    switch (event.status) {
      case 'online':
        return text
          ? [
              [K.STATE, YmsgStatus.CUSTOM],
              [K.CUSTOM_STATUS, text],
              [K.AWAY, '0'],
            ]
          : [[K.STATE, '0']];
      case 'away':
        return [
          [K.STATE, YmsgStatus.CUSTOM],
          [K.CUSTOM_STATUS, text ?? 'Away'],
          [K.AWAY, '1'],
        ];
      case 'busy':
        return text
          ? [
              [K.STATE, YmsgStatus.CUSTOM],
              [K.CUSTOM_STATUS, text],
              [K.AWAY, '1'],
            ]
          : [[K.STATE, YmsgStatus.BUSY]];
      case 'idle': {
        const idle: [number, YmsgValue][] =
          event.idleSince !== undefined
            ? [[K.IDLE_SECONDS, String(Math.max(0, Math.floor((this.#now() - event.idleSince) / 1000)))]]
            : [];
        return text
          ? [[K.STATE, YmsgStatus.CUSTOM], [K.CUSTOM_STATUS, text], [K.AWAY, '2'], ...idle]
          : [[K.STATE, YmsgStatus.IDLE], ...idle];
      }
      default:
        return [[K.STATE, YmsgStatus.INVISIBLE]];
    }
  }

  #presencePackets(event: PresenceEvent, direction: Direction): YmsgPacket[] {
    const keys = this.#stateKeys(event);
    const utf8: [number, YmsgValue][] = event.text ? [[K.UTF8, '1']] : [];
    if (direction === 'client') {
      if (event.status === 'offline') return [this.#packet('client', S.LOGOFF, 0, [])];
      if (this.#dialect === 'v16') {
        if (event.status === 'invisible')
          return [this.#packet('client', S.Y6_VISIBLE_TOGGLE, 0, [[K.FLAG, '2']])];
        return [this.#packet('client', S.Y6_STATUS_UPDATE, 0, [...keys, ...utf8])];
      }
      // YMSG10 as the Escargot transcript's client sends it: ISBACK {10}, ISAWAY status = state {10 19 47}.
      if (event.status === 'online' && !event.text) return [this.#packet('client', S.ISBACK, 0, keys)];
      const state = Number(keys[0]![1]);
      return [this.#packet('client', S.ISAWAY, state, [...keys, ...utf8])];
    }
    const buddy = this.native(event.from);
    const id = buddy.toLowerCase();
    if (event.status === 'offline' || event.status === 'invisible') {
      this.#shownOnline.delete(id);
      // Escargot LOGOFF {7 10 11 17 13}; libpurple needs only 7.
      const pairs: [number, YmsgValue][] =
        this.#dialect === 'v10'
          ? [
              [K.BUDDY, buddy],
              [K.STATE, '0'],
              [K.IN_CHAT, '0'],
              [K.FLAG, '0'],
            ]
          : [[K.BUDDY, buddy]];
      return [this.#packet('server', S.LOGOFF, STATUS_ACK, pairs)];
    }
    const first = !this.#shownOnline.has(id);
    this.#shownOnline.add(id);
    if (this.#dialect === 'v16') {
      if (first) {
        // STATUS_15 for a buddy coming online (OpenYMSG SingleStatusResponseTest: 302/300:315 ... 301/303:315).
        return [
          this.#packet('server', S.STATUS_15, STATUS_ACK, [
            [K.RECORD_START, K.LIST_MARK_PRESENCE],
            [K.LIST_START, K.LIST_MARK_PRESENCE],
            [K.BUDDY, buddy],
            ...keys,
            [K.FLAG, '1'],
            ...utf8,
            [K.RECORD_END, K.LIST_MARK_PRESENCE],
            [K.LIST_END, K.LIST_MARK_PRESENCE],
          ]),
        ];
      }
      return [
        this.#packet('server', S.Y6_STATUS_UPDATE, STATUS_ACK, [
          [K.BUDDY, buddy],
          ...keys,
          ...utf8,
          [K.FLAG, '1'],
        ]),
      ];
    }
    // Escargot on_presence_notification: LOGON when coming online, ISBACK/ISAWAY after; {0 7 10 [19 47] 17 13}.
    const service = first ? S.LOGON : event.status === 'online' && !event.text ? S.ISBACK : S.ISAWAY;
    const me: [number, YmsgValue][] = this.#self ? [[K.USERNAME, this.#self.user]] : [];
    return [
      this.#packet('server', service, STATUS_ACK, [
        ...me,
        [K.BUDDY, buddy],
        ...keys,
        ...utf8,
        [K.IN_CHAT, '0'],
        [K.FLAG, '1'],
      ]),
    ];
  }

  #requestPacket(event: BuddyRequestEvent, direction: Direction): YmsgPacket {
    const from = this.native(event.from);
    const to = this.native(event.to);
    // A request we show the client may be answered the YMSG10 way, by adding the requester back.
    if (direction === 'server') this.#askedBy.add(from.toLowerCase());
    const message: [number, YmsgValue][] = event.message ? [[K.MESSAGE, event.message]] : [];
    if (direction === 'client') {
      if (this.#dialect === 'v16') {
        // libpurple yahoo_add_buddy: 14 65 97 1 302 300 7 334 301 303.
        return this.#packet('client', S.ADDBUDDY, 0, [
          [K.MESSAGE, event.message ?? ''],
          [K.GROUP, this.#defaultGroup],
          [K.UTF8, '1'],
          [K.CURRENT_ID, from],
          [K.RECORD_START, K.LIST_MARK_BUDDY],
          [K.LIST_START, K.LIST_MARK_BUDDY],
          [K.BUDDY, to],
          [K.AUTH_FLAG, '0'],
          [K.RECORD_END, K.LIST_MARK_BUDDY],
          [K.LIST_END, K.LIST_MARK_BUDDY],
        ]);
      }
      // The Escargot transcript's client: ADDBUDDY {1 7 65 [14]}.
      return this.#packet('client', S.ADDBUDDY, 0, [
        [K.CURRENT_ID, from],
        [K.BUDDY, to],
        [K.GROUP, this.#defaultGroup],
        ...message,
      ]);
    }
    if (this.#dialect === 'v16') {
      // AUTH_REQ_15 status 3 {4 5 [14 97] [216]} (libpurple yahoo_buddy_auth_req_15 reads 4 5 14 216 254).
      return this.#packet('server', S.AUTH_REQ_15, STATUS_ADD_REQUEST, [
        [K.SENDER, from],
        [K.TARGET, to],
        ...(event.message
          ? ([
              [K.MESSAGE, event.message],
              [K.UTF8, '1'],
            ] as [number, YmsgValue][])
          : []),
        ...(event.name ? ([[K.FIRST_NAME, event.name]] as [number, YmsgValue][]) : []),
      ]);
    }
    // Escargot on_added_me: NEWCONTACT status 3 {1 3 [14 97] 15}.
    return this.#packet('server', S.NEWCONTACT, STATUS_ADD_REQUEST, [
      [K.CURRENT_ID, to],
      [K.USER_ID, from],
      ...(event.message
        ? ([
            [K.MESSAGE, event.message],
            [K.UTF8, '1'],
          ] as [number, YmsgValue][])
        : []),
      [K.TIME, String(Math.floor(this.#now() / 1000))],
    ]);
  }

  #responsePackets(event: BuddyResponseEvent, direction: Direction): YmsgPacket[] {
    const from = this.native(event.from);
    const to = this.native(event.to);
    const message: [number, YmsgValue][] = event.message
      ? [
          [K.UTF8, '1'],
          [K.MESSAGE, event.message],
        ]
      : [];
    if (direction === 'client') {
      if (this.#dialect === 'v10') {
        // Escargot: accepting is adding the requester back; denying is REJECTCONTACT {1 7 14}.
        if (event.accepted) {
          return [
            this.#packet('client', S.ADDBUDDY, 0, [
              [K.CURRENT_ID, from],
              [K.BUDDY, to],
              [K.GROUP, this.#defaultGroup],
            ]),
          ];
        }
        return [
          this.#packet('client', S.REJECTCONTACT, 0, [
            [K.CURRENT_ID, from],
            [K.BUDDY, to],
            [K.MESSAGE, event.message ?? ''],
          ]),
        ];
      }
      // libpurple yahoo_buddy_add_authorize_cb / _deny_cb: {1 5 13 334 [97 14]}.
      return [
        this.#packet('client', S.AUTH_REQ_15, 0, [
          [K.CURRENT_ID, from],
          [K.TARGET, to],
          [K.FLAG, event.accepted ? '1' : '2'],
          [K.AUTH_FLAG, '0'],
          ...(event.accepted ? [] : message),
        ]),
      ];
    }
    if (this.#dialect === 'v16') {
      // AUTH_REQ_15 status 1 {4 5 13 [14]} (libpurple yahoo_buddy_auth_req_15, "pkt->status == 1").
      return [
        this.#packet('server', S.AUTH_REQ_15, STATUS_ACK, [
          [K.SENDER, from],
          [K.TARGET, to],
          [K.FLAG, event.accepted ? '1' : '2'],
          ...message,
        ]),
      ];
    }
    // YMSG10 has no "accepted" notice (Escargot shows presence only); a denial is NEWCONTACT status 7 {1 3 14}.
    if (event.accepted) return [];
    return [
      this.#packet('server', S.NEWCONTACT, STATUS_ADD_DENIED, [
        [K.CURRENT_ID, to],
        [K.USER_ID, from],
        [K.MESSAGE, event.message ?? ''],
      ]),
    ];
  }

  /** A roster as the server lists it: LIST key 87 lines (v10) or LIST_15 group records (v16). */
  #rosterPacket(event: RosterEvent): YmsgPacket {
    const additions = event.items.flatMap((item) =>
      (item.groups.length ? item.groups : [this.#defaultGroup]).map((group) => ({
        id: this.native(item.address),
        group,
        pending: item.pending,
      })),
    );
    if (this.#dialect === 'v10') {
      return this.#packet('server', S.LIST, 0, [[K.BUDDY_LIST, v9Lines(additions)]]);
    }
    return this.#packet('server', S.LIST_15, 0, [
      [K.RECORD_START, K.LIST_MARK_GROUP],
      ...list15Records(additions),
      [K.LIST_END, K.LIST_MARK_GROUP],
    ]);
  }
}

function latinOf(value: Uint8Array): string {
  let s = '';
  for (let i = 0; i < value.length; i++) s += String.fromCharCode(value[i]!);
  return s;
}
