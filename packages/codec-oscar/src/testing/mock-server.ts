import { randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { toHex } from '@crosstalk/core';
import { FeedbagAttribute, FeedbagClass, type FeedbagItem } from '../feedbag/feedbag-item.js';
import { FeedbagList, feedbagEditOf, orderOf, withOrder } from '../feedbag/feedbag-list.js';
import type { FlapFrame, Snac } from '../flap/flap-frame.js';
import { LoginError } from '../login/login-errors.js';
import { roastPassword } from '../login/roast.js';
import { IcqStatus } from '../presence/presence.js';
import { Bucp, Buddy, Family, Feedbag, Icbm, Locate, OService, SERVER_REQUEST_ID } from '../snac/families.js';
import { snacFrame } from '../snac/snac.js';
import type { IcbmTlv, SnacBody } from '../snac/snac-body.js';
import { findTlv, type Tlv, tlv, tlvString, tlvU16Value, tlvU32Value } from '../tlv/tlv.js';
import { sameScreenName } from '../translate/screen-names.js';
import { UserFlag, type UserInfo, UserInfoTlv } from '../user-info/user-info.js';
import { bucpStrongHash, bucpWeakHash, TLV_STRONG_HASH_FLAG } from './credentials.js';
import { FlapSocket } from './flap-socket.js';

/** A buddy in a mock user's stored feedbag. */
export interface MockBuddy {
  screenName: string;
  /** Group name; default "Buddies". */
  group?: string;
  alias?: string;
  /** Stored with attribute 0x66 (awaiting authorization). */
  pending?: boolean;
}

/** A user of the mock OSCAR server. */
export interface MockOscarUser {
  screenName: string;
  password: string;
  /** The initial feedbag (server-stored buddy list). */
  buddies?: MockBuddy[];
}

/** Options of `startMockOscarServer`. */
export interface MockOscarServerOptions {
  users: MockOscarUser[];
  /** First FLAP sequence number of every connection (Open OSCAR Server uses 100). */
  startSeq?: number;
  /** Close a connection whose client skips or repeats a FLAP sequence number (default true). */
  strictSeqs?: boolean;
  /** Keep only about this many of the latest frames per connection (default: all; long load runs). */
  maxHistory?: number;
}

/** What the mock saw on one connection. */
export interface MockConnection {
  id: number;
  kind: 'unknown' | 'auth' | 'bos';
  screenName?: string;
  /** The client's FLAP sequence numbers, in order. */
  seqs: number[];
  seqErrors: string[];
  socket: FlapSocket;
}

/** A running mock OSCAR server, as `startMockOscarServer` returns it. */
export interface MockOscarServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly connections: readonly MockConnection[];
  /** Every sequence problem any client caused (each also closed its connection when strict). */
  readonly seqErrors: readonly string[];
  /** A user's stored feedbag. */
  feedbag(screenName: string): FeedbagItem[];
  isOnline(screenName: string): boolean;
  close(): Promise<void>;
}

/** Families a BOS connection serves (0x01/0x03 host online; Open OSCAR Server sends more). */
const BOS_FAMILIES = [
  Family.oservice,
  Family.locate,
  Family.buddy,
  Family.icbm,
  Family.permitDeny,
  Family.feedbag,
];

interface Account {
  user: MockOscarUser;
  feedbag: FeedbagList;
}

interface BosSession {
  account: Account;
  conn: MockConnection;
  online: boolean;
  away: boolean;
  icqStatus: number;
  idleMinutes: number;
  signonTime: number;
  /** Client-side buddy list (0x03/0x04). */
  localBuddies: string[];
}

const key = (screenName: string) => screenName.replace(/ /g, '').toLowerCase();

