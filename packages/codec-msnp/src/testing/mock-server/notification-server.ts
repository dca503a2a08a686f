import { randomBytes, randomInt } from 'node:crypto';
import { argValue, encodeArg, type MsnpCommand } from '../../command/command.js';
import { CHALLENGE_PRODUCTS, challengeResponse, md5Hex } from '../challenge.js';
import type { MockConnection } from './connection.js';
import { AL, BL, FL, type MockDirectory, type MockUser, RL } from './directory.js';

/** Escargot's MSNP10+ list timestamps (msnp_ns.py `TIMESTAMP`). */
const TIMESTAMP = '2000-01-01T00:00:00.0-00:00';
/** The MSN object Escargot writes for a user without one (misc.py `encode_msnobj('<msnobj/>')`). */
const EMPTY_MSNOBJ = '%3Cmsnobj%2F%3E';
const STATUSES = new Set(['NLN', 'BSY', 'IDL', 'BRB', 'AWY', 'PHN', 'LUN', 'HDN']);
/** Error codes (Escargot front/msn/misc.py `Err`; MSNP wiki error list). */
const ERR = {
  invalidParameter: 201,
  invalidPrincipal: 205,
  invalidUser: 208,
  alreadyOnList: 215,
  notOnList: 216,
  groupInvalid: 224,
  challengeFailed: 540,
  commandDisabled: 502,
  authFailed: 911,
} as const;

export interface NotificationServerOptions {
  /** Protocol versions offered, highest preferred. */
  versions: readonly number[];
  /** Send `CHL 0 challenge` right after login and check the `QRY` answer. */
  challenge: boolean;
  /** Answer `USR t TWN I` with `XFR t NS host:port 0 ...` (the login continues elsewhere). */
  redirect?: { host: string; port: number };
  /** This server's own address, written into `XFR ... NS` as the "current" one. */
  self: () => { host: string; port: number };
}

/** Cookies the notification server hands out for switchboards (`XFR ... SB`, `RNG`). */
export interface SwitchboardDesk {
  address(): string;
  /** A cookie for a new switchboard (caller). */
  issueCaller(user: MockUser, dialect: number): string;
}

interface NsState {
  dialect: number;
  user?: MockUser;
  /** `USR t MD5 I` named this user and got this salt. */
  md5?: { user: MockUser; salt: string };
  /** Passport named in `USR t TWN I`. */
  twn?: string;
  ilnSent: boolean;
  challenge?: string;
}

/**
 * The mock notification server: version negotiation (MSNP2-12), CVR, MD5 login up to MSNP7 and
 * TWN from MSNP8 with tickets it issued itself, the list download in each generation's shape,
 * list edits with reverse-list notices, presence and personal-message fan-out, challenges,
 * switchboard referrals, and sign-out. Shapes follow Escargot front/msn/msnp_ns.py and misc.py.
 */
export class NotificationServer {
  readonly #directory: MockDirectory;
  readonly #options: NotificationServerOptions;
  readonly #desk: SwitchboardDesk;
  readonly #states = new WeakMap<MockConnection, NsState>();
  /** The signed-in connection of each user. */
  readonly online = new Map<MockUser, MockConnection>();

  constructor(directory: MockDirectory, desk: SwitchboardDesk, options: NotificationServerOptions) {
    this.#directory = directory;
    this.#desk = desk;
    this.#options = options;
  }

