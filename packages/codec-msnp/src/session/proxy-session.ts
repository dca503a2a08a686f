import {
  type Address,
  type CanonicalEvent,
  type Direction,
  emptyOutput,
  joinOutput,
  type ProxySession,
  type SessionContext,
  type SessionOutput,
  type SessionState,
  SessionStateError,
  StreamClosedError,
  toProtocolError,
} from '@crosstalk/core';
import type { MsnpFrame } from '../command/command.js';
import { decodeFrame } from '../command/frame-codec.js';
import { CommandFramer, type CommandFramerOptions, PROTOCOL } from '../command/framer.js';
import { MsnpTranslator, type MsnpTranslatorOptions } from '../translator/translator.js';
import { isForeignRosterMember } from './foreign-roster-keys.js';
import { NotificationRole } from './notification.js';
import type { ConnectionRole } from './role.js';
import { SwitchboardRole } from './switchboard.js';
import { VirtualSwitchboardRole } from './virtual-switchboard.js';
import { isVirtualSwitchboardData } from './virtual-switchboard-data.js';

/** Options of the MSNP proxy session. */
export interface MsnpSessionOptions extends CommandFramerOptions {
  /** Protocol version assumed until the connection names one. Default 12. */
  dialect?: number;
}

/** A connection we do not recognise (or a refused virtual one): relayed untouched, never verified. */
class RelayRole implements ConnectionRole {
  readonly kind = 'relay' as const;
  readonly user = undefined;
  readonly verified = false;
  fromClient(raw: Uint8Array, _frame: MsnpFrame, out: SessionOutput): void {
    out.toServer.push(raw);
  }
  fromServer(raw: Uint8Array, _frame: MsnpFrame, out: SessionOutput): void {
    out.toClient.push(raw);
  }
  deliver(): void {}
  affinity(): number {
    return 0;
  }
  close(): void {}
}

/**
 * One proxied MSNP connection. The kind is told by the first client command (`VER`: notification
 * server; `USR t passport cookie` or `ANS ...`: switchboard) or by `ctx.virtual` (a switchboard the
 * gateway answers). Every frame that passes is forwarded as the bytes it arrived as; only what the
 * gateway answers or injects is encoded by us.
 */
export class MsnpProxySession implements ProxySession {
  readonly protocol = PROTOCOL;
  readonly #ctx: SessionContext;
  readonly #options: MsnpSessionOptions;
  readonly #clientFramer: CommandFramer;
  /**
   * Made when the server first speaks and dropped once the session released its server
   * (`server-released`): a switchboard the gateway plays never reads from a server (issue 20).
   */
  #serverFramer: CommandFramer | undefined;
  #serverGone = false;
  readonly #translator: MsnpTranslator;
  #role: ConnectionRole | undefined;
  #closed: { reason: string } | undefined;

  constructor(ctx: SessionContext, options: MsnpSessionOptions = {}) {
    this.#ctx = ctx;
    this.#options = options;
    this.#clientFramer = new CommandFramer('client', options);
    this.#translator = new MsnpTranslator(new MsnpProxySession.#TranslatorHooks(this, options.dialect ?? 12));
    if (ctx.virtual) {
      const data = ctx.virtual.data;
      this.#role = isVirtualSwitchboardData(data)
        ? new VirtualSwitchboardRole(ctx, this.#translator, data)
        : new RelayRole();
    }
  }

  /**
   * The translator's options: one small object whose methods read the session's context, in place
   * of four closures and their context per connection (issue 20).
   */
  static readonly #TranslatorHooks = class implements MsnpTranslatorOptions {
    readonly #session: MsnpProxySession;
    readonly dialect: number;
    constructor(session: MsnpProxySession, dialect: number) {
      this.#session = session;
      this.dialect = dialect;
    }
    isForeign(a: Address): boolean {
      return this.#session.#ctx.isForeign(a);
    }
    knownForeign(a: Address): boolean {
      return this.#session.#isKnownForeign(a);
    }
    now(): number {
      return this.#session.#ctx.now();
    }
    newId(): string {
      return this.#session.#ctx.newId();
    }
  };