function initialFeedbag(user: MockOscarUser): FeedbagList {
  const list = new FeedbagList();
  const groups = new Map<string, FeedbagItem>();
  let nextGroup = 1;
  let nextItem = 1;
  for (const b of user.buddies ?? []) {
    const name = b.group ?? 'Buddies';
    let g = groups.get(name);
    if (!g) {
      g = { name, groupId: nextGroup++, itemId: 0, classId: FeedbagClass.group, attributes: [] };
      groups.set(name, g);
    }
    const attributes: Tlv[] = [];
    if (b.alias) attributes.push(tlv(FeedbagAttribute.alias, b.alias));
    if (b.pending) attributes.push(tlv(FeedbagAttribute.pending));
    const item = {
      name: b.screenName,
      groupId: g.groupId,
      itemId: nextItem++,
      classId: FeedbagClass.buddy,
      attributes,
    };
    list.items.push(item);
    groups.set(name, withOrder(g, [...orderOf(g), item.itemId]));
  }
  const root = withOrder(
    { name: '', groupId: 0, itemId: 0, classId: FeedbagClass.group, attributes: [] },
    [...groups.values()].map((g) => g.groupId),
  );
  list.items.unshift(root, ...groups.values());
  return list;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A mock OSCAR server on 127.0.0.1 that behaves as Open OSCAR Server (retro-aim-server) does in
 * the recorded transcripts: auth and BOS on one port, told apart by the client's first frame (a
 * cookie TLV 6 means BOS); sequence numbers from 100; BUCP MD5 login with the strong (TLV 0x4C) and
 * the weak hash, and the channel-1 roasted-password login answered on channel 4; feedbag storage;
 * presence fan-out; ICBM routing with host acks (TLV 3 is stripped from the relayed message);
 * typing relayed with the sender's request id; authorization requests and replies.
 *
 * Unlike Open OSCAR Server it checks the client's FLAP sequence numbers and closes a connection on
 * a gap or a repeat, as a strict server may; real servers differ (retro-aim-server ignores them).
 */
