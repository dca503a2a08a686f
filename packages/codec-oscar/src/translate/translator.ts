import {
  type Address,
  type CanonicalEvent,
  type Direction,
  defaultIsForeign,
  type RosterItem,
  type Translator,
  type TranslatorOptions,
  UnsupportedEventError,
} from '@crosstalk/core';
import { FeedbagClass, type FeedbagItem } from '../feedbag/feedbag-item.js';
import { FeedbagList, feedbagEditOf, withOrder } from '../feedbag/feedbag-list.js';
import type { FlapFrame } from '../flap/flap-frame.js';
import { htmlToText, looksLikeHtml, textToHtml } from '../icbm/html.js';
import { type IcqMessage, IcqMessageType } from '../icbm/icq-message.js';
import { fragmentsToText, textToFragments } from '../icbm/message-text.js';
import {
  icqStatusToPresence,
  presenceToIcqStatus,
  presenceToUserInfo,
  userInfoToPresence,
} from '../presence/presence.js';
import {
  Bucp,
  Buddy,
  Family,
  Feedbag,
  Icbm,
  Locate,
  OService,
  SERVER_REQUEST_ID,
  SnacFlag,
} from '../snac/families.js';
import { snacFrame } from '../snac/snac.js';
import type { IcbmTlv, SnacBody } from '../snac/snac-body.js';
import { findTlv, type Tlv, tlv, tlvString, tlvU16Value, tlvU32Value } from '../tlv/tlv.js';
import { byteStringToText, textToByteString } from '../wire/text.js';
import { addressToScreenName, networkOf, OSCAR_NETWORKS, screenNameToAddress } from './screen-names.js';

/** Typing events in 0x04/0x14 (retro-aim-server; libpurple family_icbm.c aim_im_sendmtn). */
export const TypingEvent = { none: 0, paused: 1, typing: 2 } as const;

/** TLVs of 0x02/0x04 locate set-info: 3 away-message MIME type, 4 away message (empty = back). */
const LOCATE_AWAY_MIME = 0x03;
const LOCATE_AWAY_MESSAGE = 0x04;
/** 0x01/0x1E set-user-info TLV 6: the client's ICQ status u32. */
const SET_INFO_STATUS = 0x06;

const COOKIE = /^[0-9a-fA-F]{16}$/;

