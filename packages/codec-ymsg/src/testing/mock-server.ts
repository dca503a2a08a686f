import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import type { Framer } from '@crosstalk/core';
import { createYmsgFramer } from '../framer/framer.js';
import { parseHeader, protocolVersion } from '../header/header.js';
import { v1Challenge, v1Response, v1Secrets } from '../login/challenge.js';
import { decodePacket, encodePacket, type YmsgPacket, type YmsgValue, ymsgPacket } from '../packet/packet.js';
import { YmsgKey as K } from '../protocol/keys.js';
import { YmsgService as S } from '../protocol/services.js';
import { STATUS_ACK, STATUS_ADD_DENIED, STATUS_ADD_REQUEST, YmsgStatus } from '../protocol/status.js';

/** A user of the mock YMSG server. */
export interface MockYmsgUser {
  id: string;
  password: string;
  /** Buddies already on the user's list (authorised), by id or with a group (default `Friends`). */
  buddies?: (string | { id: string; group?: string })[];
}

/** Options of `startMockYmsgServer`. */
export interface MockYmsgServerOptions {
  users: MockYmsgUser[];
  /** Version/vendor bytes the server writes (default 0 and 0, as Escargot writes them). */
  headerVersion?: number;
}

/** A running mock YMSG server, as `startMockYmsgServer` returns it. */
export interface MockYmsgServer {
  host: '127.0.0.1';
  port: number;
  /** Every packet the server received, in order, with the connection's user (once known). */
  readonly received: { user: string | undefined; packet: YmsgPacket }[];
  /** True while `id` has a logged-in connection. */
  isOnline(id: string): boolean;
  /** The session id the server gave `id`'s current connection. */
  sessionIdOf(id: string): number | undefined;
  close(): Promise<void>;
}

interface Contact {
  id: string;
  group: string;
  /** Added, but the buddy has not authorised it yet: shown on the list, never online. */
  pending: boolean;
}

interface Account {
  id: string;
  secrets: ReturnType<typeof v1Secrets>;
  contacts: Map<string, Contact>;
  /** Add requests waiting for this user's answer: requester -> message. */
  requests: Map<string, string>;
  offline: YmsgPacket[];
  connection: Connection | undefined;
  state: number;
  custom: string | undefined;
  away: string | undefined;
  utf8: boolean;
}

interface Connection {
  socket: Socket;
  framer: Framer;
  account: Account | undefined;
  claimed: string | undefined;
  sessionId: number;
  challenge: string | undefined;
  /** Protocol generation from the client's header version (Escargot reads byte 4; we read both). */
  generation: number;
}

const lower = (s: string) => s.toLowerCase();

/**
 * A YMSG9/10 server on 127.0.0.1 (port 0) that behaves as the references describe: VERIFY, AUTH
 * challenge and the v1 AUTHRESP check (Escargot front/ymsg/pager.py), LIST + LOGON + PINGCONFIG
 * after login (transcript ymsg10_escargot #0010-#0012), presence fan-out (LOGON, ISAWAY, ISBACK,
 * Y6_STATUS_UPDATE, LOGOFF), MESSAGE routing and offline messages, NOTIFY typing, ADDBUDDY with
 * key 66 results, authorisation (AUTH_REQ_15 for YMSG13+ clients, NEWCONTACT status 3/7 and
 * REJECTCONTACT for YMSG9-12 ones, as Escargot), REMBUDDY. Unlike Escargot it reassembles TCP
 * reads (its framer is ours) and honours a client LOGOFF.
 */
