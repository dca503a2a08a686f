import { isCrossTalkError, MalformedFrameError } from '@crosstalk/core';
import {
  encodeFeedbagItems,
  type FeedbagItem,
  feedbagItemsSize,
  readFeedbagItems,
  readFeedbagReply,
  writeFeedbagItem,
} from '../feedbag/feedbag-item.js';
import { encodeIcqMessage, type IcqMessage, icqMessageSize, readIcqMessage } from '../icbm/icq-message.js';
import {
  fragmentsSize,
  type MessageFragment,
  readFragments,
  writeFragments,
} from '../icbm/message-fragments.js';
import { readTlvChain, type Tlv, tlvChainSize, writeTlvChain } from '../tlv/tlv.js';
import { readUserInfo, type UserInfo, userInfoSize, writeUserInfo } from '../user-info/user-info.js';
import { ByteReader, overrun, PROTOCOL } from '../wire/byte-reader.js';
import { type ByteWriter, checkLength } from '../wire/byte-writer.js';
import { hexString, view } from '../wire/bytes.js';
import { Bucp, Buddy, Family, Feedbag, Icbm, Locate, OService } from './families.js';

/** A SNAC body this codec does not decode (or could not): kept as bytes and passed through. */
export interface RawBody {
  type: 'raw';
  bytes: Uint8Array;
  /** Why a body of a decoded SNAC type stayed raw (shown by `crosstalk decode`; ignored on encode). */
  error?: string;
}

/** A body that is only a TLV chain (BUCP requests and replies, set-info, service response). */
export interface TlvsBody {
  type: 'tlvs';
  tlvs: Tlv[];
}

/** Subtype 0x0001 in every family: error code u16, then optional TLVs (retro-aim-server SNACError). */
export interface ErrorBody {
  type: 'error';
  code: number;
  tlvs: Tlv[];
}

/** 0x01/0x03 host online: the families this connection serves. */
export interface FamiliesBody {
  type: 'families';
  families: number[];
}

/** 0x01/0x0F self info, 0x03/0x0B arrived, 0x03/0x0C departed: user-info blocks. */
export interface UserInfoBody {
  type: 'user-info';
  users: UserInfo[];
}

/** 0x01/0x11 idle notification: seconds idle (0 = active). */
export interface IdleBody {
  type: 'idle';
  seconds: number;
}

/** 0x03/0x04 add and 0x03/0x05 delete (client-side buddy list): u8-length names. */
export interface ScreenNamesBody {
  type: 'screen-names';
  names: string[];
}

/** An ICBM TLV: decoded for channel-1 text (TLV 2) and channel-4 ICQ messages (TLV 5), else raw. */
export type IcbmTlv = Tlv | MessageTlv | IcqTlv;

/** The message TLV (type 2) of a channel 1 ICBM: its fragments. */
export interface MessageTlv {
  type: 2;
  fragments: MessageFragment[];
}

/** The ICQ message TLV (type 5) of a channel 4 ICBM. */
export interface IcqTlv {
  type: 5;
  icq: IcqMessage;
}

/** 0x04/0x06 channel message to host: cookie[8], channel u16, u8 name, TLVs. */
export interface IcbmToHostBody {
  type: 'icbm-to-host';
  /** The 8-byte message cookie, as 16 hex digits. */
  cookie: string;
  channel: number;
  screenName: string;
  tlvs: IcbmTlv[];
}

/** 0x04/0x07 channel message to client: cookie[8], channel u16, sender user info, TLVs. */
export interface IcbmToClientBody {
  type: 'icbm-to-client';
  cookie: string;
  channel: number;
  sender: UserInfo;
  tlvs: IcbmTlv[];
}

/** 0x04/0x0C host ack: cookie[8], channel u16, u8 name. */
export interface IcbmAckBody {
  type: 'icbm-ack';
  cookie: string;
  channel: number;
  screenName: string;
}

