import {
  type Address,
  addressEquals,
  type CanonicalEvent,
  type SessionContext,
  type SessionOutput,
} from '@crosstalk/core';
import { argValue, command, errorReply, type MsnpFrame } from '../command/command.js';
import { MSN_NETWORK, passportKey } from '../names/passport.js';
import type { MsnpTranslator } from '../translator/translator.js';
import { Conversation } from './conversation.js';
import { type ConnectionRole, emit, toClient } from './role.js';
import type { VirtualSwitchboardData } from './virtual-switchboard-data.js';

/** MSNP error codes we answer with (Escargot misc.py `Err`; MSNP wiki error list). */
const AUTH_FAILED = 911;
const PRINCIPAL_NOT_ONLINE = 217;

/**
 * A switchboard the gateway answers itself, on a virtual endpoint a notification session rang the
 * client to (no server side: nothing is ever written to `toServer`). The client answers with
 * `ANS t passport cookie sessid`; the session replies as a switchboard would (`IRO t 1 1 buddy
 * friendly`, `ANS t OK`, MSNP wiki "IRO"), delivers the waiting messages, and then plays the
 * conversation with the foreign buddy.
 */
export class VirtualSwitchboardRole implements ConnectionRole {
  readonly kind = 'virtual-switchboard' as const;
  readonly #translator: MsnpTranslator;
  readonly #data: VirtualSwitchboardData;
  readonly #conversation: Conversation;
  #verified = false;
  #closed = false;

  constructor(ctx: SessionContext, translator: MsnpTranslator, data: VirtualSwitchboardData) {
    this.#translator = translator;
    this.#data = data;
    data.taken = true;
    translator.setDialect(data.dialect);
    translator.self = data.owner;
    this.#conversation = new Conversation(ctx, data.owner, translator);
  }

  get user(): Address | undefined {
    return this.#data.owner;
  }

  get verified(): boolean {
    return this.#verified;
  }

  fromClient(_raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void {
    if (this.#closed || frame.type !== 'command') return;
    const a = frame.args;
    if (!this.#verified) {
      const passport = a[0] === undefined ? '' : argValue(a[0]).split(';')[0]!;
      const owner = passportKey(passport) === passportKey(this.#data.owner.user);
      if (frame.verb === 'ANS' && owner && a[1] === this.#data.cookie && a[2] === this.#data.sessid) {
        this.#verified = true;
        emit(
          out,
          { type: 'identified', address: this.#data.owner },
          { type: 'verified', address: this.#data.owner },
        );
        this.#conversation.join(this.#data.peer);
        toClient(out, ...this.#conversation.roll(frame.trid), command('ANS', frame.trid, ['OK']));
        const pending = this.#data.pending.splice(0);
        for (const event of pending) toClient(out, ...this.#conversation.deliver(event));
        return;
      }
      // Wrong user, cookie or session: refused as a switchboard refuses (Escargot msnp_sb.py `_m_ans`).
      toClient(out, errorReply(AUTH_FAILED, frame.trid));
      this.#close('switchboard login refused', out);
      return;
    }
    switch (frame.verb) {
      case 'MSG': {
        const { events, replies } = this.#conversation.clientMessage(frame, false);
        for (const event of events) emit(out, { type: 'outbound', event });
        toClient(out, ...replies);
        return;
      }
      case 'CAL': {
        if (a[0] === undefined) return;
        const callee = this.#translator.address(argValue(a[0]));
        if (callee.network === MSN_NETWORK) {
          // A native user cannot be brought into a conversation only the gateway plays.
          toClient(out, errorReply(PRINCIPAL_NOT_ONLINE, frame.trid));
          return;
        }
        toClient(
          out,
          command('CAL', frame.trid, ['RINGING', this.#data.sessid]),
          this.#conversation.join(callee),
        );
        return;
      }
      case 'OUT':
        this.#close('client left the conversation', out);
        return;
      default:
        return;
    }
  }

  fromServer(): void {
    // No server behind a virtual endpoint.
  }

  deliver(event: CanonicalEvent, out: SessionOutput): void {
    if (!this.#closed) toClient(out, ...this.#conversation.deliver(event));
  }

  affinity(event: CanonicalEvent): number {
    if (!this.#verified || this.#closed) return 0;
    if ('to' in event && event.to && !addressEquals(event.to, this.#data.owner)) return 0;
    return this.#conversation.affinity(event);
  }

  close(reason: string, out: SessionOutput): void {
    this.#close(reason, out);
  }

  /**
   * Quiet for the engine's idle time: the gateway ends the conversation as an MSN server ends an
   * idle switchboard (`BYE buddy 1`, then the connection closes), freeing its descriptor; the
   * buddy's next message rings the client again.
   */
  endIfIdle(out: SessionOutput): boolean {
    if (this.#closed || !this.#verified) return false;
    toClient(out, ...this.#conversation.leaveIdle());
    this.#close('idle conversation ended', out);
    return true;
  }

  #close(reason: string, out: SessionOutput): void {
    if (this.#closed) return;
    this.#closed = true;
    emit(out, { type: 'closed', reason });
  }
}