export async function startMockYmsgServer(options: MockYmsgServerOptions): Promise<MockYmsgServer> {
  const accounts = new Map<string, Account>();
  for (const u of options.users) {
    accounts.set(lower(u.id), {
      id: u.id,
      secrets: v1Secrets(u.password),
      contacts: new Map(),
      requests: new Map(),
      offline: [],
      connection: undefined,
      state: 0,
      custom: undefined,
      away: undefined,
      utf8: false,
    });
  }
  for (const u of options.users) {
    const account = accounts.get(lower(u.id))!;
    for (const b of u.buddies ?? []) {
      const { id, group } = typeof b === 'string' ? { id: b, group: 'Friends' } : { group: 'Friends', ...b };
      account.contacts.set(lower(id), { id, group: group ?? 'Friends', pending: false });
    }
  }
  const version = options.headerVersion ?? 0;
  const received: MockYmsgServer['received'] = [];
  const sockets = new Set<Socket>();

  const send = (
    conn: Connection,
    service: number,
    status: number,
    pairs: [number, YmsgValue][],
    sessionId = conn.sessionId,
  ) => {
    if (conn.socket.destroyed) return;
    conn.socket.write(encodePacket(ymsgPacket(service, pairs, { version, vendor: 0, status, sessionId })));
  };

  const online = (a: Account | undefined): a is Account & { connection: Connection } =>
    a?.connection !== undefined && !a.connection.socket.destroyed;

  /** Escargot add_contact_status_to_data: 7 10 11 [19 47] 17 13. */
  const statusRecord = (a: Account, offline = false): [number, YmsgValue][] => {
    const record: [number, YmsgValue][] = [[K.BUDDY, a.id]];
    if (offline) return [...record, [K.STATE, 0], [K.SESSION, sessionHex(a)], [K.IN_CHAT, 0], [K.FLAG, 0]];
    record.push([K.STATE, a.state], [K.SESSION, sessionHex(a)]);
    if (a.state === YmsgStatus.CUSTOM)
      record.push([K.CUSTOM_STATUS, a.custom ?? ''], [K.AWAY, a.away ?? '0']);
    return [...record, [K.IN_CHAT, 0], [K.FLAG, 1]];
  };
  const sessionHex = (a: Account) =>
    (a.connection?.sessionId ?? 0).toString(16).toUpperCase().padStart(8, '0');

  /** Accounts that see `a`'s presence: they list `a` and `a` authorised them. */
  const watchers = (a: Account) =>
    [...accounts.values()].filter((w) => {
      const c = w.contacts.get(lower(a.id));
      return w !== a && c !== undefined && !c.pending && online(w);
    });

  /** A presence change of `a` as each watcher's dialect shows it (Escargot on_presence_notification). */
  const fanOut = (a: Account, service: number) => {
    for (const w of watchers(a)) {
      const conn = w.connection!;
      if (service === S.LOGOFF) {
        send(conn, S.LOGOFF, STATUS_ACK, statusRecord(a, true));
      } else if (service === S.Y6_STATUS_UPDATE && conn.generation < 13) {
        send(conn, a.state === 0 ? S.ISBACK : S.ISAWAY, STATUS_ACK, [[K.USERNAME, w.id], ...statusRecord(a)]);
      } else if (service === S.Y6_STATUS_UPDATE || (conn.generation >= 13 && service !== S.LOGON)) {
        send(conn, S.Y6_STATUS_UPDATE, STATUS_ACK, statusRecord(a));
      } else {
        send(conn, service, STATUS_ACK, [[K.USERNAME, w.id], ...statusRecord(a)]);
      }
    }
  };

  /** LIST then LOGON, as Escargot's _update_buddy_list sends them. */
  const sendList = (conn: Connection, a: Account) => {
    const groups = new Map<string, string[]>();
    for (const c of a.contacts.values()) groups.set(c.group, [...(groups.get(c.group) ?? []), c.id]);
    const lines = [...groups].map(([g, ids]) => `${g}:${ids.join(',')}\n`).join('');
    send(conn, S.LIST, 0, [
      [K.BUDDY_LIST, lines],
      [K.IGNORE_LIST, ''],
      [K.IDENTITIES, a.id],
      [K.COOKIE, `Y\tv=1&n=&l=${a.id}&p=&r=&lg=&intl=&np=; path=/; domain=.yahoo.com`],
      [K.COOKIE, `T\tz=${conn.sessionId.toString(16)}&a=&sk=&ks=&kt=&ku=&d=; path=/; domain=.yahoo.com`],
      [K.COOKIE, 'C\tmg=1'],
      [K.USER_ID, a.id],
      [90, 1],
      [100, 0],
      [101, ''],
      [102, ''],
      [93, 86400],
    ]);
    const visible = [...a.contacts.values()]
      .filter((c) => !c.pending)
      .map((c) => accounts.get(lower(c.id)))
      .filter(online);
    send(conn, S.LOGON, 0, [
      [K.USERNAME, a.id],
      [K.CURRENT_ID, a.id],
      [K.ONLINE_COUNT, visible.length],
      ...visible.flatMap((b) => statusRecord(b)),
    ]);
  };

  const requestNotice = (to: Account, from: string, message: string) => {
    const conn = to.connection!;
    if (conn.generation >= 13) {
      // libpurple yahoo_buddy_auth_req_15 (status 3): 4 requester, 5 me, 14 message.
      send(conn, S.AUTH_REQ_15, STATUS_ADD_REQUEST, [
        [K.SENDER, from],
        [K.TARGET, to.id],
        ...(message
          ? ([
              [K.MESSAGE, message],
              [K.UTF8, 1],
            ] as [number, YmsgValue][])
          : []),
      ]);
    } else {
      // Escargot on_added_me: NEWCONTACT status 3 {1 me, 3 requester, [14 97], 15 time}.
      send(conn, S.NEWCONTACT, STATUS_ADD_REQUEST, [
        [K.CURRENT_ID, to.id],
        [K.USER_ID, from],
        ...(message
          ? ([
              [K.MESSAGE, message],
              [K.UTF8, 1],
            ] as [number, YmsgValue][])
          : []),
        [K.TIME, (Date.now() / 1000).toFixed(6)],
      ]);
    }
  };

  /** `answerer` answered `requester`'s add request. */
  const answer = (answerer: Account, requesterId: string, accepted: boolean, message: string) => {
    answerer.requests.delete(lower(requesterId));
    const requester = accounts.get(lower(requesterId));
    if (!requester) return;
    const entry = requester.contacts.get(lower(answerer.id));
    if (!entry) return;
    if (accepted) entry.pending = false;
    else requester.contacts.delete(lower(answerer.id));
    if (!online(requester)) return;
    const conn = requester.connection;
    if (conn.generation >= 13) {
      send(conn, S.AUTH_REQ_15, STATUS_ACK, [
        [K.SENDER, answerer.id],
        [K.TARGET, requester.id],
        [K.FLAG, accepted ? 1 : 2],
        ...(message ? ([[K.MESSAGE, message]] as [number, YmsgValue][]) : []),
      ]);
    } else if (!accepted) {
      // Escargot on_contact_request_denied: NEWCONTACT status 7 {1 me, 3 who, 14 reason}.
      send(conn, S.NEWCONTACT, STATUS_ADD_DENIED, [
        [K.CURRENT_ID, requester.id],
        [K.USER_ID, answerer.id],
        [K.MESSAGE, message],
      ]);
    }
    if (accepted && online(answerer))
      send(conn, S.LOGON, STATUS_ACK, [[K.USERNAME, requester.id], ...statusRecord(answerer)]);
  };

  const logout = (conn: Connection) => {
    const a = conn.account;
    conn.account = undefined;
    if (a && a.connection === conn) {
      a.connection = undefined;
      fanOut(a, S.LOGOFF);
    }
  };

  const login = (conn: Connection, a: Account) => {
    const previous = a.connection;
    if (previous && !previous.socket.destroyed) {
      // Another login of the same id: the old connection is told (LOGOFF status -1) and dropped.
      send(previous, S.LOGOFF, YmsgStatus.LOGIN_ERROR, []);
      previous.account = undefined;
      previous.socket.end();
    }
    conn.account = a;
    a.connection = conn;
    a.state = 0;
    a.custom = undefined;
    a.away = undefined;
    sendList(conn, a);
    send(conn, S.PING, 0, [
      [143, 60],
      [144, 13],
    ]);
    for (const [requester, message] of a.requests)
      requestNotice(a, accounts.get(requester)?.id ?? requester, message);
    for (const m of a.offline.splice(0))
      conn.socket.write(encodePacket(m.with({ sessionId: conn.sessionId })));
    fanOut(a, S.LOGON);
  };

  const handle = (conn: Connection, packet: YmsgPacket) => {
    received.push({ user: conn.account?.id ?? conn.claimed, packet });
    const a = conn.account;
    switch (packet.service) {
      case S.VERIFY:
        send(conn, S.VERIFY, STATUS_ACK, [], 0);
        return;
      case S.AUTH: {
        const id = packet.get(K.CURRENT_ID) ?? '';
        const account = accounts.get(lower(id));
        if (!account) {
          send(conn, S.AUTHRESP, YmsgStatus.LOGIN_ERROR, [[K.RESULT, 3]], 0);
          return;
        }
        conn.claimed = account.id;
        conn.sessionId = randomInt(1, 0xffffffff);
        conn.challenge = v1Challenge();
        send(conn, S.AUTH, STATUS_ACK, [
          [K.CURRENT_ID, id],
          [K.CHALLENGE, conn.challenge],
        ]);
        return;
      }
      case S.AUTHRESP: {
        const account = conn.claimed ? accounts.get(lower(conn.claimed)) : undefined;
        const expected =
          account && conn.challenge ? v1Response(account.id, conn.challenge, account.secrets) : undefined;
        if (
          !account ||
          !expected ||
          packet.get(K.HASH_PASSWORD) !== expected.key6 ||
          packet.get(K.HASH_CRYPT) !== expected.key96
        ) {
          // libpurple yahoo_process_authresp: 13 = invalid username or password.
          send(conn, S.AUTHRESP, YmsgStatus.LOGIN_ERROR, [[K.RESULT, 13]]);
          return;
        }
        login(conn, account);
        return;
      }
      default:
        break;
    }
    if (!a) return; // everything else needs a login
    switch (packet.service) {
      case S.KEEPALIVE:
        send(conn, S.KEEPALIVE, 0, [[K.CURRENT_ID, a.id]]);
        return;
      case S.LIST:
        sendList(conn, a);
        return;
      case S.ISAWAY:
      case S.ISBACK:
      case S.Y6_STATUS_UPDATE: {
        a.state = Number.parseInt(packet.get(K.STATE) ?? '0', 10) || 0;
        a.custom = packet.get(K.CUSTOM_STATUS);
        a.away = packet.get(K.AWAY);
        fanOut(
          a,
          packet.service === S.Y6_STATUS_UPDATE ? S.Y6_STATUS_UPDATE : a.state === 0 ? S.ISBACK : S.ISAWAY,
        );
        return;
      }
      case S.LOGOFF:
        logout(conn);
        conn.socket.end();
        return;
      case S.MESSAGE: {
        const to = accounts.get(lower(packet.get(K.TARGET) ?? ''));
        if (!to) {
          send(conn, S.MESSAGE, YmsgStatus.BUSY, [[K.TARGET, packet.bytes(K.TARGET) ?? '']]);
          return;
        }
        const extra: [number, YmsgValue][] = [];
        for (const key of [63, 64, K.UTF8]) if (packet.has(key)) extra.push([key, packet.bytes(key)!]);
        const body: [number, YmsgValue][] = [
          [K.SENDER, a.id],
          [K.TARGET, to.id],
          [K.MESSAGE, packet.bytes(K.MESSAGE) ?? ''],
          [K.TIME, Math.floor(Date.now() / 1000)],
          ...extra,
        ];
        if (online(to)) send(to.connection, S.MESSAGE, STATUS_ACK, body);
        else {
          // Stored and sent at the next login with status 5 (Escargot _util_authresp_final: 31 32 first).
          to.offline.push(ymsgPacket(S.MESSAGE, [[31, 6], [32, 6], ...body], { version, status: 5 }));
        }
        return;
      }
      case S.NOTIFY: {
        const to = accounts.get(lower(packet.get(K.TARGET) ?? ''));
        if (!online(to)) return;
        // Transcript #0037: NOTIFY status 1 {5 4 49 14 13}.
        send(to.connection, S.NOTIFY, STATUS_ACK, [
          [K.TARGET, to.id],
          [K.SENDER, a.id],
          [K.NOTIFY_TYPE, packet.bytes(K.NOTIFY_TYPE) ?? 'TYPING'],
          [K.MESSAGE, packet.bytes(K.MESSAGE) ?? ' '],
          [K.FLAG, packet.bytes(K.FLAG) ?? '0'],
        ]);
        return;
      }
      case S.ADDBUDDY: {
        const buddyId = packet.get(K.BUDDY) ?? '';
        const group = packet.get(K.GROUP) ?? 'Friends';
        const reply = (result: number) =>
          send(conn, S.ADDBUDDY, STATUS_ACK, [
            [K.CURRENT_ID, a.id],
            [K.BUDDY, buddyId],
            [K.GROUP, packet.bytes(K.GROUP) ?? ''],
            [K.RESULT, result],
          ]);
        const buddy = accounts.get(lower(buddyId));
        if (!buddy || buddy === a) return reply(3);
        const existing = a.contacts.get(lower(buddy.id));
        if (existing && lower(existing.group) === lower(group)) return reply(2);
        // Adding someone who asked to add you is the YMSG10 way of accepting, and needs no answer
        // back: both see each other (captures/README.md, transcript #0061-#0065).
        const accepting = a.requests.has(lower(buddy.id));
        a.contacts.set(lower(buddy.id), { id: buddy.id, group, pending: !accepting });
        reply(0);
        if (accepting) {
          answer(a, buddy.id, true, '');
          if (online(buddy)) send(conn, S.LOGON, STATUS_ACK, [[K.USERNAME, a.id], ...statusRecord(buddy)]);
          return;
        }
        const message = packet.get(K.MESSAGE) ?? '';
        buddy.requests.set(lower(a.id), message);
        if (online(buddy)) requestNotice(buddy, a.id, message);
        return;
      }
      case S.AUTH_REQ_15: {
        const requester = packet.get(K.TARGET) ?? '';
        answer(a, requester, packet.get(K.FLAG) === '1', packet.get(K.MESSAGE) ?? '');
        return;
      }
      case S.REJECTCONTACT:
        answer(a, packet.get(K.BUDDY) ?? '', false, packet.get(K.MESSAGE) ?? '');
        return;
      case S.REMBUDDY: {
        const buddyId = packet.get(K.BUDDY) ?? '';
        const removed = a.contacts.delete(lower(buddyId));
        send(conn, S.REMBUDDY, STATUS_ACK, [
          [K.CURRENT_ID, a.id],
          [K.BUDDY, buddyId],
          [K.GROUP, packet.bytes(K.GROUP) ?? ''],
          [K.RESULT, removed ? 0 : 3],
        ]);
        return;
      }
      default:
        return; // services this mock does not implement are ignored, as Escargot ignores them
    }
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    const conn: Connection = {
      socket,
      framer: createYmsgFramer(),
      account: undefined,
      claimed: undefined,
      sessionId: 0,
      challenge: undefined,
      generation: 10,
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of conn.framer.push(chunk)) {
          // binary-parser reads the header here, where speed does not matter (README, "binary-parser").
          const header = parseHeader(frame);
          const generation = protocolVersion(header.version);
          if (generation >= 9 && generation <= 16) conn.generation = generation;
          handle(conn, decodePacket(frame.slice()));
        }
        if (conn.framer.error) socket.destroy();
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      logout(conn);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: '127.0.0.1',
    port: (server.address() as { port: number }).port,
    received,
    isOnline: (id) => online(accounts.get(lower(id))),
    sessionIdOf: (id) => accounts.get(lower(id))?.connection?.sessionId,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