/** An 8-byte ICBM cookie for an event id: the id itself when it is one, else a stable FNV-1a hash of it. */
export function cookieForId(id: string): string {
  if (COOKIE.test(id)) return id.toLowerCase();
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** Text and markup of a channel-1 message: AIM HTML goes to `html`, its plain rendering to `text`. */
function messageOf(raw: string): { text: string; html?: string } {
  if (!looksLikeHtml(raw)) return { text: raw };
  return { text: htmlToText(raw), html: raw };
}

function icqFields(m: IcqMessage): string[] {
  // ICQ authorization messages separate nick, first, last, e-mail, flag and reason with 0xFE.
  return byteStringToText(m.text).split('\u00fe');
}

/**
 * The OSCAR translator: frames of one connection <-> canonical events. It learns the logged-in
 * user from the login frames (BUCP 0x17/0x06, 0x17/0x02, 0x17/0x03, the channel-1 and channel-4
 * login TLV 1, the self info 0x01/0x0F) unless `self` is given. Without a known `self`, frames that
 * need it (a message the client sends, one the server delivers) yield no event: pass `self`
 * (`crosstalk decode --self`) for a stream that does not show the login.
 */
export class OscarTranslator implements Translator<FlapFrame> {
  readonly #isForeign: (a: Address) => boolean;
  readonly #now: () => number;
  readonly #newId: (() => string) | undefined;
  #self: Address | undefined;
  readonly #fixedSelf: boolean;
  readonly #seq: Record<Direction, number> = { client: -1, server: -1 };
  /** The feedbag as seen so far: group names for roster items, ids for new items. */
  readonly feedbag = new FeedbagList();
  #replyPart: FeedbagItem[] = [];

  constructor(options: TranslatorOptions = {}) {
    this.#isForeign = options.isForeign ?? defaultIsForeign(OSCAR_NETWORKS);
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId;
    this.#self = options.self;
    this.#fixedSelf = options.self !== undefined;
  }

  get self(): Address | undefined {
    return this.#self;
  }

  set self(a: Address | undefined) {
    this.#self = a;
  }

  address(screenName: string): Address {
    return screenNameToAddress(screenName, this.#isForeign);
  }

  #learn(screenName: string | undefined): void {
    if (this.#fixedSelf || screenName === undefined || screenName.length === 0) return;
    this.#self = this.address(screenName);
  }

  #id(fallback: string): string {
    return this.#newId ? this.#newId() : fallback;
  }

  // ---------------------------------------------------------------- frames -> events

  toEvents(frame: FlapFrame, direction: Direction): CanonicalEvent[] {
    this.#seq[direction] = frame.seq;
    const p = frame.payload;
    if (p.type === 'signon') {
      if (direction === 'client') this.#learn(tlvString(p.tlvs, 0x01));
      return [];
    }
    if (p.type === 'signoff') {
      if (direction === 'server' && findTlv(p.tlvs, 0x06)) this.#learn(tlvString(p.tlvs, 0x01));
      return [];
    }
    if (p.type !== 'snac') return [];
    const body = p.body;
    switch (body.type) {
      case 'tlvs':
        return this.#tlvEvents(p.family, p.subtype, body.tlvs, direction);
      case 'user-info':
        if (p.family === Family.oservice && p.subtype === OService.userInfoUpdate) {
          if (direction === 'server') this.#learn(body.users[0]?.screenName);
          return [];
        }
        if (p.family === Family.buddy && direction === 'server') {
          const now = this.#now();
          return body.users.map((u) => {
            const from = this.address(u.screenName);
            if (p.subtype === Buddy.departed) return { kind: 'presence', from, status: 'offline' } as const;
            const presence = userInfoToPresence(u, now);
            return { kind: 'presence', from, ...presence } as CanonicalEvent;
          });
        }
        return [];
      case 'idle':
        if (direction !== 'client' || !this.#self) return [];
        return [
          body.seconds > 0
            ? {
                kind: 'presence',
                from: this.#self,
                status: 'idle',
                idleSince: this.#now() - body.seconds * 1000,
              }
            : { kind: 'presence', from: this.#self, status: 'online' },
        ];
      case 'screen-names': {
        if (direction !== 'client' || !this.#self) return [];
        const add = p.subtype === Buddy.addBuddies;
        const items: RosterItem[] = body.names.map((n) => ({
          address: this.address(n),
          groups: [],
          subscription: add ? 'to' : 'none',
          pending: false,
        }));
        return items.length ? [{ kind: 'roster', owner: this.#self, items }] : [];
      }
      case 'icbm-to-host':
        if (direction !== 'client' || !this.#self) return [];
        return this.#icbmEvents(
          body.cookie,
          body.channel,
          body.tlvs,
          this.#self,
          this.address(body.screenName),
        );
      case 'icbm-to-client':
        if (direction !== 'server' || !this.#self) return [];
        return this.#icbmEvents(
          body.cookie,
          body.channel,
          body.tlvs,
          this.address(body.sender.screenName),
          this.#self,
        );
      case 'icbm-event': {
        if (!this.#self) return [];
        const other = this.address(body.screenName);
        const state =
          body.event === TypingEvent.typing
            ? 'composing'
            : body.event === TypingEvent.paused
              ? 'paused'
              : 'active';
        return direction === 'client'
          ? [{ kind: 'typing', from: this.#self, to: other, state }]
          : [{ kind: 'typing', from: other, to: this.#self, state }];
      }
      case 'feedbag-reply': {
        this.#replyPart.push(...body.items);
        if (p.flags & SnacFlag.moreFollows) return [];
        this.feedbag.items.length = 0;
        this.feedbag.apply('insert', this.#replyPart);
        this.#replyPart = [];
        if (!this.#self) return [];
        return [
          { kind: 'roster', owner: this.#self, items: this.feedbag.rosterItems((n) => this.address(n)) },
        ];
      }
      case 'feedbag-items':
        return this.#feedbagEditEvents(p.subtype, body.items);
      case 'auth-request': {
        const other = this.address(body.screenName);
        if (!this.#self) return [];
        const message = body.reason.length
          ? byteStringToText(body.reason).replace(/\u0000+$/, '')
          : undefined;
        const event =
          direction === 'client'
            ? { kind: 'buddy-request' as const, from: this.#self, to: other }
            : { kind: 'buddy-request' as const, from: other, to: this.#self };
        return [message ? { ...event, message } : event];
      }
      case 'auth-reply': {
        const other = this.address(body.screenName);
        if (!this.#self) return [];
        const message = body.reason.length
          ? byteStringToText(body.reason).replace(/\u0000+$/, '')
          : undefined;
        const accepted = body.accepted !== 0;
        const event =
          direction === 'client'
            ? { kind: 'buddy-response' as const, from: this.#self, to: other, accepted }
            : { kind: 'buddy-response' as const, from: other, to: this.#self, accepted };
        return [message ? { ...event, message } : event];
      }
      case 'buddy-added':
        // "You were added" (0x13/0x1C): the other user subscribed without asking; surfaced as a request.
        if (direction !== 'server' || !this.#self) return [];
        return [{ kind: 'buddy-request', from: this.address(body.screenName), to: this.#self }];
      default:
        return [];
    }
  }

  #tlvEvents(family: number, subtype: number, tlvs: Tlv[], direction: Direction): CanonicalEvent[] {
    if (family === Family.bucp) {
      if (subtype === Bucp.challengeRequest || subtype === Bucp.loginRequest) {
        if (direction === 'client') this.#learn(tlvString(tlvs, 0x01));
      } else if (subtype === Bucp.loginResponse && direction === 'server' && findTlv(tlvs, 0x06)) {
        this.#learn(tlvString(tlvs, 0x01));
      }
      return [];
    }
    if (direction !== 'client' || !this.#self) return [];
    if (family === Family.oservice && subtype === OService.setUserInfoFields) {
      const status = findTlv(tlvs, SET_INFO_STATUS);
      if (status?.length !== 4) return [];
      const value = ((status[0]! << 24) | (status[1]! << 16) | (status[2]! << 8) | status[3]!) >>> 0;
      return [{ kind: 'presence', from: this.#self, status: icqStatusToPresence(value) }];
    }
    if (family === Family.locate && subtype === Locate.setInfo) {
      const away = findTlv(tlvs, LOCATE_AWAY_MESSAGE);
      if (away === undefined) return [];
      if (away.length === 0) return [{ kind: 'presence', from: this.#self, status: 'online' }];
      const text = htmlToText(byteStringToText(String.fromCharCode(...away)));
      return [{ kind: 'presence', from: this.#self, status: 'away', text }];
    }
    return [];
  }

  #icbmEvents(
    cookie: string,
    channel: number,
    tlvs: IcbmTlv[],
    from: Address,
    to: Address,
  ): CanonicalEvent[] {
    const sentAt = this.#now();
    if (channel === 1) {
      for (const t of tlvs) {
        if (!('fragments' in t)) continue;
        const raw = fragmentsToText(t.fragments);
        if (raw === undefined) return [];
        return [{ kind: 'im', id: this.#id(cookie), from, to, ...messageOf(raw), sentAt }];
      }
      return [];
    }
    if (channel !== 4) return [];
    for (const t of tlvs) {
      if (!('icq' in t)) continue;
      const m = t.icq;
      switch (m.msgType) {
        case IcqMessageType.plain:
          return [{ kind: 'im', id: this.#id(cookie), from, to, text: byteStringToText(m.text), sentAt }];
        case IcqMessageType.authRequest: {
          const fields = icqFields(m);
          const reason = fields[fields.length - 1];
          const event: CanonicalEvent = { kind: 'buddy-request', from, to };
          if (fields.length > 1 && fields[0]) event.name = fields[0];
          if (reason) event.message = reason;
          return [event];
        }
        case IcqMessageType.authDenied:
        case IcqMessageType.authGranted: {
          const event: CanonicalEvent = {
            kind: 'buddy-response',
            from,
            to,
            accepted: m.msgType === IcqMessageType.authGranted,
          };
          const reason = byteStringToText(m.text);
          if (reason) event.message = reason;
          return [event];
        }
        default:
          return [];
      }
    }
    return [];
  }

  #feedbagEditEvents(subtype: number, items: FeedbagItem[]): CanonicalEvent[] {
    const kind = feedbagEditOf(subtype);
    // Groups first, so buddies inserted with their new group get its name.
    this.feedbag.apply(
      kind,
      items.filter((i) => i.classId === FeedbagClass.group),
    );
    const buddies = items.filter((i) => i.classId === FeedbagClass.buddy);
    const list = new FeedbagList([...this.feedbag.groups(), ...buddies]);
    const changed = list.rosterItems((n) => this.address(n));
    this.feedbag.apply(kind, buddies);
    if (!this.#self || changed.length === 0) return [];
    if (kind === 'delete') {
      // OSCAR's roster event for a removal: no groups, no subscription (README "Mapping").
      for (const item of changed) {
        item.groups = [];
        item.subscription = 'none';
        item.pending = false;
      }
    }
    return [{ kind: 'roster', owner: this.#self, items: changed }];
  }

  // ---------------------------------------------------------------- events -> frames

  #nextSeq(direction: Direction): number {
    this.#seq[direction] = (this.#seq[direction] + 1) & 0xffff;
    return this.#seq[direction];
  }

  #frame(
    direction: Direction,
    family: number,
    subtype: number,
    body: SnacBody,
    requestId?: number,
  ): FlapFrame {
    return snacFrame(family, subtype, body, {
      seq: this.#nextSeq(direction),
      requestId: requestId ?? (direction === 'server' ? SERVER_REQUEST_ID : 0),
    });
  }

  fromEvent(event: CanonicalEvent, direction: Direction): FlapFrame[] {
    const now = this.#now();
    switch (event.kind) {
      case 'im': {
        const wire = event.html ?? (/[&<>\n]/.test(event.text) ? textToHtml(event.text) : event.text);
        const tlvs: IcbmTlv[] = [{ type: 2, fragments: textToFragments(wire) }];
        const cookie = cookieForId(event.id);
        if (direction === 'client') {
          return [
            this.#frame(direction, Family.icbm, Icbm.channelMsgToHost, {
              type: 'icbm-to-host',
              cookie,
              channel: 1,
              screenName: addressToScreenName(event.to),
              tlvs,
            }),
          ];
        }
        const sender = presenceToUserInfo(
          addressToScreenName(event.from),
          { status: 'online' },
          now,
          event.from.network === 'icq',
        );
        return [
          this.#frame(direction, Family.icbm, Icbm.channelMsgToClient, {
            type: 'icbm-to-client',
            cookie,
            channel: 1,
            sender: { ...sender, tlvs: sender.tlvs.filter((t) => t.type === 0x01 || t.type === 0x03) },
            tlvs,
          }),
        ];
      }
      case 'typing': {
        const code =
          event.state === 'composing'
            ? TypingEvent.typing
            : event.state === 'paused'
              ? TypingEvent.paused
              : TypingEvent.none;
        const other = direction === 'client' ? event.to : event.from;
        return [
          this.#frame(direction, Family.icbm, Icbm.clientEvent, {
            type: 'icbm-event',
            cookie: '0000000000000000',
            channel: 1,
            screenName: addressToScreenName(other),
            event: code,
          }),
        ];
      }
      case 'presence':
        return direction === 'server' ? this.#buddyPresence(event, now) : this.#ownPresence(event, now);
      case 'roster':
        return direction === 'server' ? this.#rosterReply(event.items) : this.#rosterInsert(event.items);
      case 'buddy-request': {
        const other = direction === 'client' ? event.to : event.from;
        return [
          this.#frame(
            direction,
            Family.feedbag,
            direction === 'client' ? Feedbag.requestAuthorizeToHost : Feedbag.requestAuthorizeToClient,
            {
              type: 'auth-request',
              screenName: addressToScreenName(other),
              reason: textToByteString(event.message ?? ''),
              rest: new Uint8Array(2),
            },
          ),
        ];
      }
      case 'buddy-response': {
        const other = direction === 'client' ? event.to : event.from;
        return [
          this.#frame(
            direction,
            Family.feedbag,
            direction === 'client' ? Feedbag.respondAuthorizeToHost : Feedbag.respondAuthorizeToClient,
            {
              type: 'auth-reply',
              screenName: addressToScreenName(other),
              accepted: event.accepted ? 1 : 0,
              reason: textToByteString(event.message ?? ''),
            },
          ),
        ];
      }
      default:
        throw new UnsupportedEventError('oscar', event.kind);
    }
  }

  #buddyPresence(event: Extract<CanonicalEvent, { kind: 'presence' }>, now: number): FlapFrame[] {
    const screenName = addressToScreenName(event.from);
    if (event.status === 'offline' || event.status === 'invisible') {
      // Departed carries a bare user info (retro-aim-server BuddyDeparted: flags only).
      return [
        this.#frame('server', Family.buddy, Buddy.departed, {
          type: 'user-info',
          users: [{ screenName, warning: 0, tlvs: [tlvU16Value(0x01, 0)] }],
        }),
      ];
    }
    const info = presenceToUserInfo(screenName, event, now, event.from.network === 'icq');
    return [this.#frame('server', Family.buddy, Buddy.arrived, { type: 'user-info', users: [info] })];
  }

  #ownPresence(event: Extract<CanonicalEvent, { kind: 'presence' }>, now: number): FlapFrame[] {
    if (networkOf(addressToScreenName(event.from)) === 'icq') {
      return [
        this.#frame('client', Family.oservice, OService.setUserInfoFields, {
          type: 'tlvs',
          tlvs: [tlvU32Value(SET_INFO_STATUS, presenceToIcqStatus(event.status))],
        }),
      ];
    }
    const frames: FlapFrame[] = [];
    const away = event.status === 'away' || event.status === 'busy';
    const message = away ? textToHtml(event.text ?? 'Away') : '';
    frames.push(
      this.#frame('client', Family.locate, Locate.setInfo, {
        type: 'tlvs',
        tlvs: [
          tlv(LOCATE_AWAY_MIME, 'text/aolrtf; charset="us-ascii"'),
          tlv(LOCATE_AWAY_MESSAGE, textToByteString(message)),
        ],
      }),
    );
    if (event.status === 'idle' || event.idleSince !== undefined) {
      const seconds =
        event.idleSince !== undefined ? Math.max(1, Math.round((now - event.idleSince) / 1000)) : 60;
      frames.push(
        this.#frame('client', Family.oservice, OService.idleNotification, { type: 'idle', seconds }),
      );
    }
    return frames;
  }

  /** Items for a roster: a root group, one group per name, the buddies (fresh ids, orders filled in). */
  #rosterItems(items: readonly RosterItem[], base: FeedbagList): FeedbagItem[] {
    const list = new FeedbagList(base.items);
    const out: FeedbagItem[] = [];
    const groupFor = (name: string): FeedbagItem => {
      let g = list.groupByName(name);
      if (!g) {
        g = {
          name: textToByteString(name),
          groupId: list.freeGroupId(),
          itemId: 0,
          classId: FeedbagClass.group,
          attributes: [],
        };
        list.apply('insert', [g]);
        out.push(g);
      }
      return g;
    };
    for (const item of items) {
      const groups = item.groups.length ? item.groups : ['Buddies'];
      for (const name of groups) {
        const g = groupFor(name);
        const attributes: Tlv[] = [];
        if (item.name !== undefined) attributes.push(tlv(0x0131, textToByteString(item.name)));
        if (item.pending) attributes.push(tlv(0x0066));
        const buddy: FeedbagItem = {
          name: addressToScreenName(item.address),
          groupId: g.groupId,
          itemId: list.freeItemId(),
          classId: FeedbagClass.buddy,
          attributes,
        };
        list.apply('insert', [buddy]);
        out.push(buddy);
      }
    }
    // Orders: each new group lists its buddies (0xC8).
    return out.map((i) =>
      i.classId === FeedbagClass.group
        ? withOrder(
            i,
            out
              .filter((b) => b.classId === FeedbagClass.buddy && b.groupId === i.groupId)
              .map((b) => b.itemId),
          )
        : i,
    );
  }

  #rosterReply(items: readonly RosterItem[]): FlapFrame[] {
    const built = this.#rosterItems(items, new FeedbagList());
    const groups = built.filter((i) => i.classId === FeedbagClass.group).map((g) => g.groupId);
    const root = withOrder(
      { name: '', groupId: 0, itemId: 0, classId: FeedbagClass.group, attributes: [] },
      groups,
    );
    return [
      this.#frame(
        'server',
        Family.feedbag,
        Feedbag.reply,
        {
          type: 'feedbag-reply',
          version: 0,
          items: [root, ...built],
          lastUpdate: Math.floor(this.#now() / 1000),
        },
        0,
      ),
    ];
  }

  #rosterInsert(items: readonly RosterItem[]): FlapFrame[] {
    const built = this.#rosterItems(items, this.feedbag);
    return [
      this.#frame('client', Family.feedbag, Feedbag.startCluster, { type: 'tlvs', tlvs: [] }),
      this.#frame('client', Family.feedbag, Feedbag.insertItem, { type: 'feedbag-items', items: built }),
      this.#frame('client', Family.feedbag, Feedbag.endCluster, { type: 'tlvs', tlvs: [] }),
    ];
  }
}