  dialectOf(user: MockUser): number {
    const conn = this.online.get(user);
    return conn ? (this.#states.get(conn)?.dialect ?? 0) : 0;
  }

  handle(conn: MockConnection, cmd: MsnpCommand): void {
    let state = this.#states.get(conn);
    if (!state) {
      state = { dialect: 0, ilnSent: false };
      this.#states.set(conn, state);
      conn.record.kind = 'notification';
    }
    const t = cmd.trid;
    const a = cmd.args;
    if (!state.user) {
      this.#login(conn, state, cmd);
      return;
    }
    const user = state.user;
    switch (cmd.verb) {
      case 'SYN':
        this.#syn(conn, state, user, t, a);
        return;
      case 'CHG':
        this.#chg(conn, state, user, t, a);
        return;
      case 'UUX': {
        const xml = new TextDecoder().decode(cmd.payload ?? new Uint8Array(0));
        const m = /<PSM>([\s\S]*?)<\/PSM>/.exec(xml);
        user.psm = m ? m[1]! : '';
        conn.send(`UUX ${t} 0`);
        for (const watcher of this.#watchers(user)) this.#ubx(watcher, user);
        return;
      }
      case 'PNG':
        conn.send(state.dialect >= 9 ? 'QNG 60' : 'QNG');
        return;
      case 'ADD':
      case 'ADC':
        this.#add(conn, state, user, cmd);
        return;
      case 'REM':
        this.#rem(conn, state, user, cmd);
        return;
      case 'ADG': {
        const group = user.groupNamed(argValue(a[0] ?? 'New Group'));
        if (state.dialect >= 10) conn.send(`ADG ${t} ${encodeArg(group.name)} ${group.guid}`);
        else conn.send(`ADG ${t} ${++user.listVersion} ${encodeArg(group.name)} ${group.id} 0`);
        return;
      }
      case 'GTC':
      case 'BLP': {
        if (cmd.verb === 'GTC') user.gtc = a[0] ?? 'A';
        else user.blp = a[0] ?? 'AL';
        conn.send(
          state.dialect >= 10 ? `${cmd.verb} ${t} ${a[0]}` : `${cmd.verb} ${t} ${++user.listVersion} ${a[0]}`,
        );
        return;
      }
      case 'PRP':
        if (a[0] === 'MFN' && a[1] !== undefined) user.friendly = argValue(a[1]);
        conn.send(`PRP ${t} ${a.join(' ')}`);
        return;
      case 'REA':
        if (a[1] !== undefined && a[0]?.toLowerCase() === user.email.toLowerCase())
          user.friendly = argValue(a[1]);
        conn.send(`REA ${t} ${++user.listVersion} ${a.join(' ')}`);
        return;
      case 'XFR':
        if (a[0] !== 'SB') {
          conn.send(`${ERR.invalidParameter} ${t}`);
          return;
        }
        conn.send(`XFR ${t} SB ${this.#desk.address()} CKI ${this.#desk.issueCaller(user, state.dialect)}`);
        return;
      case 'QRY':
        this.#qry(conn, state, t, a, cmd.payload);
        return;
      case 'OUT':
        // Escargot closes the socket before its OUT reaches the client (captures/README.md).
        conn.close();
        return;
      default:
        // Escargot ignores what it does not implement (msnp.py logs the failed dispatch).
        return;
    }
  }

  // ------------------------------------------------------------------ login

  #login(conn: MockConnection, state: NsState, cmd: MsnpCommand): void {
    const t = cmd.trid;
    const a = cmd.args;
    switch (cmd.verb) {
      case 'VER': {
        const offered = new Set(
          a
            .map((v) => /^MSNP(\d+)$/.exec(v)?.[1])
            .filter(Boolean)
            .map(Number),
        );
        const chosen = this.#options.versions.find((v) => offered.has(v));
        if (chosen === undefined) {
          conn.send(`VER ${t} 0`);
          conn.close();
          return;
        }
        state.dialect = chosen;
        conn.send(`VER ${t} MSNP${chosen}`);
        return;
      }
      case 'CVR': {
        const version = a[5] ?? '1.0.0000';
        conn.send(`CVR ${t} ${version} ${version} ${version} http://127.0.0.1/download http://127.0.0.1/`);
        return;
      }
      case 'INF':
        conn.send(state.dialect < 8 ? `INF ${t} MD5` : `${ERR.commandDisabled} ${t}`);
        return;
      case 'USR':
        this.#usr(conn, state, t, a);
        return;
      default:
        conn.send(`${ERR.authFailed} ${t}`);
        return;
    }
  }

  #usr(conn: MockConnection, state: NsState, t: number | undefined, a: readonly string[]): void {
    const [method, stage, value] = a;
    if (method === 'MD5' && state.dialect < 8) {
      if (stage === 'I' && value !== undefined) {
        const user = this.#directory.user(value);
        if (!user) {
          conn.send(`${ERR.authFailed} ${t}`);
          return;
        }
        // Escargot's salt (msnp2/7 transcripts) is fixed; ours changes per login.
        state.md5 = { user, salt: randomBytes(8).toString('hex').slice(0, 15) };
        conn.send(`USR ${t} MD5 S ${state.md5.salt}`);
        return;
      }
      if (stage === 'S' && state.md5 && value === md5Hex(state.md5.salt + state.md5.user.password)) {
        this.#loggedIn(conn, state, state.md5.user, t);
        return;
      }
    } else if (method === 'TWN' && state.dialect >= 8) {
      if (stage === 'I' && value !== undefined) {
        if (this.#options.redirect) {
          const self = this.#options.self();
          conn.send(
            `XFR ${t} NS ${this.#options.redirect.host}:${this.#options.redirect.port} 0 ${self.host}:${self.port}`,
          );
          conn.close();
          return;
        }
        state.twn = value;
        conn.send(`USR ${t} TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1`);
        return;
      }
      if (stage === 'S' && value !== undefined && state.twn !== undefined) {
        const user = this.#directory.redeemTicket(value);
        if (user && user.email.toLowerCase() === state.twn.toLowerCase()) {
          this.#loggedIn(conn, state, user, t);
          return;
        }
      }
    }
    conn.send(`${ERR.authFailed} ${t}`);
  }

