import { randomInt } from 'node:crypto';
import { argValue, encodeArg, type MsnpCommand } from '../../command/command.js';
import type { MockConnection } from './connection.js';
import { BL, type MockDirectory, type MockUser } from './directory.js';
import { type NotificationServer, newCookie, type SwitchboardDesk } from './notification-server.js';

const ERR = { invalidUser: 208, notOnline: 217, authFailed: 911 } as const;

interface Ticket {
  user: MockUser;
  dialect: number;
  /** RNG tickets join an existing switchboard. */
  board?: Switchboard;
}

interface Member {
  user: MockUser;
  conn: MockConnection;
}

/** One conversation: its members and its session id. */
class Switchboard {
  readonly sessid = String(randomInt(10_000_000, 99_999_999));
  readonly members: Member[] = [];
}

/**
 * The mock switchboard server: `USR t passport cookie` for the caller (cookie from `XFR ... SB`),
 * `ANS t passport cookie sessid` for the invited (cookie from `RNG`), `CAL` rings through the
 * notification server, `JOI`/`IRO`/`BYE` keep everyone informed, `MSG` is relayed with `ACK`/`NAK`
 * per ack mode (Escargot front/msn/msnp_sb.py; MSNP wiki "MSG": A and D acknowledge, N only fails).
 */
export class SwitchboardServer implements SwitchboardDesk {
  readonly #directory: MockDirectory;
  readonly #address: () => string;
  readonly #tickets = new Map<string, Ticket>();
  readonly #members = new WeakMap<MockConnection, { board: Switchboard; member: Member }>();
  notification: NotificationServer | undefined;

  constructor(directory: MockDirectory, address: () => string) {
    this.#directory = directory;
    this.#address = address;
  }

  address(): string {
    return this.#address();
  }

  issueCaller(user: MockUser, dialect: number): string {
    const cookie = newCookie();
    this.#tickets.set(cookie, { user, dialect });
    return cookie;
  }

  handle(conn: MockConnection, cmd: MsnpCommand): void {
    conn.record.kind = 'switchboard';
    const t = cmd.trid;
    const a = cmd.args;
    const joined = this.#members.get(conn);
    if (!joined) {
      this.#enter(conn, cmd);
      return;
    }
    const { board, member } = joined;
    switch (cmd.verb) {
      case 'CAL': {
        const invitee = a[0] === undefined ? undefined : this.#directory.user(argValue(a[0]));
        if (!invitee) {
          conn.send(`${ERR.invalidUser} ${t}`);
          return;
        }
        const blocked = ((invitee.contact(member.user.email)?.bits ?? 0) & BL) !== 0;
        const cookie = newCookie();
        const dialect = this.notification?.dialectOf(invitee) ?? 0;
        this.#tickets.set(cookie, { user: invitee, dialect, board });
        if (blocked || !this.notification?.ring(invitee, board.sessid, cookie, member.user)) {
          this.#tickets.delete(cookie);
          conn.send(`${ERR.notOnline} ${t}`);
          return;
        }
        conn.send(`CAL ${t} RINGING ${board.sessid}`);
        return;
      }
      case 'MSG': {
        const others = board.members.filter((m) => m !== member);
        for (const other of others) {
          other.conn.send(
            `MSG ${member.user.email} ${encodeArg(member.user.friendly)}`,
            cmd.payload ?? new Uint8Array(0),
          );
        }
        const mode = a[0];
        if (others.length > 0 && (mode === 'A' || mode === 'D' || mode === 'S')) conn.send(`ACK ${t}`);
        if (others.length === 0 && (mode === 'A' || mode === 'D' || mode === 'N')) conn.send(`NAK ${t}`);
        return;
      }
      case 'OUT':
        conn.close();
        return;
      default:
        return;
    }
  }

  #enter(conn: MockConnection, cmd: MsnpCommand): void {
    const t = cmd.trid;
    const [who, cookie, sessid] = cmd.args;
    const ticket = cookie === undefined ? undefined : this.#tickets.get(cookie);
    const email = who === undefined ? '' : argValue(who).split(';')[0]!.toLowerCase();
    const valid =
      ticket !== undefined &&
      ticket.user.email.toLowerCase() === email &&
      ((cmd.verb === 'USR' && !ticket.board) || (cmd.verb === 'ANS' && ticket.board?.sessid === sessid));
    if (!valid || !ticket) {
      conn.send(`${ERR.authFailed} ${t}`);
      conn.close();
      return;
    }
    this.#tickets.delete(cookie!);
    conn.record.user = ticket.user.email;
    const member: Member = { user: ticket.user, conn };
    if (cmd.verb === 'USR') {
      const board = new Switchboard();
      board.members.push(member);
      this.#members.set(conn, { board, member });
      conn.send(`USR ${t} OK ${ticket.user.email} ${encodeArg(ticket.user.friendly)}`);
      return;
    }
    const board = ticket.board!;
    // One IRO per other participant, then ANS OK; the others see a JOI (MSNP wiki "IRO", "JOI").
    const others = board.members;
    others.forEach((m, i) => {
      conn.send(`IRO ${t} ${i + 1} ${others.length} ${m.user.email} ${encodeArg(m.user.friendly)}`);
    });
    conn.send(`ANS ${t} OK`);
    for (const m of others) m.conn.send(`JOI ${ticket.user.email} ${encodeArg(ticket.user.friendly)}`);
    board.members.push(member);
    this.#members.set(conn, { board, member });
  }

  closed(conn: MockConnection): void {
    const joined = this.#members.get(conn);
    if (!joined) return;
    this.#members.delete(conn);
    const { board, member } = joined;
    board.members.splice(board.members.indexOf(member), 1);
    for (const m of board.members) m.conn.send(`BYE ${member.user.email}`);
  }
}
