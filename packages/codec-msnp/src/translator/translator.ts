import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type Direction,
  defaultIsForeign,
  formatAddress,
  type ImEvent,
  isAddressString,
  type PresenceEvent,
  type PresenceStatus,
  type RosterItem,
  type Translator,
  type TranslatorOptions,
  UnsupportedEventError,
} from '@crosstalk/core';
import { argValue, command, encodeArg, type MsnpCommand, type MsnpFrame } from '../command/command.js';
import { PROTOCOL } from '../command/framer.js';
import { contactGuid } from '../contacts/contact-guid.js';
import { type ContactEntry, ContactListSync } from '../contacts/contact-list-sync.js';
import { listBitsOf, subscriptionOf } from '../contacts/lists.js';
import { formatImFormat, htmlToImFormat, imFormatValueToHtml } from '../mime/im-format.js';
import { formatMime, type MimeMessage, mimeHeader, mimeType, parseMime } from '../mime/mime-message.js';
import { addressToPassport, MSN_NETWORK, passportKey, resolveName } from '../names/passport.js';
import { personalMessageText, personalMessageXml } from '../presence/personal-message.js';
import { statusFromMsn, statusToMsn } from '../presence/status.js';

/** Options of the MSNP translator. */
export interface MsnpTranslatorOptions extends TranslatorOptions {
  /** Protocol version assumed until a `VER` reply is seen. Default 12. */
  dialect?: number;
  /** Which foreign-looking domains are really foreign (see `passportToAddress`). */
  knownForeign?: (a: Address) => boolean;
}

const utf8 = new TextDecoder('utf-8');
/** The default foreign test, one for every translator. */
const DEFAULT_IS_FOREIGN = defaultIsForeign([MSN_NETWORK]);
const utf8Encoder = new TextEncoder();

/** Client capabilities we announce in `CHG` and `NLN` we write: none (MSNP wiki "Client Capabilities"). */
const NO_CAPABILITIES = '0';

/** The MIME of a plain-text message (Escargot msnp_sb.py `messagedata_to_msnp`). */
export function textMessagePayload(text: string, html?: string): Uint8Array {
  const headers: [string, string][] = [
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/plain; charset=UTF-8'],
  ];
  if (html !== undefined) headers.push(['X-MMS-IM-Format', formatImFormat(htmlToImFormat(html))]);
  return formatMime(headers, text);
}

/** The MIME of a typing notification: `text/x-msmsgscontrol` with `TypingUser` (PROTOCOLS.md). */
export function typingPayload(passport: string): Uint8Array {
  return formatMime(
    [
      ['MIME-Version', '1.0'],
      ['Content-Type', 'text/x-msmsgscontrol'],
      ['TypingUser', passport],
    ],
    '\r\n',
  );
}

/** What an SB message payload says, as far as the canonical model goes. */
export type MessageContent =
  | { kind: 'text'; text: string; html?: string }
  | { kind: 'typing'; user?: string }
  | { kind: 'other'; contentType: string };

/**
 * What a switchboard `MSG` payload says: text (with formatting as markup), a typing notice, or something
 * else.
 */
export function messageContent(payload: Uint8Array): MessageContent {
  const mime: MimeMessage | undefined = parseMime(payload);
  if (!mime) return { kind: 'other', contentType: '' };
  const type = mimeType(mime);
  if (type === 'text/plain') {
    const text = utf8.decode(mime.body);
    const format = mimeHeader(mime, 'X-MMS-IM-Format');
    return format === undefined
      ? { kind: 'text', text }
      : { kind: 'text', text, html: imFormatValueToHtml(format, text) };
  }
  if (type === 'text/x-msmsgscontrol') {
    const user = mimeHeader(mime, 'TypingUser');
    return user === undefined ? { kind: 'typing' } : { kind: 'typing', user };
  }
  return { kind: 'other', contentType: type };
}

/**
 * Frames <-> canonical events for one MSNP connection (notification server or switchboard). It
 * learns the protocol version from `VER`, the user from `USR`, friendly names from lists and
 * presence, and a switchboard's participants from `CAL`, `JOI`, `IRO` and `BYE`.
 */