/** 0x04/0x14 client event (typing): cookie[8], channel u16, u8 name, event u16 (0 none, 1 paused, 2 typing). */
export interface IcbmEventBody {
  type: 'icbm-event';
  cookie: string;
  channel: number;
  screenName: string;
  event: number;
}

/** 0x13/0x06 feedbag reply: version u8, count u16, items, last update u32. */
export interface FeedbagReplyBody {
  type: 'feedbag-reply';
  version: number;
  items: FeedbagItem[];
  lastUpdate: number;
}

/** 0x13/0x08 insert, 0x09 update, 0x0A delete: items filling the body. */
export interface FeedbagItemsBody {
  type: 'feedbag-items';
  items: FeedbagItem[];
}

/** 0x13/0x0E status: one u16 result per item (0 ok, 0x0C over limit, 0x0E auth required). */
export interface FeedbagStatusBody {
  type: 'feedbag-status';
  codes: number[];
}

/**
 * 0x13/0x18 (to host) and 0x19 (to client) authorization request: u8 name, u16-length reason,
 * then bytes libpurple calls unknown (`00 00`; family_feedbag.c aim_ssi_sendauthrequest also puts a
 * NUL outside the length), kept in `rest`.
 */
export interface AuthRequestBody {
  type: 'auth-request';
  screenName: string;
  reason: string;
  rest?: Uint8Array;
}

/** 0x13/0x1A (to host) and 0x1B (to client) authorization reply: u8 name, u8 accepted, u16-length reason, rest. */
export interface AuthReplyBody {
  type: 'auth-reply';
  screenName: string;
  accepted: number;
  reason: string;
  rest?: Uint8Array;
}

/** 0x13/0x1C "you were added": u8 name, rest. */
export interface BuddyAddedBody {
  type: 'buddy-added';
  screenName: string;
  rest?: Uint8Array;
}

/** 0x17/0x07 BUCP challenge: u16-length auth key. */
export interface ChallengeBody {
  type: 'bucp-challenge';
  key: string;
}

/** A SNAC's body, decoded where this codec knows the subtype, raw otherwise. */
export type SnacBody =
  | RawBody
  | TlvsBody
  | ErrorBody
  | FamiliesBody
  | UserInfoBody
  | IdleBody
  | ScreenNamesBody
  | IcbmToHostBody
  | IcbmToClientBody
  | IcbmAckBody
  | IcbmEventBody
  | FeedbagReplyBody
  | FeedbagItemsBody
  | FeedbagStatusBody
  | AuthRequestBody
  | AuthReplyBody
  | BuddyAddedBody
  | ChallengeBody;

export type SnacBodyType = SnacBody['type'];

// ------------------------------------------------------------------ cookies

function readCookie(r: ByteReader): string {
  r.need(8, 'ICBM cookie');
  const o = r.offset;
  r.offset = o + 8;
  return hexString(r.bytes, o, o + 8);
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57;
  return -1;
}

function writeCookie(w: ByteWriter, cookie: string): void {
  if (cookie.length === 16) {
    const start = w.offset;
    let ok = true;
    for (let i = 0; i < 16; i += 2) {
      const hi = hexDigit(cookie.charCodeAt(i));
      const lo = hexDigit(cookie.charCodeAt(i + 1));
      if (hi < 0 || lo < 0) {
        ok = false;
        break;
      }
      w.u8((hi << 4) | lo);
    }
    if (ok) return;
    w.offset = start;
  }
  throw new MalformedFrameError(PROTOCOL, `ICBM cookie "${cookie}" is not 16 hex digits`);
}

// ------------------------------------------------------------------ ICBM TLVs