  #loggedIn(conn: MockConnection, state: NsState, user: MockUser, t: number | undefined): void {
    // One login per user: the older connection is told it signed in elsewhere (Escargot `on_login_elsewhere`).
    const older = this.online.get(user);
    if (older && older !== conn) {
      older.send('OUT OTH');
      older.close();
    }
    state.user = user;
    conn.record.user = user.email;
    this.online.set(user, conn);
    user.status = 'FLN';
    const name = encodeArg(user.friendly);
    if (state.dialect < 8) conn.send(`USR ${t} OK ${user.email} ${name}`);
    else if (state.dialect < 10) conn.send(`USR ${t} OK ${user.email} ${name} 1 0`);
    else conn.send(`USR ${t} OK ${user.email} 1 0`);
    if (this.#options.challenge) {
      state.challenge =
        String(randomInt(10_000_000_000, 99_999_999_999)) + String(randomInt(100_000_000, 999_999_999));
      conn.send(`CHL 0 ${state.challenge}`);
    }
  }

  #qry(
    conn: MockConnection,
    state: NsState,
    t: number | undefined,
    a: readonly string[],
    payload?: Uint8Array,
  ): void {
    const productId = a[0] ?? '';
    const product = CHALLENGE_PRODUCTS[productId];
    const answer = new TextDecoder().decode(payload ?? new Uint8Array(0));
    const schemeFits = product !== undefined && (product.scheme === 'md5') === state.dialect < 11;
    if (
      state.challenge !== undefined &&
      schemeFits &&
      answer === challengeResponse(state.challenge, productId)
    ) {
      state.challenge = undefined;
      conn.send(`QRY ${t}`);
      return;
    }
    conn.send(`${ERR.challengeFailed} ${t}`);
    conn.close();
  }

  // ------------------------------------------------------------------ lists

  #syn(
    conn: MockConnection,
    state: NsState,
    user: MockUser,
    t: number | undefined,
    a: readonly string[],
  ): void {
    const d = state.dialect;
    const list = this.#directory.listOf(user);
    const groups = [...user.groups.values()];
    if (d < 8) {
      conn.send(`SYN ${t} ${user.listVersion}`);
      const ser = user.listVersion;
      if (d >= 6) {
        conn.send(`LSG ${t} ${ser} 1 ${groups.length + 1} 0 Other%20Contacts 0`);
        groups.forEach((g, i) => {
          conn.send(`LSG ${t} ${ser} ${i + 2} ${groups.length + 1} ${g.id} ${encodeArg(g.name)} 0`);
        });
      }
      for (const [name, bit] of [
        ['FL', FL],
        ['AL', AL],
        ['BL', BL],
        ['RL', RL],
      ] as const) {
        const on = list.filter((c) => c.bits & bit);
        if (on.length === 0) conn.send(`LST ${t} ${name} ${ser} 0 0`);
        on.forEach((c, i) => {
          const head = `LST ${t} ${name} ${ser} ${i + 1} ${on.length} ${c.user.email} ${encodeArg(c.user.friendly)}`;
          conn.send(d >= 6 && name === 'FL' ? `${head} ${[...c.groups].join(',') || '0'}` : head);
        });
      }
      conn.send(`GTC ${t} ${ser} ${user.gtc}`);
      conn.send(`BLP ${t} ${ser} ${user.blp}`);
      return;
    }
    if (d < 10) {
      // A client whose cached list is current gets only the version back (MSNP wiki "SYN").
      if (a[0] === String(user.listVersion)) {
        conn.send(`SYN ${t} ${user.listVersion}`);
        return;
      }
      conn.send(`SYN ${t} ${user.listVersion} ${list.length} ${groups.length + 1}`);
      conn.send(`GTC ${user.gtc}`);
      conn.send(`BLP ${user.blp}`);
      conn.send('LSG 0 Other%20Contacts 0');
      for (const g of groups) conn.send(`LSG ${g.id} ${encodeArg(g.name)} 0`);
      for (const c of list)
        conn.send(
          `LST ${c.user.email} ${encodeArg(c.user.friendly)} ${c.bits} ${[...c.groups].join(',') || '0'}`,
        );
      return;
    }
    conn.send(`SYN ${t} ${TIMESTAMP} ${TIMESTAMP} ${list.length} ${groups.length}`);
    conn.send(`GTC ${user.gtc}`);
    conn.send(`BLP ${user.blp}`);
    conn.send(`PRP MFN ${encodeArg(user.friendly)}`);
    for (const g of groups) conn.send(`LSG ${encodeArg(g.name)} ${g.guid}`);
    for (const c of list) {
      const ids = [...c.groups]
        .map((id) => user.groups.get(id)?.guid)
        .filter(Boolean)
        .join(',');
      // Escargot writes the groups argument even when empty (a trailing space) and MSNP12's network id.
      const network = d >= 12 ? ' 1' : '';
      conn.send(
        `LST N=${c.user.email} F=${encodeArg(c.user.friendly)} C=${c.user.guid} ${c.bits}${network} ${ids}`,
      );
    }
  }

  /** `ADD t LIST passport friendly [group]` (MSNP2-9) / `ADC t LIST N=passport [F=friendly] [group]` or `ADC t FL C=guid group` (MSNP10+). */
  #add(conn: MockConnection, state: NsState, user: MockUser, cmd: MsnpCommand): void {
    const t = cmd.trid;
    const a = cmd.args;
    const list = a[0];
    const bit = list === 'FL' ? FL : list === 'AL' ? AL : list === 'BL' ? BL : 0;
    if (!bit) {
      conn.send(`${ERR.invalidParameter} ${t}`);
      return;
    }
    let email: string | undefined;
    let friendly: string | undefined;
    let group: string | undefined;
    if (cmd.verb === 'ADD') {
      email = a[1];
      friendly = a[2];
      group = a[3];
    } else {
      for (const arg of a.slice(1)) {
        if (arg.startsWith('N=')) email = arg.slice(2);
        else if (arg.startsWith('F=')) friendly = arg.slice(2);
        else if (arg.startsWith('C='))
          email = [...this.#directory.users.values()].find((u) => u.guid === arg.slice(2))?.email;
        else group = arg;
      }
    }
    const target = email === undefined ? undefined : this.#directory.user(argValue(email));
    if (!target) {
      conn.send(`${cmd.verb === 'ADC' ? ERR.invalidPrincipal : ERR.invalidUser} ${t}`);
      return;
    }
    const key = target.email.toLowerCase();
    const contact = user.contacts.get(key) ?? { email: target.email, bits: 0, groups: new Set<number>() };
    const groupEntry = group === undefined ? undefined : user.groupById(group);
    if (group !== undefined && group !== '0' && !groupEntry) {
      conn.send(`${ERR.groupInvalid} ${t}`);
      return;
    }
    const addingToGroup = cmd.verb === 'ADC' && a.some((x) => x.startsWith('C=')) && groupEntry !== undefined;
    if (contact.bits & bit && !addingToGroup) {
      conn.send(`${ERR.alreadyOnList} ${t}`);
      return;
    }
    contact.bits |= bit;
    if (groupEntry) contact.groups.add(groupEntry.id);
    user.contacts.set(key, contact);
    user.listVersion++;
    if (state.dialect < 10) {
      conn.send(
        `ADD ${t} ${list} ${user.listVersion} ${target.email} ${friendly ?? target.email}${group === undefined ? '' : ` ${group}`}`,
      );
    } else if (addingToGroup) {
      conn.send(`ADC ${t} FL C=${target.guid} ${group}`);
    } else if (list === 'FL') {
      conn.send(
        `ADC ${t} FL N=${target.email}${friendly === undefined ? '' : ` F=${friendly}`} C=${target.guid}`,
      );
    } else {
      conn.send(`ADC ${t} ${list} N=${target.email}`);
    }
    if (bit === FL && !addingToGroup) {
      // The added user hears of it on its reverse list; Escargot writes no serial there (captures/README.md).
      const other = this.online.get(target);
      if (other) {
        const name = encodeArg(user.friendly);
        other.send(
          this.dialectOf(target) >= 10
            ? `ADC 0 RL N=${user.email} F=${name}`
            : `ADD 0 RL ${user.email} ${name}`,
        );
      }
      if (this.#canSee(user, target)) this.#presenceTo(user, target, undefined);
    }
    if (
      bit === BL &&
      this.online.has(target) &&
      this.#directory.hasOnForwardList(target, user) &&
      user.visible
    ) {
      this.online.get(target)!.send(`FLN ${user.email}`);
    }
  }

  #rem(conn: MockConnection, state: NsState, user: MockUser, cmd: MsnpCommand): void {
    const t = cmd.trid;
    const [list, who, group] = cmd.args;
    const bit = list === 'FL' ? FL : list === 'AL' ? AL : list === 'BL' ? BL : 0;
    const target =
      who === undefined
        ? undefined
        : (this.#directory.user(argValue(who)) ??
          [...this.#directory.users.values()].find((u) => u.guid === who));
    const contact = target ? user.contact(target.email) : undefined;
    if (!bit || !target || !contact || !(contact.bits & bit)) {
      conn.send(`${ERR.notOnList} ${t}`);
      return;
    }
    if (group !== undefined) {
      const g = user.groupById(group);
      if (!g) {
        conn.send(`${ERR.groupInvalid} ${t}`);
        return;
      }
      contact.groups.delete(g.id);
    } else {
      contact.bits &= ~bit;
    }
    user.listVersion++;
    const rest = `${who}${group === undefined ? '' : ` ${group}`}`;
    conn.send(
      state.dialect < 10 ? `REM ${t} ${list} ${user.listVersion} ${rest}` : `REM ${t} ${list} ${rest}`,
    );
    if (
      bit === BL &&
      group === undefined &&
      this.#directory.hasOnForwardList(target, user) &&
      this.#canSee(target, user)
    ) {
      this.#presenceTo(target, user, undefined);
    }
  }

  // ------------------------------------------------------------------ presence

  #chg(
    conn: MockConnection,
    state: NsState,
    user: MockUser,
    t: number | undefined,
    a: readonly string[],
  ): void {
    const status = a[0] ?? '';
    if (!STATUSES.has(status)) {
      conn.send(`${ERR.invalidParameter} ${t}`);
      return;
    }
    const wasVisible = user.visible;
    user.status = status;
    user.capabilities = a[1] ?? '0';
    user.msnobj = a[2];
    // Escargot echoes the capabilities, `0` when the client sent none (MSNP2-7: the "extra 0").
    conn.send(`CHG ${t} ${status} ${user.capabilities}${user.msnobj === undefined ? '' : ` ${user.msnobj}`}`);
    if (!state.ilnSent) {
      state.ilnSent = true;
      for (const c of user.contacts.values()) {
        const other = this.#directory.user(c.email);
        if (other && c.bits & FL && this.#canSee(user, other)) this.#presenceTo(user, other, t);
      }
    }
    for (const watcher of this.#watchers(user)) {
      if (user.visible) this.#presenceTo(watcher, user, undefined);
      else if (wasVisible) this.online.get(watcher)?.send(`FLN ${user.email}`);
    }
  }

  /** Online users who have `user` on FL and are not blocked by it. */
  #watchers(user: MockUser): MockUser[] {
    const out: MockUser[] = [];
    for (const other of this.online.keys()) {
      if (other === user || !this.#directory.hasOnForwardList(other, user)) continue;
      if ((user.contact(other.email)?.bits ?? 0) & BL) continue;
      out.push(other);
    }
    return out;
  }

  /** Whether `viewer` may see `subject` online. */
  #canSee(viewer: MockUser, subject: MockUser): boolean {
    return subject.visible && this.online.has(viewer) && !((subject.contact(viewer.email)?.bits ?? 0) & BL);
  }

  /** `ILN t` (the initial list, with a trid) or `NLN` lines, then `UBX` for MSNP11+ (Escargot misc.py `build_presence_notif`). */
  #presenceTo(viewer: MockUser, subject: MockUser, trid: number | undefined): void {
    const conn = this.online.get(viewer);
    if (!conn) return;
    const d = this.dialectOf(viewer);
    let line = `${trid === undefined ? 'NLN' : `ILN ${trid}`} ${subject.status} ${subject.email} ${encodeArg(subject.friendly)}`;
    if (d >= 8) line += ` ${subject.capabilities}`;
    if (d >= 9) line += ` ${subject.msnobj ?? EMPTY_MSNOBJ}`;
    conn.send(line);
    this.#ubx(viewer, subject);
  }

  #ubx(viewer: MockUser, subject: MockUser): void {
    if (this.dialectOf(viewer) < 11) return;
    this.online
      .get(viewer)
      ?.send(`UBX ${subject.email}`, `<Data><PSM>${subject.psm}</PSM><CurrentMedia></CurrentMedia></Data>`);
  }

  /** The invitation to a switchboard (`RNG sessid address CKI cookie caller friendly`). */
  ring(invitee: MockUser, sessid: string, cookie: string, caller: MockUser): boolean {
    const conn = this.online.get(invitee);
    if (!conn || !invitee.visible) return false;
    conn.send(
      `RNG ${sessid} ${this.#desk.address()} CKI ${cookie} ${caller.email} ${encodeArg(caller.friendly)}`,
    );
    return true;
  }

  closed(conn: MockConnection): void {
    const state = this.#states.get(conn);
    const user = state?.user;
    if (!user || this.online.get(user) !== conn) return;
    this.online.delete(user);
    const wasVisible = user.visible;
    user.status = 'FLN';
    if (wasVisible)
      for (const watcher of this.#watchers(user)) this.online.get(watcher)?.send(`FLN ${user.email}`);
  }
}

/** A random switchboard cookie, the shape Escargot's tokens have (20 hex digits). */
export function newCookie(): string {
  return randomBytes(10).toString('hex');
}