export class MsnpTranslator implements Translator<MsnpFrame> {
  #dialect: number;
  #dialectKnown = false;
  #self: Address | undefined;
  /**
   * The options as given, their functions called as its methods: no closure per translator for the
   * defaults, and a session can pass one object whose methods read its context (issue 20).
   */
  readonly #options: MsnpTranslatorOptions;
  #trid = 0;
  #idCounter = 0;
  /** Last list version (MSNP2-9 serials), for the serial of an `ADD ... RL` we write. */
  #listVersion = 0;
  // Made on first use: most connections (switchboards) never need one or the other (issue 20).
  #names: Map<string, string> | undefined;
  #statuses: Map<string, PresenceStatus> | undefined;
  #participants: Map<string, string> | undefined;
  #ownStatus: PresenceStatus = 'online';
  #list: ContactListSync | undefined;

  constructor(options: MsnpTranslatorOptions = {}) {
    this.#options = options;
    this.#dialect = options.dialect ?? 12;
    this.#self = options.self;
  }

  /**
   * A switchboard's participants other than the user (lower-cased passport to passport), as
   * `CAL`, `JOI`, `IRO` and `BYE` told; made on first use.
   */
  get participants(): Map<string, string> {
    this.#participants ??= new Map();
    return this.#participants;
  }

  /** Forgets a participant (a foreign one the gateway plays: not the server's to deliver to). */
  removeParticipant(passport: string): void {
    this.#participants?.delete(passportKey(passport));
  }