function readIcbmTlvs(r: ByteReader, channel: number): IcbmTlv[] {
  const b = r.bytes;
  const end = r.end;
  const tlvs: IcbmTlv[] = [];
  let at = r.offset;
  while (at < end) {
    if (at + 4 > end) overrun('ICBM TLV header', at);
    const type = (b[at]! << 8) | b[at + 1]!;
    const length = (b[at + 2]! << 8) | b[at + 3]!;
    const start = at + 4;
    at = start + length;
    if (at > end) overrun(`ICBM TLV 0x${type.toString(16)}`, start);
    // Channel-1 text (TLV 2) and channel-4 ICQ messages (TLV 5) are read in place; a value that does
    // not parse stays raw, and still re-encodes byte for byte.
    if (channel === 1 && type === 2) {
      try {
        tlvs.push({ type: 2, fragments: readFragments(r.within(start, at)) });
        continue;
      } catch (error) {
        if (!isCrossTalkError(error)) throw error;
      }
    } else if (channel === 4 && type === 5) {
      try {
        tlvs.push({ type: 5, icq: readIcqMessage(r.viewAt(start, at)) });
        continue;
      } catch (error) {
        if (!isCrossTalkError(error)) throw error;
      }
    }
    tlvs.push({ type, value: r.viewAt(start, at) });
  }
  r.offset = end;
  return tlvs;
}

function icbmTlvValueSize(t: IcbmTlv): number {
  if ('fragments' in t) return fragmentsSize(t.fragments);
  if ('icq' in t) return icqMessageSize(t.icq);
  return t.value.length;
}

function icbmTlvsSize(tlvs: readonly IcbmTlv[]): number {
  let n = 0;
  for (const t of tlvs) n += 4 + icbmTlvValueSize(t);
  return n;
}

function writeIcbmTlvs(w: ByteWriter, tlvs: readonly IcbmTlv[]): void {
  for (const t of tlvs) {
    const size = icbmTlvValueSize(t);
    checkLength(size, 0xffff, `ICBM TLV 0x${t.type.toString(16)}`);
    w.u16(t.type);
    w.u16(size);
    if ('fragments' in t) writeFragments(w, t.fragments);
    else if ('icq' in t) w.raw(encodeIcqMessage(t.icq));
    else w.raw(t.value);
  }
}

// ------------------------------------------------------------------ the body table

interface BodyCodec<B extends SnacBody> {
  type: B['type'];
  read(r: ByteReader): B;
  size(b: B): number;
  write(w: ByteWriter, b: B): void;
}

const tlvsCodec: BodyCodec<TlvsBody> = {
  type: 'tlvs',
  read: (r) => ({ type: 'tlvs', tlvs: readTlvChain(r, r.end) }),
  size: (b) => tlvChainSize(b.tlvs),
  write: (w, b) => writeTlvChain(w, b.tlvs),
};

const errorCodec: BodyCodec<ErrorBody> = {
  type: 'error',
  read: (r) => ({ type: 'error', code: r.u16('error code'), tlvs: readTlvChain(r, r.end) }),
  size: (b) => 2 + tlvChainSize(b.tlvs),
  write: (w, b) => {
    w.u16(b.code);
    writeTlvChain(w, b.tlvs);
  },
};

const familiesCodec: BodyCodec<FamiliesBody> = {
  type: 'families',
  read: (r) => {
    if (r.remaining % 2 !== 0) r.need(r.remaining + 1, 'family list');
    const families: number[] = [];
    while (!r.done) families.push(r.u16());
    return { type: 'families', families };
  },
  size: (b) => 2 * b.families.length,
  write: (w, b) => {
    for (const f of b.families) w.u16(f);
  },
};

const userInfoCodec: BodyCodec<UserInfoBody> = {
  type: 'user-info',
  read: (r) => {
    const users: UserInfo[] = [];
    while (!r.done) users.push(readUserInfo(r));
    if (users.length === 0) r.need(1, 'user info');
    return { type: 'user-info', users };
  },
  size: (b) => {
    let n = 0;
    for (const u of b.users) n += userInfoSize(u);
    return n;
  },
  write: (w, b) => {
    for (const u of b.users) writeUserInfo(w, u);
  },
};

