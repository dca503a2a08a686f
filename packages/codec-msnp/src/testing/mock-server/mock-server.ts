import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { MsnpCommand } from '../../command/command.js';
import { MockConnection, type MockConnectionRecord } from './connection.js';
import { MockDirectory, type MockUser, type MockUserOptions } from './directory.js';
import { NotificationServer } from './notification-server.js';
import { isPassportRequest, servePassport } from './passport.js';
import { SwitchboardServer } from './switchboard-server.js';

/** Options of `startMockMsnpServer`. */
export interface MockMsnpServerOptions {
  users: readonly MockUserOptions[];
  /** Protocol versions the server speaks, preferred first. Default MSNP12 down to MSNP2. */
  versions?: readonly number[];
  /** Send `CHL 0 challenge` after each login and check the answer (`QRY`). Default false. */
  challenge?: boolean;
  /** Answer every TWN login with `XFR t NS host:port 0 ...`, as a dispatch server does. */
  redirect?: { host: string; port: number };
}

/** A running mock MSN server (notification and switchboard), as `startMockMsnpServer` returns it. */
export interface MockMsnpServer {
  readonly host: '127.0.0.1';
  /** Notification server port (the client's login port). */
  readonly port: number;
  /** Switchboard port, the one `XFR ... SB` and `RNG` name. */
  readonly sbPort: number;
  /**
   * The Passport stand-in: a single-use ticket for `USR t TWN S ticket`, or undefined for wrong
   * credentials. The same tickets are served over the wire on either port (`GET /login2.srf` with
   * a Passport1.4 `Authorization`, as Escargot's plain-HTTP Passport answers) for clients in
   * another process: `passportOverHttp`.
   */
  issueTicket(email: string, password: string): string | undefined;
  /** Every connection the server accepted, with the bytes it received and sent. */
  readonly connections: readonly MockConnectionRecord[];
  /** A user's state (lists, status, personal message), for assertions. */
  user(email: string): MockUser | undefined;
  close(): Promise<void>;
}

/**
 * Starts a mock MSN server on 127.0.0.1 (two ports chosen by the system): a notification server and
 * a switchboard server that behave as Escargot front/msn does, quirks aside. Either port accepts
 * either kind of connection, told apart by the first command (`VER`, or `USR`/`ANS`), so a test
 * relay with a single upstream reaches both; `XFR` and `RNG` name `sbPort`.
 */
export async function startMockMsnpServer(options: MockMsnpServerOptions): Promise<MockMsnpServer> {
  const directory = new MockDirectory(options.users);
  const records: MockConnectionRecord[] = [];
  const sockets = new Set<Socket>();
  let nsPort = 0;
  let sbPort = 0;
  const switchboards = new SwitchboardServer(directory, () => `127.0.0.1:${sbPort}`);
  const notifications = new NotificationServer(directory, switchboards, {
    versions: options.versions ?? [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2],
    challenge: options.challenge ?? false,
    ...(options.redirect ? { redirect: options.redirect } : {}),
    self: () => ({ host: '127.0.0.1', port: nsPort }),
  });
  switchboards.notification = notifications;
  const roles = new WeakMap<MockConnection, 'ns' | 'sb'>();
  let nextId = 0;

  const onCommand = (conn: MockConnection, cmd: MsnpCommand) => {
    let role = roles.get(conn);
    if (!role) {
      role = cmd.verb === 'USR' && cmd.args.length === 2 ? 'sb' : cmd.verb === 'ANS' ? 'sb' : 'ns';
      roles.set(conn, role);
    }
    if (role === 'ns') notifications.handle(conn, cmd);
    else switchboards.handle(conn, cmd);
  };
  const onClose = (conn: MockConnection) => {
    if (roles.get(conn) === 'ns') notifications.closed(conn);
    else switchboards.closed(conn);
  };
  const accept = (socket: Socket) => {
    // A server writes several lines in a row (`IRO`, `ANS t OK`; `CAL t RINGING`, later `JOI`) that
    // the client answers with nothing: with Nagle's algorithm the second waits for the client's
    // delayed ACK (40 ms on Linux), so every switchboard opened would cost that.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // The first bytes tell MSNP from the Passport stand-in (HTTP), which is not recorded.
    socket.once('data', (first: Buffer) => {
      if (isPassportRequest(first)) {
        servePassport(socket, first, directory);
        return;
      }
      const conn = new MockConnection(++nextId, socket, onCommand, onClose, first);
      records.push(conn.record);
    });
  };

  const listen = async (server: Server): Promise<number> => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as { port: number }).port;
  };
  const ns = createServer(accept);
  const sb = createServer(accept);
  nsPort = await listen(ns);
  sbPort = await listen(sb);

  return {
    host: '127.0.0.1',
    port: nsPort,
    sbPort,
    issueTicket: (email, password) => directory.issueTicket(email, password),
    connections: records,
    user: (email) => directory.user(email),
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => ns.close(r)), new Promise((r) => sb.close(r))]);
    },
  };
}
