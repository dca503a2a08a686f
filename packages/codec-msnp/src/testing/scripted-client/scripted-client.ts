import { argValue, encodeArg, type MsnpCommand, type MsnpFrame } from '../../command/command.js';
import { type ContactEntry, ContactListSync, type GroupEntry } from '../../contacts/contact-list-sync.js';
import { LIST_BITS } from '../../contacts/lists.js';
import { formatMime, mimeHeader, mimeType, parseMime } from '../../mime/mime-message.js';
import { personalMessageText, personalMessageXml } from '../../presence/personal-message.js';
import { challengeResponse, defaultChallengeProduct, md5Hex } from '../challenge.js';
import { ClientConnection, type DialFunction, type Reply } from './client-connection.js';

/** Options of `ScriptedMsnpClient`. */
export interface ScriptedMsnpClientOptions {
  host: string;
  port: number;
  email: string;
  password: string;
  /** The protocol version to speak: 2-7 log in with MD5, 8-12 with TWN. */
  dialect: number;
  /** Where TWN tickets come from: the mock's `issueTicket`. Required for MSNP8+. */
  passport?: (email: string, password: string) => string | undefined | Promise<string | undefined>;
  /**
   * Opens every connection the client makes: the login (and any `XFR ... NS` it is sent on to) and
   * each switchboard `XFR ... SB` or `RNG` names. A client configured with a SOCKS proxy opens them
   * all through the proxy (`(host, port) => socksConnect(proxy, host, port)`); tests may map the
   * addresses to a relay. Default: `directDial`, a plain TCP connection to the address as named.
   */
  dial?: DialFunction;
  /** Sees every frame the server sends on any of the client's connections (for observers). */
  onFrame?: (frame: MsnpFrame, connection: ClientConnection) => void;
  /** Which frames each connection keeps for later waits (`ConnectionOptions.retain`). Default all. */
  retain?: (frame: MsnpFrame) => boolean;
  /** Keep the bytes written and received on each connection. Default true. */
  record?: boolean;
  /** Client capabilities for `CHG` (MSNP8+). Default `0`. */
  capabilities?: string;
  /** How long to wait for any expected reply. Default 5000 ms. */
  timeout?: number;
}

/** The server refused the scripted client's login (`code`: its error number or reason). */
export class LoginError extends Error {
  constructor(readonly code: number | string) {
    super(`MSNP login refused (${code})`);
    this.name = 'LoginError';
  }
}

/** A contact as the scripted client's list holds it. */
export interface ScriptedContact {
  email: string;
  friendly: string;
  /** FL|AL|BL|RL bits. */
  lists: number;
  groups: string[];
}

/** An invitation to a switchboard (`RNG`): where to go and with which cookie. */
export interface Ring {
  sessid: string;
  host: string;
  port: number;
  cookie: string;
  caller: string;
  friendly: string;
}

/** An IM the scripted client received on a switchboard. */
export interface ReceivedMessage {
  from: string;
  friendly: string;
  contentType: string;
  text: string;
  headers: readonly (readonly [string, string])[];
}

const decoder = new TextDecoder();

function hostPort(spelled: string | undefined): { host: string; port: number } {
  const i = spelled?.lastIndexOf(':') ?? -1;
  if (!spelled || i <= 0) throw new Error(`not a host:port: ${spelled}`);
  return { host: spelled.slice(0, i), port: Number(spelled.slice(i + 1)) };
}

function replyError(reply: Reply, what: string): Error {
  return new Error(
    reply.type === 'error' ? `${what} failed with error ${reply.code}` : `${what}: unexpected ${reply.verb}`,
  );
}

/**
 * A scripted MSN client for tests: logs in on a chosen protocol version (MD5 up to MSNP7, TWN from
 * MSNP8, following `XFR ... NS`), downloads the list, sets its presence and personal message, edits
 * its lists, opens and answers conversations, sends and receives messages and typing, and answers
 * challenges. It speaks the lines the Escargot transcripts show a client speaking.
 */
export class ScriptedMsnpClient {
  readonly options: ScriptedMsnpClientOptions;
  #ns: ClientConnection | undefined;
  #trid = 0;
  #dialect = 0;
  friendly = '';
  readonly contacts = new Map<string, ScriptedContact>();
  groups: GroupEntry[] = [];
  readonly conversations: ScriptedConversation[] = [];
  /** Every connection the client opened, in order (with the bytes written and received on each). */
  readonly opened: ClientConnection[] = [];

  constructor(options: ScriptedMsnpClientOptions) {
    this.options = options;
  }