const idleCodec: BodyCodec<IdleBody> = {
  type: 'idle',
  read: (r) => ({ type: 'idle', seconds: r.u32('idle seconds') }),
  size: () => 4,
  write: (w, b) => w.u32(b.seconds),
};

const screenNamesCodec: BodyCodec<ScreenNamesBody> = {
  type: 'screen-names',
  read: (r) => {
    const names: string[] = [];
    while (!r.done) names.push(r.string8('screen name'));
    return { type: 'screen-names', names };
  },
  size: (b) => {
    let n = 0;
    for (const s of b.names) n += 1 + s.length;
    return n;
  },
  write: (w, b) => {
    for (const s of b.names) w.string8(s, 'screen name');
  },
};

const icbmToHostCodec: BodyCodec<IcbmToHostBody> = {
  type: 'icbm-to-host',
  read: (r) => {
    const cookie = readCookie(r);
    const channel = r.u16('ICBM channel');
    const screenName = r.string8('ICBM screen name');
    return { type: 'icbm-to-host', cookie, channel, screenName, tlvs: readIcbmTlvs(r, channel) };
  },
  size: (b) => 11 + b.screenName.length + icbmTlvsSize(b.tlvs),
  write: (w, b) => {
    writeCookie(w, b.cookie);
    w.u16(b.channel);
    w.string8(b.screenName, 'ICBM screen name');
    writeIcbmTlvs(w, b.tlvs);
  },
};

const icbmToClientCodec: BodyCodec<IcbmToClientBody> = {
  type: 'icbm-to-client',
  read: (r) => {
    const cookie = readCookie(r);
    const channel = r.u16('ICBM channel');
    const sender = readUserInfo(r);
    return { type: 'icbm-to-client', cookie, channel, sender, tlvs: readIcbmTlvs(r, channel) };
  },
  size: (b) => 10 + userInfoSize(b.sender) + icbmTlvsSize(b.tlvs),
  write: (w, b) => {
    writeCookie(w, b.cookie);
    w.u16(b.channel);
    writeUserInfo(w, b.sender);
    writeIcbmTlvs(w, b.tlvs);
  },
};

const icbmAckCodec: BodyCodec<IcbmAckBody> = {
  type: 'icbm-ack',
  read: (r) => ({
    type: 'icbm-ack',
    cookie: readCookie(r),
    channel: r.u16('ICBM channel'),
    screenName: r.string8('ICBM screen name'),
  }),
  size: (b) => 11 + b.screenName.length,
  write: (w, b) => {
    writeCookie(w, b.cookie);
    w.u16(b.channel);
    w.string8(b.screenName, 'ICBM screen name');
  },
};

const icbmEventCodec: BodyCodec<IcbmEventBody> = {
  type: 'icbm-event',
  read: (r) => ({
    type: 'icbm-event',
    cookie: readCookie(r),
    channel: r.u16('ICBM channel'),
    screenName: r.string8('ICBM screen name'),
    event: r.u16('typing event'),
  }),
  size: (b) => 13 + b.screenName.length,
  write: (w, b) => {
    writeCookie(w, b.cookie);
    w.u16(b.channel);
    w.string8(b.screenName, 'ICBM screen name');
    w.u16(b.event);
  },
};

const feedbagReplyCodec: BodyCodec<FeedbagReplyBody> = {
  type: 'feedbag-reply',
  read: (r) => {
    const reply = readFeedbagReply(r.rest());
    return { type: 'feedbag-reply', ...reply };
  },
  size: (b) => 7 + feedbagItemsSize(b.items),
  write: (w, b) => {
    w.u8(b.version);
    checkLength(b.items.length, 0xffff, 'feedbag item count');
    w.u16(b.items.length);
    for (const item of b.items) writeFeedbagItem(w, item);
    w.u32(b.lastUpdate);
  },
};

