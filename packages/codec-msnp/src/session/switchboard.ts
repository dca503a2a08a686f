import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  isDomainNetwork,
  nativeToAddress,
  type SessionContext,
  type SessionOutput,
} from '@crosstalk/core';
import { argValue, command, errorReply, type MsnpFrame } from '../command/command.js';
import { PROTOCOL } from '../command/framer.js';
import { MSN_NETWORK, passportKey } from '../names/passport.js';
import type { MsnpTranslator } from '../translator/translator.js';
import { Conversation } from './conversation.js';
import { type ConnectionRole, digitsId, emit, toClient, toServer, UNKNOWN_PRINCIPAL } from './role.js';
import { isSwitchboardCookieData } from './virtual-switchboard-data.js';

/** MSNP error for a principal who is not online (MSNP wiki error list; Escargot misc.py `Err`). */
const PRINCIPAL_NOT_ONLINE = 217;

/**
 * A switchboard connection to the real server, entered as caller (`USR t passport cookie`, after
 * `XFR ... SB`) or answerer (`ANS t passport cookie sessid`, after `RNG`). It belongs to the user
 * the cookie was recorded for on a verified notification connection, and is verified when the
 * server accepts the cookie (`USR t OK`, `IRO`, `ANS t OK`). Calling a foreign buddy into it
 * (`CAL t bob@yahoo`) is answered locally and from then on the conversation with that buddy is
 * played by the gateway (`Conversation`). When that leaves nobody native in it and nobody native
 * was called (a caller's switchboard whose first call was a foreign buddy), the gateway leaves the
 * real switchboard (`OUT`) and releases that connection (`server-released`): the conversation then
 * holds the client's connection only, as one the gateway rang the client into does; a native user
 * called into it later is refused as offline (`217`). A name that may be
 * a passport or an XMPP user (`carol@jabber.org`, not on the foreign roster: someone the user never
 * added) is called on the server first; when the server does not know that passport, the gateway
 * answers the call for the foreign user instead of the error.
 */
export class SwitchboardRole implements ConnectionRole {
  readonly kind = 'switchboard' as const;
  readonly #ctx: SessionContext;
  readonly #translator: MsnpTranslator;
  #owner: Address | undefined;
  #cookie: string | undefined;
  #sessid: string | undefined;
  #enterTrid: number | undefined;
  #verified = false;
  #conversation: Conversation | undefined;
  /** Native participants on the real switchboard (JOI/IRO minus BYE); made on first use. */
  #native: Set<string> | undefined;
  /** `CAL t name` sent on for a name that may be a foreign XMPP user: the trid and that user. */
  #probes: Map<number, Address> | undefined;
  /** A call went to the server (a native user, or a probe): the real switchboard is needed. */
  #calledNative = false;
  /** The real switchboard was left: the gateway alone plays the conversation now. */
  #released = false;
  /** Entered with `ANS` (rung by a native caller), not `USR`. */
  #answerer = false;

  constructor(ctx: SessionContext, translator: MsnpTranslator) {
    this.#ctx = ctx;
    this.#translator = translator;
  }

  get user(): Address | undefined {
    return this.#owner;
  }

  get verified(): boolean {
    return this.#verified;
  }