export async function startMockOscarServer(options: MockOscarServerOptions): Promise<MockOscarServer> {
  const startSeq = options.startSeq ?? 100;
  const strict = options.strictSeqs ?? true;
  const accounts = new Map<string, Account>();
  for (const user of options.users)
    accounts.set(key(user.screenName), { user, feedbag: initialFeedbag(user) });
  const cookies = new Map<string, Account>();
  const sessions = new Map<string, BosSession>();
  const connections: MockConnection[] = [];
  const seqErrors: string[] = [];
  let nextConnection = 0;
  let port = 0;

  // ---------------------------------------------------------------- presence

  const userInfo = (s: BosSession): UserInfo => {
    const isIcq = /^[0-9]+$/.test(s.account.user.screenName);
    let flags: number = UserFlag.oscarFree;
    if (isIcq) flags |= UserFlag.icq;
    if (s.away) flags |= UserFlag.away;
    const tlvs: Tlv[] = [
      tlvU16Value(UserInfoTlv.userFlags, flags),
      tlvU32Value(UserInfoTlv.signonTime, s.signonTime),
    ];
    if (s.idleMinutes > 0) tlvs.push(tlvU16Value(UserInfoTlv.idleMinutes, s.idleMinutes));
    tlvs.push(tlvU32Value(UserInfoTlv.status, s.icqStatus));
    return { screenName: s.account.user.screenName, warning: 0, tlvs };
  };

  const buddyNames = (s: BosSession): string[] => [
    ...s.account.feedbag.buddies().map((b) => b.name),
    ...s.localBuddies,
  ];

  const hasBuddy = (s: BosSession, screenName: string) =>
    buddyNames(s).some((n) => sameScreenName(n, screenName));

  const arrived = (to: BosSession, about: BosSession) =>
    to.conn.socket.send(
      snacFrame(
        Family.buddy,
        Buddy.arrived,
        { type: 'user-info', users: [userInfo(about)] },
        { requestId: SERVER_REQUEST_ID },
      ),
    );

  const departed = (to: BosSession, screenName: string) =>
    to.conn.socket.send(
      snacFrame(
        Family.buddy,
        Buddy.departed,
        {
          type: 'user-info',
          users: [{ screenName, warning: 0, tlvs: [tlvU16Value(UserInfoTlv.userFlags, 0)] }],
        },
        { requestId: SERVER_REQUEST_ID },
      ),
    );

  /** Tells everyone online who lists `s` as a buddy about its presence (retro-aim-server buddyNotifier). */
  const fanOut = (s: BosSession) => {
    for (const other of sessions.values()) {
      if (other === s || !other.online || !hasBuddy(other, s.account.user.screenName)) continue;
      if (s.online) arrived(other, s);
      else departed(other, s.account.user.screenName);
    }
  };

  const online = (screenName: string): BosSession | undefined => {
    const s = sessions.get(key(screenName));
    return s?.online ? s : undefined;
  };

  // ---------------------------------------------------------------- auth

  const loginTlvs = (account: Account): Tlv[] => {
    const cookie = randomBytes(32);
    cookies.set(toHex(cookie), account);
    return [tlv(0x01, account.user.screenName), tlv(0x05, `127.0.0.1:${port}`), tlv(0x06, cookie)];
  };

  const failureTlvs = (screenName: string, code: number): Tlv[] => [
    tlv(0x01, screenName),
    tlvU16Value(0x08, code),
  ];

  const authSnac = (conn: MockConnection, p: Snac, state: { key?: string }) => {
    const sock = conn.socket;
    const tlvs = p.body.type === 'tlvs' ? p.body.tlvs : [];
    const name = tlvString(tlvs, 0x01) ?? '';
    const account = accounts.get(key(name));
    conn.screenName = name;
    if (p.subtype === Bucp.challengeRequest) {
      if (!account) {
        // retro-aim-server BUCPChallenge: an unknown user gets the login reply with error 0x0001.
        const body: SnacBody = {
          type: 'tlvs',
          tlvs: [tlvU16Value(0x08, LoginError.invalidUsernameOrPassword)],
        };
        sock.send(snacFrame(Family.bucp, Bucp.loginResponse, body, { requestId: p.requestId }));
        return;
      }
      state.key = randomBytes(16).toString('hex');
      sock.send(
        snacFrame(
          Family.bucp,
          Bucp.challengeResponse,
          { type: 'bucp-challenge', key: state.key },
          { requestId: p.requestId },
        ),
      );
      return;
    }
    if (p.subtype === Bucp.loginRequest) {
      const hash = findTlv(tlvs, 0x25);
      let ok = false;
      if (account && hash && state.key !== undefined) {
        const expected = findTlv(tlvs, TLV_STRONG_HASH_FLAG)
          ? bucpStrongHash(state.key, account.user.password)
          : bucpWeakHash(state.key, account.user.password);
        ok = constantTimeEqual(hash, expected);
      }
      const reply = account
        ? ok
          ? loginTlvs(account)
          : failureTlvs(name, LoginError.invalidPassword)
        : failureTlvs(name, LoginError.invalidUsernameOrPassword);
      sock.send(
        snacFrame(Family.bucp, Bucp.loginResponse, { type: 'tlvs', tlvs: reply }, { requestId: p.requestId }),
      );
    }
  };

  /** Channel-1 login with a roasted password, answered on channel 4 (Open OSCAR Server). */
  const roastedLogin = (conn: MockConnection, tlvs: Tlv[]) => {
    const name = tlvString(tlvs, 0x01) ?? '';
    conn.screenName = name;
    const account = accounts.get(key(name));
    const roasted = findTlv(tlvs, 0x02) ?? new Uint8Array(0);
    const reply = !account
      ? failureTlvs(name, LoginError.invalidUsernameOrPassword)
      : constantTimeEqual(roastPassword(account.user.password), roasted)
        ? loginTlvs(account)
        : failureTlvs(name, LoginError.invalidPassword);
    conn.socket.send({ channel: 4, seq: 0, payload: { type: 'signoff', tlvs: reply } });
    conn.socket.end();
  };

  // ---------------------------------------------------------------- BOS

  const reply = (s: BosSession, p: Snac, subtype: number, body: SnacBody) =>
    s.conn.socket.send(snacFrame(p.family, subtype, body, { requestId: p.requestId }));

  const raw = (...bytes: number[]): SnacBody => ({ type: 'raw', bytes: Uint8Array.from(bytes) });

  const bosSnac = (s: BosSession, p: Snac) => {
    const body = p.body;
    const me = s.account.user.screenName;
    switch ((p.family << 16) | p.subtype) {
      case (Family.oservice << 16) | OService.clientVersions:
        reply(s, p, OService.hostVersions, body);
        return;
      case (Family.oservice << 16) | OService.rateParamsQuery:
        // One rate class (id 1) and one empty group (retro-aim-server SNAC_0x01_0x07 layout).
        reply(
          s,
          p,
          OService.rateParamsReply,
          raw(
            0,
            1,
            0,
            1,
            ...[80, 2500, 2000, 1500, 800, 6000, 6000].flatMap((v) => [
              v >>> 24,
              (v >>> 16) & 255,
              (v >>> 8) & 255,
              v & 255,
            ]),
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            0,
            0,
          ),
        );
        return;
      case (Family.oservice << 16) | OService.userInfoQuery:
        reply(s, p, OService.userInfoUpdate, { type: 'user-info', users: [userInfo(s)] });
        return;
      case (Family.oservice << 16) | OService.idleNotification:
        if (body.type === 'idle') {
          s.idleMinutes = Math.floor(body.seconds / 60) || (body.seconds > 0 ? 1 : 0);
          if (s.online) fanOut(s);
        }
        return;
      case (Family.oservice << 16) | OService.setUserInfoFields:
        if (body.type === 'tlvs') {
          const status = findTlv(body.tlvs, 0x06);
          if (status?.length === 4) {
            s.icqStatus = ((status[0]! << 24) | (status[1]! << 16) | (status[2]! << 8) | status[3]!) >>> 0;
            s.away =
              (s.icqStatus & 0xffff) !== IcqStatus.online && (s.icqStatus & IcqStatus.freeForChat) === 0;
            if (s.online) fanOut(s);
          }
        }
        return;
      case (Family.oservice << 16) | OService.clientOnline:
        s.online = true;
        fanOut(s);
        for (const name of buddyNames(s)) {
          const other = online(name);
          if (other && other !== s) arrived(s, other);
        }
        // Open OSCAR Server ends the sign-on with stats 0x0B/0x02 (transcript oscar_bucp_im_ras #0033).
        s.conn.socket.send(
          snacFrame(Family.stats, 0x0002, raw(0, 0, 0x0e, 0x10), { requestId: SERVER_REQUEST_ID }),
        );
        return;
      case (Family.locate << 16) | Locate.rightsQuery:
        reply(s, p, Locate.rightsReply, { type: 'tlvs', tlvs: [tlvU16Value(0x01, 0x1000)] });
        return;
      case (Family.locate << 16) | Locate.setInfo:
        if (body.type === 'tlvs') {
          const away = findTlv(body.tlvs, 0x04);
          if (away !== undefined) {
            s.away = away.length > 0;
            if (s.online) fanOut(s);
          }
        }
        return;
      case (Family.buddy << 16) | Buddy.rightsQuery:
        reply(s, p, Buddy.rightsReply, {
          type: 'tlvs',
          tlvs: [tlvU16Value(0x01, 220), tlvU16Value(0x02, 750)],
        });
        return;
      case (Family.buddy << 16) | Buddy.addBuddies:
        if (body.type === 'screen-names') {
          for (const name of body.names) {
            if (!s.localBuddies.some((n) => sameScreenName(n, name))) s.localBuddies.push(name);
            const other = online(name);
            if (s.online && other) arrived(s, other);
          }
        }
        return;
      case (Family.buddy << 16) | Buddy.delBuddies:
        if (body.type === 'screen-names') {
          s.localBuddies = s.localBuddies.filter((n) => !body.names.some((d) => sameScreenName(n, d)));
        }
        return;
      case (Family.icbm << 16) | Icbm.parameterQuery:
        // MaxSlots, flags, max message length, evil levels, min interval (retro-aim-server ICBMParameterReply).
        reply(
          s,
          p,
          Icbm.parameterReply,
          raw(0, 4, 0, 0, 0, 3, 0x1f, 0x40, 0x03, 0xe7, 0x03, 0xe7, 0, 0, 0, 0),
        );
        return;
      case (Family.icbm << 16) | Icbm.channelMsgToHost:
        if (body.type === 'icbm-to-host')
          routeIcbm(s, p, body.cookie, body.channel, body.screenName, body.tlvs);
        return;
      case (Family.icbm << 16) | Icbm.clientEvent:
        if (body.type === 'icbm-event') {
          const target = online(body.screenName);
          // Open OSCAR Server relays typing with the sender's request id.
          target?.conn.socket.send(
            snacFrame(Family.icbm, Icbm.clientEvent, { ...body, screenName: me }, { requestId: p.requestId }),
          );
        }
        return;
      case (Family.permitDeny << 16) | 0x0002:
        reply(s, p, 0x0003, { type: 'tlvs', tlvs: [tlvU16Value(0x01, 100), tlvU16Value(0x02, 100)] });
        return;
      case (Family.feedbag << 16) | Feedbag.rightsQuery:
        reply(s, p, Feedbag.rightsReply, {
          type: 'tlvs',
          tlvs: [tlvU16Value(0x03, 200), tlvU16Value(0x05, 200)],
        });
        return;
      case (Family.feedbag << 16) | Feedbag.query:
      case (Family.feedbag << 16) | Feedbag.queryIfModified:
        reply(s, p, Feedbag.reply, {
          type: 'feedbag-reply',
          version: 0,
          items: [...s.account.feedbag.items],
          lastUpdate: Math.floor(Date.now() / 1000),
        });
        return;
      case (Family.feedbag << 16) | Feedbag.insertItem:
      case (Family.feedbag << 16) | Feedbag.updateItem:
      case (Family.feedbag << 16) | Feedbag.deleteItem:
        if (body.type === 'feedbag-items') feedbagEdit(s, p, body.items);
        return;
      case (Family.feedbag << 16) | Feedbag.requestAuthorizeToHost:
        if (body.type === 'auth-request') {
          online(body.screenName)?.conn.socket.send(
            snacFrame(
              Family.feedbag,
              Feedbag.requestAuthorizeToClient,
              { ...body, screenName: me },
              { requestId: SERVER_REQUEST_ID },
            ),
          );
        }
        return;
      case (Family.feedbag << 16) | Feedbag.respondAuthorizeToHost:
        if (body.type === 'auth-reply') {
          online(body.screenName)?.conn.socket.send(
            snacFrame(
              Family.feedbag,
              Feedbag.respondAuthorizeToClient,
              { ...body, screenName: me },
              { requestId: SERVER_REQUEST_ID },
            ),
          );
        }
        return;
      default:
        // Everything else (ICBM parameters, feedbag use and edit brackets, stats) needs no answer.
        return;
    }
  };

  const routeIcbm = (
    s: BosSession,
    p: Snac,
    cookie: string,
    channel: number,
    to: string,
    tlvs: IcbmTlv[],
  ) => {
    const target = online(to);
    if (!target) {
      // ICBM error 0x0004 "not logged on" (transcript oscar_bucp_im_ras #0080).
      s.conn.socket.send(
        snacFrame(
          Family.icbm,
          Icbm.error,
          { type: 'error', code: 0x0004, tlvs: [] },
          { requestId: p.requestId },
        ),
      );
      return;
    }
    const wantsAck = tlvs.some((t) => t.type === 0x03);
    // Open OSCAR Server strips the host-ack request (TLV 3) from the relayed message.
    const relayed = tlvs.filter((t) => t.type !== 0x03);
    target.conn.socket.send(
      snacFrame(
        Family.icbm,
        Icbm.channelMsgToClient,
        { type: 'icbm-to-client', cookie, channel, sender: userInfo(s), tlvs: relayed },
        { requestId: SERVER_REQUEST_ID },
      ),
    );
    if (wantsAck) {
      s.conn.socket.send(
        snacFrame(
          Family.icbm,
          Icbm.hostAck,
          { type: 'icbm-ack', cookie, channel, screenName: to },
          { requestId: p.requestId },
        ),
      );
    }
  };

  const feedbagEdit = (s: BosSession, p: Snac, items: FeedbagItem[]) => {
    const kind = feedbagEditOf(p.subtype);
    const before = new Set(s.account.feedbag.buddies().map((b) => key(b.name)));
    s.account.feedbag.apply(kind, items);
    reply(s, p, Feedbag.status, { type: 'feedbag-status', codes: items.map(() => 0) });
    if (kind === 'delete') return;
    for (const item of items) {
      if (item.classId !== FeedbagClass.buddy || before.has(key(item.name))) continue;
      const other = online(item.name);
      if (!other) continue;
      // A new buddy: its presence now, and "you were added" (0x13/0x1C) for it.
      if (s.online) arrived(s, other);
      other.conn.socket.send(
        snacFrame(
          Family.feedbag,
          Feedbag.buddyAdded,
          { type: 'buddy-added', screenName: s.account.user.screenName },
          { requestId: SERVER_REQUEST_ID },
        ),
      );
    }
  };

  // ---------------------------------------------------------------- connections

  const accept = (socket: Socket) => {
    const id = ++nextConnection;
    const authState: { key?: string } = {};
    let session: BosSession | undefined;
    const conn: MockConnection = {
      id,
      kind: 'unknown',
      seqs: [],
      seqErrors: [],
      socket: undefined as unknown as FlapSocket,
    };
    const onFrame = (frame: FlapFrame) => {
      const p = frame.payload;
      if (frame.channel === 4) {
        conn.socket.end();
        return;
      }
      if (conn.kind === 'unknown' && p.type === 'signon') {
        const cookie = findTlv(p.tlvs, 0x06);
        if (cookie) {
          const account = cookies.get(toHex(cookie));
          if (!account) {
            conn.socket.send({
              channel: 4,
              seq: 0,
              payload: { type: 'signoff', tlvs: [tlvU16Value(0x08, LoginError.invalidAccount)] },
            });
            conn.socket.end();
            return;
          }
          cookies.delete(toHex(cookie));
          conn.kind = 'bos';
          conn.screenName = account.user.screenName;
          const previous = sessions.get(key(account.user.screenName));
          previous?.conn.socket.destroy();
          session = {
            account,
            conn,
            online: false,
            away: false,
            icqStatus: IcqStatus.online,
            idleMinutes: 0,
            signonTime: Math.floor(Date.now() / 1000),
            localBuddies: [],
          };
          sessions.set(key(account.user.screenName), session);
          conn.socket.send(
            snacFrame(
              Family.oservice,
              OService.hostOnline,
              { type: 'families', families: BOS_FAMILIES },
              { requestId: SERVER_REQUEST_ID },
            ),
          );
          return;
        }
        conn.kind = 'auth';
        if (findTlv(p.tlvs, 0x01)) roastedLogin(conn, p.tlvs);
        return;
      }
      if (p.type !== 'snac') return;
      if (conn.kind === 'auth' && p.family === Family.bucp) authSnac(conn, p, authState);
      else if (conn.kind === 'bos' && session) bosSnac(session, p);
    };
    const sock = new FlapSocket(socket, {
      label: `mock connection ${id}`,
      startSeq,
      onFrame,
      ...(options.maxHistory !== undefined ? { maxHistory: options.maxHistory } : {}),
      onSeqError: (message) => {
        seqErrors.push(message);
        if (strict) socket.destroy();
      },
    });
    conn.socket = sock;
    conn.seqs = sock.seqs;
    conn.seqErrors = sock.seqErrors;
    connections.push(conn);
    void sock.closed.then(() => {
      if (session && sessions.get(key(session.account.user.screenName)) === session) {
        sessions.delete(key(session.account.user.screenName));
        if (session.online) {
          session.online = false;
          fanOut(session);
        }
      }
    });
    // The server speaks first: FLAP channel 1, version 1 (transcripts #0002).
    sock.send({ channel: 1, seq: 0, payload: { type: 'signon', version: 1, tlvs: [] } });
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    accept(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;

  return {
    host: '127.0.0.1',
    port,
    connections,
    seqErrors,
    feedbag: (screenName) => [...(accounts.get(key(screenName))?.feedbag.items ?? [])],
    isOnline: (screenName) => online(screenName) !== undefined,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}