  #now(): number {
    const o = this.#options;
    return o.now ? o.now() : Date.now();
  }

  #newId(): string {
    const o = this.#options;
    return o.newId ? o.newId() : `msnp-${++this.#idCounter}`;
  }

  #namesMap(): Map<string, string> {
    this.#names ??= new Map();
    return this.#names;
  }

  #statusMap(): Map<string, PresenceStatus> {
    this.#statuses ??= new Map();
    return this.#statuses;
  }

  get self(): Address | undefined {
    return this.#self;
  }

  set self(a: Address | undefined) {
    this.#self = a;
  }

  get dialect(): number {
    return this.#dialect;
  }

  /** True once a `VER` reply named the version. */
  get dialectKnown(): boolean {
    return this.#dialectKnown;
  }

  setDialect(dialect: number): void {
    this.#dialect = dialect;
    this.#dialectKnown = true;
  }

  get listVersion(): number {
    return this.#listVersion;
  }

  /** The next list version for an answer we write ourselves, as the server would count. */
  nextListVersion(): number {
    return ++this.#listVersion;
  }

  /** The address behind a name (`bob@yahoo` for a foreign buddy, else the passport). */
  address(passport: string): Address {
    return this.validAddress(passport) ?? { user: passport, network: MSN_NETWORK };
  }

  /** The address behind a name, or undefined when it is not a valid address anywhere (`doesnotexist`). */
  validAddress(passport: string): Address | undefined {
    const o = this.#options;
    return resolveName(passport, o.isForeign ?? DEFAULT_IS_FOREIGN, o.knownForeign, o);
  }

  passport(a: Address): string {
    return addressToPassport(a);
  }

  /** Remembers a display name (decoded). */
  rememberName(passport: string, friendly: string): void {
    this.#namesMap().set(passportKey(passport), friendly);
  }

  friendlyOf(passport: string): string {
    return this.#names?.get(passportKey(passport)) ?? passport;
  }

  /** The next transaction id for a command we write as the client. */
  nextTrid(): number {
    this.#trid = (this.#trid + 1) >>> 0;
    return this.#trid;
  }

  /** Keeps our transaction ids ahead of the client's own. */
  sawTrid(trid: number | undefined): void {
    if (trid !== undefined && trid > this.#trid) this.#trid = trid;
  }

  // ------------------------------------------------------------------ frames -> events

  toEvents(frame: MsnpFrame, direction: Direction): CanonicalEvent[] {
    if (frame.type !== 'command') return [];
    return direction === 'client' ? this.#fromClient(frame) : this.#fromServer(frame);
  }

  #fromClient(cmd: MsnpCommand): CanonicalEvent[] {
    this.sawTrid(cmd.trid);
    const a = cmd.args;
    switch (cmd.verb) {
      case 'USR':
        // NS `USR t TWN|MD5|SSO I passport`; SB `USR t passport cookie`.
        if (a[1] === 'I' && a[2] !== undefined) this.#learnSelf(a[2]);
        else if (a.length === 2 && a[0]!.includes('@')) this.#learnSelf(a[0]!);
        return [];
      case 'ANS':
        if (a[0] !== undefined) this.#learnSelf(a[0]);
        return [];
      case 'CAL':
        if (a[0] !== undefined) this.#join(argValue(a[0]), undefined);
        return [];
      case 'MSG':
        if (!cmd.payload) return [];
        return this.messageEvents(
          this.#self,
          [...(this.#participants?.values() ?? [])]
            .map((p) => this.validAddress(p))
            .filter((a) => a !== undefined),
          cmd.payload,
        );
      case 'CHG': {
        const status = statusFromMsn(a[0]);
        if (!status || !this.#self) return [];
        this.#ownStatus = status;
        return [{ kind: 'presence', from: this.#self, status }];
      }
      case 'UUX': {
        if (!this.#self || !cmd.payload) return [];
        const text = personalMessageText(utf8.decode(cmd.payload));
        if (text === undefined) return [];
        return [{ kind: 'presence', from: this.#self, status: this.#ownStatus, text }];
      }
      case 'ADD':
      case 'ADC':
        return this.#listEdit(cmd);
      default:
        return [];
    }
  }

  /** A client list edit as the canonical event it amounts to (FL add: request; AL: accept; BL: deny). */
  #listEdit(cmd: MsnpCommand): CanonicalEvent[] {
    const target = listEditTarget(cmd);
    if (!target || !this.#self || target.passport === undefined) return [];
    const to = this.validAddress(target.passport);
    if (!to) return [];
    if (target.list === 'FL') return [{ kind: 'buddy-request', from: this.#self, to }];
    if (target.list === 'AL' || target.list === 'BL') {
      return [{ kind: 'buddy-response', from: this.#self, to, accepted: target.list === 'AL' }];
    }
    return [];
  }

  #fromServer(cmd: MsnpCommand): CanonicalEvent[] {
    const a = cmd.args;
    switch (cmd.verb) {
      case 'VER': {
        const m = /^MSNP(\d+)$/.exec(a[0] ?? '');
        if (m) this.setDialect(Number(m[1]));
        return [];
      }
      case 'USR':
        // `USR t OK passport [friendly] ...` on NS and SB.
        if (a[0] === 'OK' && a[1] !== undefined) {
          this.#learnSelf(a[1]);
          if (a[2] !== undefined && !/^\d$/.test(a[2])) this.rememberName(argValue(a[1]), argValue(a[2]));
        }
        return [];
      case 'SYN':
        this.noteListVersion(this.#dialect < 10 ? a[0] : undefined);
        this.#list = new ContactListSync(this.#dialect);
        this.#list.start(cmd);
        return this.#rosterIfComplete();
      case 'LSG':
      case 'LST': {
        const entry = this.#list?.accept(cmd);
        if (entry && 'passport' in entry) this.rememberName(entry.passport, entry.friendly);
        return this.#rosterIfComplete();
      }
      case 'ILN':
      case 'NLN':
        return this.#presenceLine(a);
      case 'FLN': {
        if (a[0] === undefined) return [];
        const passport = argValue(a[0]);
        this.#statusMap().set(passportKey(passport), 'offline');
        const from = this.validAddress(passport);
        return from ? [{ kind: 'presence', from, status: 'offline' }] : [];
      }
      case 'UBX': {
        if (a[0] === undefined || !cmd.payload) return [];
        const text = personalMessageText(utf8.decode(cmd.payload));
        if (text === undefined) return [];
        const passport = argValue(a[0]);
        const status = this.#statuses?.get(passportKey(passport)) ?? 'online';
        const from = this.validAddress(passport);
        return from ? [{ kind: 'presence', from, status, text }] : [];
      }
      case 'ADD':
      case 'ADC':
      case 'REM':
        return this.#serverListChange(cmd);
      case 'JOI':
        if (a[0] !== undefined) this.#join(argValue(a[0]), a[1] === undefined ? undefined : argValue(a[1]));
        return [];
      case 'IRO':
        // `IRO t index total passport friendly [caps]`.
        if (a[2] !== undefined) this.#join(argValue(a[2]), a[3] === undefined ? undefined : argValue(a[3]));
        return [];
      case 'BYE':
        if (a[0] !== undefined) this.#participants?.delete(passportKey(argValue(a[0])));
        return [];
      case 'MSG': {
        if (!cmd.payload || a[0] === undefined || a[0] === 'Hotmail') return [];
        const passport = argValue(a[0]);
        if (a[1] !== undefined) this.rememberName(passport, argValue(a[1]));
        return this.messageEvents(this.validAddress(passport), this.#self ? [this.#self] : [], cmd.payload);
      }
      default:
        return [];
    }
  }

  #serverListChange(cmd: MsnpCommand): CanonicalEvent[] {
    const a = cmd.args;
    // List versions: `ADD t FL ser ...`, `REM t AL ser ...` (MSNP2-9).
    if (this.#dialect < 10 && /^\d+$/.test(a[1] ?? '')) this.noteListVersion(a[1]);
    if (cmd.verb === 'REM' || cmd.trid !== 0 || a[0] !== 'RL' || !this.#self) return [];
    // Someone added the user: `ADD 0 RL [ser] passport friendly` / `ADC 0 RL N=passport F=friendly`.
    let passport: string | undefined;
    let friendly: string | undefined;
    if (cmd.verb === 'ADC') {
      for (const arg of a.slice(1)) {
        if (arg.startsWith('N=')) passport = argValue(arg.slice(2));
        else if (arg.startsWith('F=')) friendly = argValue(arg.slice(2));
      }
    } else {
      // Escargot omits the serial (captures/README.md): the passport is the first non-number.
      const rest = /^\d+$/.test(a[1] ?? '') ? a.slice(2) : a.slice(1);
      if (rest[0] !== undefined) passport = argValue(rest[0]);
      if (rest[1] !== undefined) friendly = argValue(rest[1]);
    }
    if (passport === undefined) return [];
    if (friendly !== undefined) this.rememberName(passport, friendly);
    const from = this.validAddress(passport);
    if (!from) return [];
    return [
      friendly === undefined
        ? { kind: 'buddy-request', from, to: this.#self }
        : { kind: 'buddy-request', from, to: this.#self, name: friendly },
    ];
  }

  /** `ILN t status passport friendly [caps] [msnobj]` / `NLN status passport friendly [caps] [msnobj]`. */
  #presenceLine(a: readonly string[]): CanonicalEvent[] {
    const status = statusFromMsn(a[0]);
    if (!status || a[1] === undefined) return [];
    const passport = argValue(a[1]);
    if (a[2] !== undefined) this.rememberName(passport, argValue(a[2]));
    this.#statusMap().set(passportKey(passport), status);
    const from = this.validAddress(passport);
    return from ? [{ kind: 'presence', from, status }] : [];
  }

  #rosterIfComplete(): CanonicalEvent[] {
    const list = this.#list;
    if (!list?.complete || !this.#self) return [];
    this.#list = undefined;
    return [{ kind: 'roster', owner: this.#self, items: this.rosterItems(list) }];
  }

  /** The canonical items of a downloaded list (group ids resolved to names). */
  rosterItems(list: ContactListSync): RosterItem[] {
    const groupNames = new Map(list.groups.map((g) => [g.id, g.name]));
    const items: RosterItem[] = [];
    for (const c of list.contacts.values()) {
      const item = this.rosterItem(c, groupNames);
      if (item) items.push(item);
    }
    return items;
  }

  rosterItem(c: ContactEntry, groupNames: ReadonlyMap<string, string>): RosterItem | undefined {
    const address = this.validAddress(c.passport);
    if (!address) return undefined;
    const groups = c.groupIds.map((id) => groupNames.get(id)).filter((n): n is string => n !== undefined);
    return {
      address,
      name: c.friendly,
      groups: [...new Set(groups)],
      subscription: subscriptionOf(c.lists),
      pending: false,
    };
  }

  /** Records a list version (serial) the server wrote, MSNP2-9. */
  noteListVersion(spelled: string | undefined): void {
    if (spelled !== undefined && /^\d+$/.test(spelled))
      this.#listVersion = Math.max(this.#listVersion, Number(spelled));
  }

  #learnSelf(spelled: string): void {
    // MSNP18 writes `passport;{guid}`; the part before `;` is the passport.
    const passport = argValue(spelled).split(';')[0]!;
    const self = { user: passport, network: MSN_NETWORK };
    if (isAddressString(formatAddress(self))) this.#self = self;
  }

  #join(passport: string, friendly: string | undefined): void {
    if (this.#self && passportKey(passport) === passportKey(this.#self.user)) return;
    this.participants.set(passportKey(passport), passport);
    if (friendly !== undefined) this.rememberName(passport, friendly);
  }

  /**
   * Events for an SB message payload from `from` to each of `recipients` (the participants when the
   * client sends; the user when the server delivers). Other content types carry no canonical event.
   */
  messageEvents(
    from: Address | undefined,
    recipients: readonly Address[],
    payload: Uint8Array,
  ): CanonicalEvent[] {
    if (!from || recipients.length === 0) return [];
    const content = messageContent(payload);
    if (content.kind === 'text') {
      const id = this.#newId();
      const sentAt = this.#now();
      return recipients.map((r, i): ImEvent => {
        const eventId = recipients.length > 1 ? `${id}.${i + 1}` : id;
        return content.html === undefined
          ? { kind: 'im', id: eventId, from, to: r, text: content.text, sentAt }
          : { kind: 'im', id: eventId, from, to: r, text: content.text, html: content.html, sentAt };
      });
    }
    if (content.kind === 'typing') {
      return recipients.map((r) => ({ kind: 'typing', from, to: r, state: 'composing' }));
    }
    return [];
  }

  // ------------------------------------------------------------------ events -> frames

  fromEvent(event: CanonicalEvent, direction: Direction): MsnpFrame[] {
    return direction === 'server' ? this.#toClientStream(event) : this.#toServerStream(event);
  }

  /** Frames as the server delivers `event` to the client. */
  #toClientStream(event: CanonicalEvent): MsnpFrame[] {
    switch (event.kind) {
      case 'im': {
        const from = this.passport(event.from);
        return [
          command(
            'MSG',
            undefined,
            [encodeArg(from), encodeArg(this.friendlyOf(from))],
            textMessagePayload(event.text, event.html),
          ),
        ];
      }
      case 'typing': {
        // MSN only says "typing now" (repeated while typing); the other states have no message.
        if (event.state !== 'composing') return [];
        const from = this.passport(event.from);
        return [
          command('MSG', undefined, [encodeArg(from), encodeArg(this.friendlyOf(from))], typingPayload(from)),
        ];
      }
      case 'presence':
        return this.presenceFrames(event);
      case 'buddy-request': {
        const from = this.passport(event.from);
        const friendly = event.name ?? this.friendlyOf(from);
        if (event.name !== undefined) this.rememberName(from, event.name);
        if (this.#dialect >= 10)
          return [command('ADC', 0, ['RL', `N=${encodeArg(from)}`, `F=${encodeArg(friendly)}`])];
        return [
          command('ADD', 0, ['RL', String(this.nextListVersion()), encodeArg(from), encodeArg(friendly)]),
        ];
      }
      case 'roster':
        return event.items.map((item) => this.lstLine(item, new Map()));
      default:
        throw new UnsupportedEventError(PROTOCOL, event.kind, 'MSNP has no server command for it');
    }
  }

  /** `NLN`/`FLN` (+ `UBX` with the personal message, MSNP11+) for a buddy's presence. */
  presenceFrames(event: PresenceEvent): MsnpFrame[] {
    const passport = this.passport(event.from);
    this.#statusMap().set(passportKey(passport), event.status);
    // Invisible buddies look offline to others (MSNP wiki "CHG": HDN and FLN are not online).
    if (event.status === 'offline' || event.status === 'invisible')
      return [command('FLN', undefined, [encodeArg(passport)])];
    const args = [statusToMsn(event.status), encodeArg(passport), encodeArg(this.friendlyOf(passport))];
    if (this.#dialect >= 8) args.push(NO_CAPABILITIES);
    const frames: MsnpFrame[] = [command('NLN', undefined, args)];
    if (this.#dialect >= 11 && event.text !== undefined) {
      frames.push(
        command('UBX', undefined, [encodeArg(passport)], utf8Encoder.encode(personalMessageXml(event.text))),
      );
    }
    return frames;
  }

  /**
   * One list line for a roster item in this dialect's MSNP8+ shape (`LST passport friendly bits
   * groups` / `LST N= F= C= bits [1] groups`), group names mapped to the ids in `groupIds`.
   */
  lstLine(item: RosterItem, groupIds: ReadonlyMap<string, string>): MsnpCommand {
    const passport = this.passport(item.address);
    const friendly = encodeArg(item.name ?? passport);
    const bits = listBitsOf(item);
    const ids = item.groups.map((g) => groupIds.get(g)).filter((id): id is string => id !== undefined);
    if (this.#dialect >= 10) {
      // Escargot writes the groups argument even when empty, and MSNP12 a network id of 1 first.
      const args = [`N=${encodeArg(passport)}`, `F=${friendly}`, `C=${contactGuid(passport)}`, String(bits)];
      if (this.#dialect >= 12) args.push('1');
      args.push(ids.join(','));
      return command('LST', undefined, args);
    }
    return command('LST', undefined, [encodeArg(passport), friendly, String(bits), ids.join(',') || '0']);
  }

  /** Frames as the client sends `event` to its server. */
  #toServerStream(event: CanonicalEvent): MsnpFrame[] {
    switch (event.kind) {
      case 'im':
        return [command('MSG', this.nextTrid(), ['N'], textMessagePayload(event.text, event.html))];
      case 'typing': {
        if (event.state !== 'composing') return [];
        return [command('MSG', this.nextTrid(), ['U'], typingPayload(this.passport(event.from)))];
      }
      case 'presence': {
        // A client goes offline by signing out (MSNP wiki "OUT").
        if (event.status === 'offline') return [command('OUT', undefined)];
        const args = [statusToMsn(event.status)];
        if (this.#dialect >= 8) args.push(NO_CAPABILITIES);
        const frames: MsnpFrame[] = [command('CHG', this.nextTrid(), args)];
        if (this.#dialect >= 11 && event.text !== undefined) {
          frames.push(
            command('UUX', this.nextTrid(), [], utf8Encoder.encode(personalMessageXml(event.text))),
          );
        }
        return frames;
      }
      case 'buddy-request':
        // The request's name is the requester's own; the list entry is named by the passport.
        return [this.#listAdd('FL', event.to)];
      case 'buddy-response':
        return [this.#listAdd(event.accepted ? 'AL' : 'BL', event.to)];
      default:
        throw new UnsupportedEventError(PROTOCOL, event.kind, 'an MSN client does not send it');
    }
  }

  #listAdd(list: 'FL' | 'AL' | 'BL', who: Address): MsnpCommand {
    const passport = encodeArg(this.passport(who));
    const friendly = passport;
    if (this.#dialect >= 10) {
      return command(
        'ADC',
        this.nextTrid(),
        list === 'FL' ? [list, `N=${passport}`, `F=${friendly}`] : [list, `N=${passport}`],
      );
    }
    return command('ADD', this.nextTrid(), [list, passport, friendly]);
  }

  /** True when `a` is the user of this connection. */
  isSelf(a: Address): boolean {
    return this.#self !== undefined && addressKey(a) === addressKey(this.#self);
  }
}

/** The list and passport a client `ADD`/`ADC`/`REM` names (`C=guid` for MSNP10+ FL edits). */
export function listEditTarget(
  cmd: MsnpCommand,
): { list: string; passport?: string; guid?: string } | undefined {
  const a = cmd.args;
  const list = a[0];
  if (list === undefined) return undefined;
  if (cmd.verb === 'ADD') return a[1] === undefined ? { list } : { list, passport: argValue(a[1]) };
  if (cmd.verb === 'ADC') {
    for (const arg of a.slice(1)) {
      if (arg.startsWith('N=')) return { list, passport: argValue(arg.slice(2)) };
      if (arg.startsWith('C=')) return { list, guid: arg.slice(2) };
    }
    return { list };
  }
  if (cmd.verb === 'REM') {
    const who = a[1];
    if (who === undefined) return { list };
    return who.includes('@') ? { list, passport: argValue(who) } : { list, guid: who };
  }
  return undefined;
}