  fromClient(raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void {
    if (this.#released) {
      this.#fromClientReleased(frame, out);
      return;
    }
    if (frame.type !== 'command') {
      out.toServer.push(raw);
      return;
    }
    // The translator learns the participants the client calls; messages are handled below.
    if (frame.verb !== 'MSG') this.#translator.toEvents(frame, 'client');
    const a = frame.args;
    if (this.#enterTrid === undefined && (frame.verb === 'USR' || frame.verb === 'ANS')) {
      this.#answerer = frame.verb === 'ANS';
      this.#enter(frame.verb, frame.trid, a, out);
    }
    if (this.#verified && this.#owner) {
      if (frame.verb === 'CAL' && a[0] !== undefined && frame.trid !== undefined) {
        const passport = argValue(a[0]);
        const callee = this.#translator.address(passport);
        if (callee.network !== MSN_NETWORK) {
          this.#joinForeign(frame.trid, passport, callee, out);
          return;
        }
        // `carol@jabber.org` may be a passport or an XMPP user: let the server say.
        const candidate = nativeToAddress(passport, MSN_NETWORK, this.#ctx.isForeign);
        if (candidate.network !== MSN_NETWORK && isDomainNetwork(candidate.network)) {
          this.#probes ??= new Map();
          this.#probes.set(frame.trid, candidate);
        } else this.#calledNative = true;
      }
      if (frame.verb === 'MSG' && this.#conversation && this.#conversation.foreignCount > 0) {
        const nativeToo = (this.#native?.size ?? 0) > 0;
        const { events: outbound, replies } = this.#conversation.clientMessage(frame, nativeToo);
        for (const event of outbound) emit(out, { type: 'outbound', event });
        toClient(out, ...replies);
        // With native participants too, the message still goes to them through the server.
        if (nativeToo) out.toServer.push(raw);
        return;
      }
    }
    out.toServer.push(raw);
  }

  /** Answers `CAL t name` for a foreign user: `CAL t RINGING sessid` and their `JOI`, played locally. */
  #joinForeign(trid: number, passport: string, callee: Address, out: SessionOutput): void {
    this.#translator.removeParticipant(passport);
    const conversation = this.#conversationFor(this.#owner!);
    this.#sessid ??= digitsId(this.#ctx);
    toClient(out, command('CAL', trid, ['RINGING', this.#sessid]), conversation.join(callee));
    this.#releaseIfForeignOnly(out);
  }

  /**
   * Leaves the real switchboard when the conversation is the gateway's alone: entered as caller
   * (`USR`; an answerer's has its caller on it), nobody native joined or called, no probe waiting.
   */
  #releaseIfForeignOnly(out: SessionOutput): void {
    if (this.#released || this.#answerer || this.#calledNative) return;
    if ((this.#native?.size ?? 0) > 0 || (this.#probes?.size ?? 0) > 0) return;
    this.#released = true;
    // `OUT`: the client leaves the switchboard (MSNP wiki "OUT"); the server then closes it.
    toServer(out, command('OUT', undefined, []));
    emit(out, { type: 'server-released', reason: 'conversation with foreign participants only' });
  }

  /** A client command once the real switchboard was left: played here, nothing goes to a server. */
  #fromClientReleased(frame: MsnpFrame, out: SessionOutput): void {
    if (frame.type !== 'command' || !this.#owner) return;
    const a = frame.args;
    if (frame.verb === 'MSG' && this.#conversation) {
      const { events, replies } = this.#conversation.clientMessage(frame, false);
      for (const event of events) emit(out, { type: 'outbound', event });
      toClient(out, ...replies);
    } else if (frame.verb === 'CAL' && a[0] !== undefined && frame.trid !== undefined) {
      const passport = argValue(a[0]);
      const callee = this.#translator.address(passport);
      // A native user cannot be brought into a conversation only the gateway plays now.
      if (callee.network === MSN_NETWORK) toClient(out, errorReply(PRINCIPAL_NOT_ONLINE, frame.trid));
      else this.#joinForeign(frame.trid, passport, callee, out);
    } else if (frame.verb === 'OUT') {
      emit(out, { type: 'closed', reason: 'client left the conversation' });
    }
  }

  /** True for a foreign user who is in this conversation (a call the server refused as no passport). */
  isKnownForeign(a: Address): boolean {
    return this.#conversation?.has(a) ?? false;
  }

  /** `USR t passport cookie` / `ANS t passport cookie sessid`: whose connection this is. */
  #enter(verb: string, trid: number | undefined, a: readonly string[], out: SessionOutput): void {
    this.#enterTrid = trid ?? -1;
    const passport = a[0] === undefined ? undefined : argValue(a[0]).split(';')[0];
    const cookie = a[1];
    if (passport === undefined || cookie === undefined) return;
    const known = this.#ctx.cookies.lookup(PROTOCOL, cookie);
    if (
      known &&
      passportKey(known.owner.user) === passportKey(passport) &&
      known.owner.network === MSN_NETWORK
    ) {
      this.#owner = known.owner;
      this.#cookie = cookie;
      this.#translator.self = known.owner;
      if (isSwitchboardCookieData(known.data)) {
        this.#translator.setDialect(known.data.dialect);
        if (known.data.sessid) this.#sessid = known.data.sessid;
      }
      if (verb === 'ANS' && a[2] !== undefined) this.#sessid = a[2];
      emit(out, { type: 'identified', address: known.owner });
    }
  }

  fromServer(raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void {
    if (frame.type === 'error') {
      if (!this.#verified && frame.trid !== undefined && frame.trid === this.#enterTrid) {
        emit(out, {
          type: 'login-failed',
          ...(this.#owner ? { address: this.#owner } : {}),
          code: String(frame.code),
        });
        this.#forgetCookie();
      }
      if (this.#callRefused(frame.code, frame.trid, out)) return;
      out.toClient.push(raw);
      return;
    }
    if (frame.type !== 'command') {
      out.toClient.push(raw);
      return;
    }
    if (frame.verb === 'CAL' && frame.trid !== undefined) this.#forgetProbe(frame.trid);
    const events = this.#translator.toEvents(frame, 'server');
    const a = frame.args;
    if (!this.#verified && this.#owner && frame.trid !== undefined && frame.trid === this.#enterTrid) {
      // The server took the cookie: `USR t OK ...` for a caller; `IRO t ...` then `ANS t OK` for an answerer.
      if (
        (frame.verb === 'USR' && a[0] === 'OK') ||
        frame.verb === 'IRO' ||
        (frame.verb === 'ANS' && a[0] === 'OK')
      ) {
        this.#verified = true;
        this.#forgetCookie();
        emit(out, { type: 'verified', address: this.#owner });
      }
    }
    if (frame.verb === 'JOI' || frame.verb === 'IRO') {
      const passport = frame.verb === 'JOI' ? a[0] : a[2];
      if (passport !== undefined && !this.#isOwner(argValue(passport))) {
        this.#native ??= new Set();
        this.#native.add(passportKey(argValue(passport)));
      }
    } else if (frame.verb === 'BYE' && a[0] !== undefined) {
      this.#native?.delete(passportKey(argValue(a[0])));
    } else if (frame.verb === 'CAL' && a[0] === 'RINGING' && a[1] !== undefined) {
      this.#sessid = a[1];
    }
    out.toClient.push(raw);
    if (this.#verified) for (const event of events) emit(out, { type: 'inbound', event });
  }

  /**
   * An error to a `CAL` probe: "no such passport" means the name was a foreign user after all, whose
   * join the gateway answers instead (true); any other answer goes to the client. Escargot writes
   * that error without the transaction id (`208`), so an error without one is the oldest probe's.
   */
  #callRefused(code: number, trid: number | undefined, out: SessionOutput): boolean {
    const key = trid ?? this.#probes?.keys().next().value;
    const candidate = key === undefined ? undefined : this.#probes?.get(key);
    if (key === undefined || candidate === undefined) return false;
    this.#forgetProbe(key);
    if (!UNKNOWN_PRINCIPAL.has(code) || !this.#owner || !this.#ctx.isForeign(candidate)) return false;
    this.#joinForeign(key, this.#translator.passport(candidate), candidate, out);
    return true;
  }

  /** A probe was answered; the map goes with the last one (most switchboards never need it again). */
  #forgetProbe(trid: number): void {
    this.#probes?.delete(trid);
    if (this.#probes?.size === 0) this.#probes = undefined;
  }

  #isOwner(passport: string): boolean {
    return this.#owner !== undefined && passportKey(this.#owner.user) === passportKey(passport);
  }

  #forgetCookie(): void {
    if (this.#cookie !== undefined) this.#ctx.cookies.forget(PROTOCOL, this.#cookie);
  }

  #conversationFor(owner: Address): Conversation {
    this.#conversation ??= new Conversation(this.#ctx, owner, this.#translator);
    return this.#conversation;
  }

  deliver(event: CanonicalEvent, out: SessionOutput): void {
    if (this.#conversation?.affinity(event)) toClient(out, ...this.#conversation.deliver(event));
  }

  affinity(event: CanonicalEvent): number {
    if (!this.#verified || !this.#owner || !this.#conversation) return 0;
    if ('to' in event && event.to && !addressEquals(event.to, this.#owner)) return 0;
    return this.#conversation.affinity(event);
  }

  close(_reason: string, _out: SessionOutput): void {}

  /**
   * Quiet for the engine's idle time: a conversation the gateway plays alone (the real switchboard
   * left) ends as an idle switchboard does (`BYE buddy 1`, then the connection closes); one on the
   * real switchboard is its server's to end.
   */
  endIfIdle(out: SessionOutput): boolean {
    if (!this.#released) return false;
    if (this.#conversation) toClient(out, ...this.#conversation.leaveIdle());
    emit(out, { type: 'closed', reason: 'idle conversation ended' });
    return true;
  }
}