const feedbagItemsCodec: BodyCodec<FeedbagItemsBody> = {
  type: 'feedbag-items',
  read: (r) => ({ type: 'feedbag-items', items: readFeedbagItems(r.rest()) }),
  size: (b) => feedbagItemsSize(b.items),
  write: (w, b) => w.raw(encodeFeedbagItems(b.items)),
};

const feedbagStatusCodec: BodyCodec<FeedbagStatusBody> = {
  type: 'feedbag-status',
  read: (r) => {
    if (r.remaining % 2 !== 0) r.need(r.remaining + 1, 'feedbag status list');
    const codes: number[] = [];
    while (!r.done) codes.push(r.u16());
    return { type: 'feedbag-status', codes };
  },
  size: (b) => 2 * b.codes.length,
  write: (w, b) => {
    for (const c of b.codes) w.u16(c);
  },
};

function withRest<B extends { rest?: Uint8Array }>(b: B, r: ByteReader): B {
  if (!r.done) b.rest = r.rest();
  return b;
}

const authRequestCodec: BodyCodec<AuthRequestBody> = {
  type: 'auth-request',
  read: (r) => {
    const screenName = r.string8('auth request screen name');
    const reason = r.string16('auth request reason');
    return withRest<AuthRequestBody>({ type: 'auth-request', screenName, reason }, r);
  },
  size: (b) => 3 + b.screenName.length + b.reason.length + (b.rest?.length ?? 0),
  write: (w, b) => {
    w.string8(b.screenName, 'auth request screen name');
    w.string16(b.reason, 'auth request reason');
    if (b.rest) w.raw(b.rest);
  },
};

const authReplyCodec: BodyCodec<AuthReplyBody> = {
  type: 'auth-reply',
  read: (r) => {
    const screenName = r.string8('auth reply screen name');
    const accepted = r.u8('auth reply flag');
    const reason = r.string16('auth reply reason');
    return withRest<AuthReplyBody>({ type: 'auth-reply', screenName, accepted, reason }, r);
  },
  size: (b) => 4 + b.screenName.length + b.reason.length + (b.rest?.length ?? 0),
  write: (w, b) => {
    w.string8(b.screenName, 'auth reply screen name');
    w.u8(b.accepted);
    w.string16(b.reason, 'auth reply reason');
    if (b.rest) w.raw(b.rest);
  },
};

const buddyAddedCodec: BodyCodec<BuddyAddedBody> = {
  type: 'buddy-added',
  read: (r) => withRest<BuddyAddedBody>({ type: 'buddy-added', screenName: r.string8('screen name') }, r),
  size: (b) => 1 + b.screenName.length + (b.rest?.length ?? 0),
  write: (w, b) => {
    w.string8(b.screenName, 'screen name');
    if (b.rest) w.raw(b.rest);
  },
};

const challengeCodec: BodyCodec<ChallengeBody> = {
  type: 'bucp-challenge',
  read: (r) => ({ type: 'bucp-challenge', key: r.string16('BUCP auth key') }),
  size: (b) => 2 + b.key.length,
  write: (w, b) => w.string16(b.key, 'BUCP auth key'),
};

const key = (family: number, subtype: number) => (family << 16) | subtype;