  get state(): SessionState {
    if (this.#closed) return 'closed';
    if (this.#role?.verified) return 'verified';
    return this.#role?.user ? 'identified' : 'connecting';
  }

  get user(): Address | undefined {
    return this.#role?.user;
  }

  /** Which kind of MSNP connection this turned out to be. */
  get kind(): ConnectionRole['kind'] | undefined {
    return this.#role?.kind;
  }

  fromClient(chunk: Uint8Array): SessionOutput {
    return joinOutput(this.#pump('client', chunk));
  }

  fromServer(chunk: Uint8Array): SessionOutput {
    return joinOutput(this.#pump('server', chunk));
  }

  #pump(side: Direction, chunk: Uint8Array): SessionOutput {
    if (this.#closed) throw new StreamClosedError(PROTOCOL, this.#closed.reason);
    const out = emptyOutput();
    // The server was left (`OUT` sent, its socket ended): what it still says is for nobody.
    if (side === 'server' && this.#serverGone) return out;
    const framer = side === 'client' ? this.#clientFramer : this.#serverFramerOf();
    let frames: Uint8Array[];
    try {
      frames = framer.push(chunk);
    } catch (error) {
      const failure = toProtocolError(error, PROTOCOL);
      this.#closed = { reason: failure.message };
      throw failure;
    }
    try {
      for (const raw of frames) {
        if (side === 'server') {
          if (this.#serverFrame(raw, out)) return out;
          continue;
        }
        const frame = decodeFrame(raw, side);
        const role = this.#roleFor(frame);
        role.fromClient(raw, frame, out);
        const closed = out.events.find((e) => e.type === 'closed');
        if (closed) {
          this.#closed = { reason: closed.reason };
          return out;
        }
        if (!this.#serverGone && out.events.some((e) => e.type === 'server-released')) {
          this.#serverGone = true;
          this.#serverFramer = undefined;
        }
      }
    } catch (error) {
      // A role only throws on a bug; the connection cannot continue either way.
      const failure = toProtocolError(error, PROTOCOL);
      this.#closed = { reason: failure.message };
      out.events.push({ type: 'closed', reason: failure.message, error: failure });
      return out;
    }
    if (framer.error) {
      this.#closed = { reason: framer.error.message };
      out.events.push({ type: 'closed', reason: framer.error.message, error: framer.error });
    }
    return out;
  }

  #serverFramerOf(): CommandFramer {
    this.#serverFramer ??= new CommandFramer('server', this.#options);
    return this.#serverFramer;
  }

  /**
   * One server frame. One the session cannot read goes to the client as it came, with an
   * `untranslated` event: it is usually about a contact (a status, a personal message), and a
   * contact's bad data must not close the connection of every user who has that contact.
   * Returns true when the session closed.
   */
  #serverFrame(raw: Uint8Array, out: SessionOutput): boolean {
    const role = this.#role;
    if (!role) {
      // The server spoke before the client: nothing to watch yet.
      out.toClient.push(raw);
      return false;
    }
    const mark = { toServer: out.toServer.length, toClient: out.toClient.length, events: out.events.length };
    try {
      role.fromServer(raw, decodeFrame(raw, 'server'), out);
    } catch (error) {
      out.toServer.length = mark.toServer;
      out.toClient.length = mark.toClient;
      out.events.length = mark.events;
      out.toClient.push(raw);
      out.events.push({ type: 'untranslated', direction: 'server', error: toProtocolError(error, PROTOCOL) });
      return false;
    }
    const closed = out.events.find((e) => e.type === 'closed');
    if (closed) this.#closed = { reason: closed.reason };
    return closed !== undefined;
  }

  #roleFor(frame: MsnpFrame): ConnectionRole {
    if (this.#role) return this.#role;
    if (frame.type === 'command' && frame.verb === 'VER')
      this.#role = new NotificationRole(this.#ctx, this.#translator);
    else if (
      frame.type === 'command' &&
      (frame.verb === 'ANS' || (frame.verb === 'USR' && frame.args.length === 2))
    ) {
      this.#role = new SwitchboardRole(this.#ctx, this.#translator);
    } else this.#role = new RelayRole();
    return this.#role;
  }

  #isKnownForeign(a: Address): boolean {
    const role = this.#role;
    if (role instanceof NotificationRole) return role.isKnownForeign(a);
    if (role instanceof SwitchboardRole && role.isKnownForeign(a)) return true;
    const owner = role?.user;
    return owner !== undefined && isForeignRosterMember(this.#ctx, owner, a);
  }

  deliver(event: CanonicalEvent): SessionOutput {
    if (this.#closed) throw new SessionStateError(`msnp: the session is closed (${this.#closed.reason})`);
    if (!this.#role?.verified) {
      throw new SessionStateError('msnp: nothing is injected before the server confirmed the login');
    }
    const out = emptyOutput();
    this.#role.deliver(event, out);
    const closed = out.events.find((e) => e.type === 'closed');
    if (closed) this.#closed = { reason: closed.reason };
    return out;
  }

  affinity(event: CanonicalEvent): number {
    if (this.#closed || !this.#role?.verified) return 0;
    return this.#role.affinity(event);
  }

  close(reason: string): SessionOutput {
    const out = emptyOutput();
    if (this.#closed) return out;
    this.#closed = { reason };
    this.#role?.close(reason, out);
    if (!out.events.some((e) => e.type === 'closed')) out.events.push({ type: 'closed', reason });
    return out;
  }

  /**
   * The connection was quiet for the engine's idle time: a switchboard conversation the gateway
   * plays alone ends as an idle MSN switchboard does (`BYE buddy 1` for each foreign participant,
   * then a `closed` event); any other connection stays (undefined).
   */
  endIfIdle(): SessionOutput | undefined {
    if (this.#closed || !this.#role?.endIfIdle) return undefined;
    const out = emptyOutput();
    if (!this.#role.endIfIdle(out)) return undefined;
    const closed = out.events.find((e) => e.type === 'closed');
    if (closed) this.#closed = { reason: closed.reason };
    return joinOutput(out);
  }

  /** The options this session was opened with (framing caps, default dialect). */
  get options(): Readonly<MsnpSessionOptions> {
    return this.#options;
  }
}