  get email(): string {
    return this.options.email;
  }

  /** The version the server agreed to. */
  get dialect(): number {
    return this.#dialect;
  }

  /** The notification-server connection (its frames, and the bytes written and received). */
  get notification(): ClientConnection {
    if (!this.#ns) throw new Error('not connected');
    return this.#ns;
  }

  /** Opens a connection to an address, through `dial`. */
  async connect(target: { host: string; port: number }): Promise<ClientConnection> {
    const { dial, onFrame, retain, record } = this.options;
    const connection = await ClientConnection.open(target.host, target.port, this.options.timeout ?? 5000, {
      ...(dial ? { dial } : {}),
      ...(onFrame ? { observe: onFrame } : {}),
      ...(retain ? { retain } : {}),
      ...(record === undefined ? {} : { record }),
    });
    this.opened.push(connection);
    return connection;
  }

  #next(): number {
    return ++this.#trid;
  }

  /** Sends `VER ... CVR ... USR ...` until `USR t OK`; returns the friendly name the server has. */
  async login(): Promise<string> {
    let target = { host: this.options.host, port: this.options.port };
    for (let hops = 0; hops < 3; hops++) {
      const redirect = await this.#loginAt(target);
      if (!redirect) return this.friendly;
      target = redirect;
    }
    throw new Error('too many XFR NS redirects');
  }