/** Which SNACs get a structured body; everything else passes through raw. */
const BODY_CODECS = new Map<number, BodyCodec<SnacBody>>(
  (
    [
      [Family.oservice, OService.hostOnline, familiesCodec],
      [Family.oservice, OService.serviceResponse, tlvsCodec],
      [Family.oservice, OService.userInfoUpdate, userInfoCodec],
      [Family.oservice, OService.idleNotification, idleCodec],
      [Family.oservice, OService.setUserInfoFields, tlvsCodec],
      [Family.locate, Locate.setInfo, tlvsCodec],
      [Family.buddy, Buddy.addBuddies, screenNamesCodec],
      [Family.buddy, Buddy.delBuddies, screenNamesCodec],
      [Family.buddy, Buddy.arrived, userInfoCodec],
      [Family.buddy, Buddy.departed, userInfoCodec],
      [Family.icbm, Icbm.channelMsgToHost, icbmToHostCodec],
      [Family.icbm, Icbm.channelMsgToClient, icbmToClientCodec],
      [Family.icbm, Icbm.hostAck, icbmAckCodec],
      [Family.icbm, Icbm.clientEvent, icbmEventCodec],
      [Family.feedbag, Feedbag.query, tlvsCodec],
      [Family.feedbag, Feedbag.reply, feedbagReplyCodec],
      [Family.feedbag, Feedbag.use, tlvsCodec],
      [Family.feedbag, Feedbag.insertItem, feedbagItemsCodec],
      [Family.feedbag, Feedbag.updateItem, feedbagItemsCodec],
      [Family.feedbag, Feedbag.deleteItem, feedbagItemsCodec],
      [Family.feedbag, Feedbag.status, feedbagStatusCodec],
      [Family.feedbag, Feedbag.startCluster, tlvsCodec],
      [Family.feedbag, Feedbag.endCluster, tlvsCodec],
      [Family.feedbag, Feedbag.requestAuthorizeToHost, authRequestCodec],
      [Family.feedbag, Feedbag.requestAuthorizeToClient, authRequestCodec],
      [Family.feedbag, Feedbag.respondAuthorizeToHost, authReplyCodec],
      [Family.feedbag, Feedbag.respondAuthorizeToClient, authReplyCodec],
      [Family.feedbag, Feedbag.buddyAdded, buddyAddedCodec],
      [Family.bucp, Bucp.loginRequest, tlvsCodec],
      [Family.bucp, Bucp.loginResponse, tlvsCodec],
      [Family.bucp, Bucp.challengeRequest, tlvsCodec],
      [Family.bucp, Bucp.challengeResponse, challengeCodec],
    ] as [number, number, BodyCodec<SnacBody>][]
  ).map(([f, s, c]) => [key(f, s), c]),
);

const BY_TYPE = new Map<string, BodyCodec<SnacBody>>();
for (const c of [...BODY_CODECS.values(), errorCodec as BodyCodec<SnacBody>]) BY_TYPE.set(c.type, c);

function codecFor(family: number, subtype: number): BodyCodec<SnacBody> | undefined {
  // Subtype 1 is the error reply in every family (libpurple snactypes.h *_ERROR).
  if (subtype === 0x0001) return errorCodec as BodyCodec<SnacBody>;
  return BODY_CODECS.get(key(family, subtype));
}

/** Decodes a body exactly (every byte accounted for) or keeps it raw. Never throws on bad bytes. */
export function readSnacBody(family: number, subtype: number, bytes: Uint8Array, start: number): SnacBody {
  const codec = codecFor(family, subtype);
  if (codec) {
    try {
      const r = new ByteReader(bytes, start);
      const body = codec.read(r);
      r.expectEnd(codec.type);
      return body;
    } catch (error) {
      if (!isCrossTalkError(error)) throw error;
      return { type: 'raw', bytes: view(bytes, start, bytes.length), error: error.message };
    }
  }
  return { type: 'raw', bytes: view(bytes, start, bytes.length) };
}

function bodyCodec(body: SnacBody): BodyCodec<SnacBody> | undefined {
  if (body.type === 'raw') return undefined;
  const codec = BY_TYPE.get(body.type);
  if (!codec) throw new MalformedFrameError(PROTOCOL, `unknown SNAC body type "${String(body.type)}"`);
  return codec;
}

export function snacBodySize(body: SnacBody): number {
  const codec = bodyCodec(body);
  return codec ? codec.size(body) : (body as RawBody).bytes.length;
}

export function writeSnacBody(w: ByteWriter, body: SnacBody): void {
  const codec = bodyCodec(body);
  if (codec) codec.write(w, body);
  else w.raw((body as RawBody).bytes);
}

export function isKnownBodyType(type: string): boolean {
  return type === 'raw' || BY_TYPE.has(type);
}