  async #loginAt(target: {
    host: string;
    port: number;
  }): Promise<{ host: string; port: number } | undefined> {
    const ns = await this.connect(target);
    this.#ns = ns;
    ns.onFrame = (frame) => this.#unsolicited(frame);
    const d = this.options.dialect;
    const ver = this.#next();
    ns.send(`VER ${ver} MSNP${d} CVR0`);
    const verReply = await ns.reply(ver, 'VER');
    if (verReply.type !== 'command' || verReply.args[0] !== `MSNP${d}`) throw new LoginError('VER');
    this.#dialect = d;
    if (d >= 8) {
      const cvr = this.#next();
      ns.send(`CVR ${cvr} 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 MSMSGS ${this.email}`);
      await ns.reply(cvr, 'CVR');
      return this.#twn(ns);
    }
    const inf = this.#next();
    ns.send(`INF ${inf}`);
    await ns.reply(inf, 'INF');
    await this.#md5(ns);
    return undefined;
  }

  async #twn(ns: ClientConnection): Promise<{ host: string; port: number } | undefined> {
    const i = this.#next();
    ns.send(`USR ${i} TWN I ${this.email}`);
    const first = await ns.reply(i, 'USR TWN I');
    if (first.type === 'command' && first.verb === 'XFR' && first.args[0] === 'NS') {
      await ns.close();
      return hostPort(first.args[1]);
    }
    if (first.type !== 'command' || first.verb !== 'USR')
      throw new LoginError(first.type === 'error' ? first.code : first.verb);
    const ticket = await this.options.passport?.(this.email, this.options.password);
    if (ticket === undefined) throw new LoginError('no Passport ticket');
    const s = this.#next();
    ns.send(`USR ${s} TWN S ${ticket}`);
    this.#loggedIn(await ns.reply(s, 'USR TWN S'));
    return undefined;
  }

  async #md5(ns: ClientConnection): Promise<void> {
    const i = this.#next();
    ns.send(`USR ${i} MD5 I ${this.email}`);
    const salt = await ns.reply(i, 'USR MD5 I');
    if (salt.type !== 'command' || salt.args[1] !== 'S')
      throw new LoginError(salt.type === 'error' ? salt.code : salt.verb);
    const s = this.#next();
    ns.send(`USR ${s} MD5 S ${md5Hex(salt.args[2]! + this.options.password)}`);
    this.#loggedIn(await ns.reply(s, 'USR MD5 S'));
  }

  #loggedIn(reply: Reply): void {
    if (reply.type !== 'command' || reply.args[0] !== 'OK')
      throw new LoginError(reply.type === 'error' ? reply.code : reply.verb);
    // `USR t OK passport friendly [1 0]` up to MSNP9; MSNP10+ give the name in `PRP MFN`.
    const name = reply.args[2];
    if (name !== undefined && this.#dialect < 10) this.friendly = argValue(name);
  }

  /** Answers the server's challenges (`CHL 0 challenge` -> `QRY`) as they arrive. */
  #unsolicited(frame: MsnpFrame): void {
    if (frame.type === 'command' && frame.verb === 'CHL' && frame.args[0] !== undefined) {
      const product = defaultChallengeProduct(this.#dialect);
      this.#ns?.send(`QRY ${this.#next()} ${product}`, challengeResponse(frame.args[0], product) ?? '');
    }
  }

  /** `SYN`: downloads the lists and groups (MSNP8/9 list version 0; MSNP10+ `SYN t 0 0`). */
  async sync(): Promise<ScriptedContact[]> {
    const ns = this.notification;
    const t = this.#next();
    ns.send(this.#dialect >= 10 ? `SYN ${t} 0 0` : `SYN ${t} 0`);
    const syn = await ns.reply(t, 'SYN');
    if (syn.type !== 'command') throw replyError(syn, 'SYN');
    const list = new ContactListSync(this.#dialect);
    list.start(syn);
    let at = ns.frames.indexOf(syn) + 1;
    while (!list.complete) {
      while (at < ns.frames.length && !list.complete) {
        const frame = ns.frames[at++]!;
        if (frame.type === 'command') {
          if (frame.verb === 'PRP' && frame.args[0] === 'MFN' && frame.args[1] !== undefined)
            this.friendly = argValue(frame.args[1]);
          list.accept(frame);
        }
      }
      if (!list.complete) await ns.whenMore(at, 'the rest of the list');
    }
    const names = new Map(list.groups.map((g) => [g.id, g.name]));
    this.groups = [...list.groups];
    this.contacts.clear();
    for (const c of list.contacts.values()) this.contacts.set(c.passport.toLowerCase(), toContact(c, names));
    return [...this.contacts.values()];
  }

  /** `CHG t status capabilities`; resolves on the echo. */
  async setStatus(status = 'NLN'): Promise<void> {
    const t = this.#next();
    this.notification.send(
      this.#dialect >= 8 ? `CHG ${t} ${status} ${this.options.capabilities ?? '0'}` : `CHG ${t} ${status}`,
    );
    const reply = await this.notification.reply(t, 'CHG');
    if (reply.type !== 'command') throw replyError(reply, 'CHG');
  }

  /** `UUX t len` with the personal message (MSNP11+). */
  async setPersonalMessage(text: string): Promise<void> {
    const t = this.#next();
    this.notification.send(`UUX ${t}`, personalMessageXml(text));
    const reply = await this.notification.reply(t, 'UUX');
    if (reply.type !== 'command') throw replyError(reply, 'UUX');
  }

  /** Adds a contact to a list: `ADD t LIST passport friendly [0]` (MSNP2-9) or `ADC t LIST N= [F=]` (MSNP10+). */
  async addContact(email: string, list: 'FL' | 'AL' | 'BL' = 'FL', friendly = email): Promise<Reply> {
    const t = this.#next();
    if (this.#dialect >= 10) {
      this.notification.send(
        list === 'FL' ? `ADC ${t} FL N=${email} F=${encodeArg(friendly)}` : `ADC ${t} ${list} N=${email}`,
      );
    } else {
      this.notification.send(
        `ADD ${t} ${list} ${email} ${encodeArg(friendly)}${list === 'FL' && this.#dialect >= 7 ? ' 0' : ''}`,
      );
    }
    const reply = await this.notification.reply(t, `${list} add`);
    if (reply.type === 'command') {
      const key = email.toLowerCase();
      const known = this.contacts.get(key) ?? { email, friendly, lists: 0, groups: [] };
      this.contacts.set(key, { ...known, lists: known.lists | LIST_BITS[list] });
    }
    return reply;
  }

  /** `REM t LIST passport` (FL by contact GUID from MSNP10, as clients do when they know it). */
  async removeContact(email: string, list: 'FL' | 'AL' | 'BL' = 'FL', guid?: string): Promise<Reply> {
    const t = this.#next();
    this.notification.send(`REM ${t} ${list} ${this.#dialect >= 10 && list === 'FL' && guid ? guid : email}`);
    const reply = await this.notification.reply(t, `${list} remove`);
    const known = this.contacts.get(email.toLowerCase());
    if (reply.type === 'command' && known) known.lists &= ~LIST_BITS[list];
    return reply;
  }

  /** The next presence line about `email` (`ILN`, `NLN` or `FLN`) the server sent. */
  async presenceOf(email: string, status?: string): Promise<MsnpCommand> {
    const lower = email.toLowerCase();
    return (await this.notification.take((f) => {
      if (f.type !== 'command') return false;
      const who = f.verb === 'FLN' ? f.args[0] : f.verb === 'ILN' || f.verb === 'NLN' ? f.args[1] : undefined;
      const code = f.verb === 'FLN' ? 'FLN' : f.args[0];
      return who?.toLowerCase() === lower && (status === undefined || code === status);
    }, `presence of ${email}`)) as MsnpCommand;
  }

  /** The next personal message (`UBX`) about `email`. */
  async personalMessageOf(email: string): Promise<string | undefined> {
    const ubx = await this.notification.command(
      'UBX',
      (f) => f.args[0]?.toLowerCase() === email.toLowerCase(),
    );
    return personalMessageText(decoder.decode(ubx.payload ?? new Uint8Array(0)));
  }

  /** The next "added you" notice (`ADD 0 RL` / `ADC 0 RL`). */
  async addedBy(): Promise<{ email: string; friendly: string }> {
    const cmd = (await this.notification.take(
      (f) =>
        f.type === 'command' && (f.verb === 'ADD' || f.verb === 'ADC') && f.trid === 0 && f.args[0] === 'RL',
      'a reverse-list notice',
    )) as MsnpCommand;
    if (cmd.verb === 'ADC') {
      const n = cmd.args.find((a) => a.startsWith('N='))!.slice(2);
      const f = cmd.args.find((a) => a.startsWith('F='))?.slice(2) ?? n;
      return { email: argValue(n), friendly: argValue(f) };
    }
    const rest = /^\d+$/.test(cmd.args[1] ?? '') ? cmd.args.slice(2) : cmd.args.slice(1);
    return { email: argValue(rest[0]!), friendly: argValue(rest[1] ?? rest[0]!) };
  }

  /** `XFR t SB`, then `USR` on the switchboard and `CAL`; resolves once `email` joined. */
  async openConversation(email: string): Promise<ScriptedConversation> {
    const t = this.#next();
    this.notification.send(`XFR ${t} SB`);
    const xfr = await this.notification.reply(t, 'XFR SB');
    if (xfr.type !== 'command' || xfr.args[0] !== 'SB') throw replyError(xfr, 'XFR SB');
    const target = hostPort(xfr.args[1]);
    const conversation = await ScriptedConversation.open(this, target);
    const usr = conversation.next();
    conversation.connection.send(`USR ${usr} ${this.email} ${xfr.args[3]}`);
    const ok = await conversation.connection.reply(usr, 'USR on the switchboard');
    if (ok.type !== 'command' || ok.args[0] !== 'OK') throw replyError(ok, 'switchboard USR');
    await conversation.invite(email);
    return conversation;
  }

  /** The next `RNG` (an invitation to a switchboard). */
  async nextRing(): Promise<Ring> {
    return ringOf(await this.notification.command('RNG'));
  }

  /** `ANS t passport cookie sessid` on the switchboard a ring names; resolves on `ANS t OK`. */
  async answer(ring: Ring): Promise<ScriptedConversation> {
    const target = { host: ring.host, port: ring.port };
    const conversation = await ScriptedConversation.open(this, target);
    const t = conversation.next();
    conversation.connection.send(`ANS ${t} ${this.email} ${ring.cookie} ${ring.sessid}`);
    for (;;) {
      const frame = await conversation.connection.reply(t, 'ANS');
      if (frame.type === 'command' && frame.verb === 'IRO')
        conversation.participants.add(argValue(frame.args[2] ?? '').toLowerCase());
      else if (frame.type === 'command' && frame.verb === 'ANS' && frame.args[0] === 'OK')
        return conversation;
      else throw replyError(frame, 'ANS');
    }
  }

  /** `OUT` and close everything. */
  async logout(): Promise<void> {
    for (const c of this.conversations.splice(0)) await c.leave();
    if (this.#ns && !this.#ns.closed) {
      this.#ns.send('OUT');
      await this.#ns.close();
    }
  }

  /** Drops every connection without `OUT` (a crash). */
  disconnect(): void {
    for (const c of this.conversations.splice(0)) c.connection.destroy();
    this.#ns?.destroy();
  }
}

/** What an `RNG sessid host:port CKI cookie passport friendly` line says. */
export function ringOf(rng: MsnpCommand): Ring {
  const { host, port } = hostPort(rng.args[1]);
  return {
    sessid: rng.args[0]!,
    host,
    port,
    cookie: rng.args[3]!,
    caller: argValue(rng.args[4] ?? ''),
    friendly: argValue(rng.args[5] ?? ''),
  };
}

function toContact(c: ContactEntry, groupNames: ReadonlyMap<string, string>): ScriptedContact {
  return {
    email: c.passport,
    friendly: c.friendly,
    lists: c.lists,
    groups: c.groupIds.map((id) => groupNames.get(id)).filter((n): n is string => n !== undefined),
  };
}

/** One switchboard connection of the scripted client. */
export class ScriptedConversation {
  readonly client: ScriptedMsnpClient;
  readonly connection: ClientConnection;
  /** The address the server named (`dial` was asked for it). */
  readonly target: { host: string; port: number };
  readonly participants = new Set<string>();
  #trid = 0;

  private constructor(
    client: ScriptedMsnpClient,
    connection: ClientConnection,
    target: { host: string; port: number },
  ) {
    this.client = client;
    this.connection = connection;
    this.target = target;
    connection.onFrame = (frame) => {
      if (frame.type !== 'command') return;
      if (frame.verb === 'JOI' && frame.args[0]) this.participants.add(argValue(frame.args[0]).toLowerCase());
      if (frame.verb === 'BYE' && frame.args[0])
        this.participants.delete(argValue(frame.args[0]).toLowerCase());
    };
  }

  static async open(client: ScriptedMsnpClient, target: { host: string; port: number }) {
    const connection = await client.connect(target);
    const conversation = new ScriptedConversation(client, connection, target);
    client.conversations.push(conversation);
    return conversation;
  }

  next(): number {
    return ++this.#trid;
  }

  /** `CAL t passport`; resolves when the user joined (`JOI`), rejects on an error reply. */
  async invite(email: string): Promise<void> {
    const t = this.next();
    this.connection.send(`CAL ${t} ${email}`);
    const reply = await this.connection.reply(t, 'CAL');
    if (reply.type !== 'command' || reply.args[0] !== 'RINGING') throw replyError(reply, `CAL ${email}`);
    await this.connection.command(
      'JOI',
      (f) => argValue(f.args[0] ?? '').toLowerCase() === email.toLowerCase(),
    );
  }

  /**
   * `MSG t mode len` with a text/plain MIME message. Resolves with the server's `ACK`/`NAK` for
   * modes A, S and D; U and N resolve at once (N is only answered on failure).
   */
  async sendMessage(
    text: string,
    options: { ack?: 'U' | 'N' | 'A' | 'S' | 'D'; format?: string } = {},
  ): Promise<'ACK' | 'NAK' | undefined> {
    const ack = options.ack ?? 'A';
    const headers: [string, string][] = [
      ['MIME-Version', '1.0'],
      ['Content-Type', 'text/plain; charset=UTF-8'],
    ];
    if (options.format !== undefined) headers.push(['X-MMS-IM-Format', options.format]);
    const t = this.next();
    this.connection.send(`MSG ${t} ${ack}`, formatMime(headers, text));
    if (ack === 'U' || ack === 'N') return undefined;
    const reply = await this.connection.reply(t, 'MSG');
    if (reply.type === 'command' && (reply.verb === 'ACK' || reply.verb === 'NAK')) return reply.verb;
    throw replyError(reply, 'MSG');
  }

  /** `MSG t U len` with a `text/x-msmsgscontrol` typing notice. */
  sendTyping(): void {
    const payload = formatMime(
      [
        ['MIME-Version', '1.0'],
        ['Content-Type', 'text/x-msmsgscontrol'],
        ['TypingUser', this.client.email],
      ],
      '\r\n',
    );
    this.connection.send(`MSG ${this.next()} U`, payload);
  }

  /** The next message from the switchboard (plain text by default; `typing: true` for typing notices). */
  async nextMessage(options: { typing?: boolean } = {}): Promise<ReceivedMessage> {
    const wanted = options.typing ? 'text/x-msmsgscontrol' : 'text/plain';
    const msg = (await this.connection.take((f) => {
      if (f.type !== 'command' || f.verb !== 'MSG' || !f.payload) return false;
      const mime = parseMime(f.payload);
      return mime !== undefined && mimeType(mime) === wanted;
    }, `a ${wanted} message`)) as MsnpCommand;
    const mime = parseMime(msg.payload!)!;
    return {
      from: argValue(msg.args[0] ?? ''),
      friendly: argValue(msg.args[1] ?? ''),
      contentType: mimeType(mime),
      text: decoder.decode(mime.body),
      headers: mime.headers,
    };
  }

  /** A header of a received message. */
  static header(message: ReceivedMessage, name: string): string | undefined {
    return mimeHeader({ headers: message.headers, body: new Uint8Array(0) }, name);
  }

  /** `OUT` and close. */
  async leave(): Promise<void> {
    if (this.connection.closed) return;
    this.connection.send('OUT');
    await this.connection.close();
  }
}
