import { type Address, addressKey, type CanonicalEvent, type SessionContext } from '@crosstalk/core';
import { command, encodeArg, type MsnpCommand, type MsnpFrame } from '../command/command.js';
import {
  type MsnpTranslator,
  messageContent,
  textMessagePayload,
  typingPayload,
} from '../translator/translator.js';

/** The foreign buddies' display names the gateway knows (its foreign roster for the user). */
export function foreignName(ctx: SessionContext, owner: Address, buddy: Address): string | undefined {
  const key = addressKey(buddy);
  return ctx.foreignRoster(owner).find((item) => addressKey(item.address) === key)?.name;
}

/** A foreign participant of a conversation: its address, the key it is found by, its display name. */
interface Participant {
  readonly key: string;
  readonly address: Address;
  readonly name: string;
}

const NOBODY: readonly Participant[] = Object.freeze([]);

/**
 * The part of a switchboard conversation the gateway plays itself: the foreign participants. Their
 * joins are answered locally (`CAL t RINGING sessid`, `JOI`), the client's messages to them are
 * withheld and reported, acknowledged as the ack mode asks (MSNP wiki "MSG": U none, N a NAK on
 * failure only, A an ACK or a NAK, S an ACK on success only, D an ACK), and their messages are
 * delivered as the server would send them (`MSG passport friendly len`).
 */
export class Conversation {
  readonly #ctx: SessionContext;
  readonly #owner: Address;
  readonly #translator: MsnpTranslator;
  /**
   * The foreign participants with their display names, in join order: nearly always one, so a
   * small array, not a map here and a name map in the translator (issue 20: memory per connection).
   */
  #foreign: readonly Participant[] = NOBODY;

  constructor(ctx: SessionContext, owner: Address, translator: MsnpTranslator) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.#translator = translator;
  }

  get foreignCount(): number {
    return this.#foreign.length;
  }

  has(a: Address): boolean {
    return this.#find(addressKey(a)) !== undefined;
  }

  #find(key: string): Participant | undefined {
    for (const p of this.#foreign) if (p.key === key) return p;
    return undefined;
  }

  /** Adds a foreign participant; returns the `JOI` line the client sees for it. */
  join(buddy: Address): MsnpCommand {
    const key = addressKey(buddy);
    const passport = this.#translator.passport(buddy);
    const name = foreignName(this.#ctx, this.#owner, buddy) ?? this.#translator.friendlyOf(passport);
    this.#foreign = [...this.#foreign.filter((p) => p.key !== key), { key, address: buddy, name }];
    return command('JOI', undefined, [encodeArg(passport), encodeArg(name)]);
  }

  /**
   * Every foreign participant leaves, as a switchboard ends an idle conversation: `BYE passport 1`
   * for each (MSNP wiki "BYE": the `1` says the participant timed out; libpurple's switchboard
   * reads it as an idle close). The client then opens a new switchboard for its next message
   * (`XFR`), or is rung into one (`RNG`) for the buddy's.
   */
  leaveIdle(): MsnpCommand[] {
    const lines = this.#foreign.map((p) =>
      command('BYE', undefined, [encodeArg(this.#translator.passport(p.address)), '1']),
    );
    this.#foreign = NOBODY;
    return lines;
  }

  /** `IRO t i n passport friendly` lines listing the foreign participants (an answered virtual SB). */
  roll(trid: number | undefined): MsnpCommand[] {
    const all = this.#foreign;
    return all.map((p, i) =>
      command('IRO', trid, [
        String(i + 1),
        String(all.length),
        encodeArg(this.#translator.passport(p.address)),
        encodeArg(p.name),
      ]),
    );
  }

  /**
   * The client wrote `MSG t mode len`: the events for the foreign participants and, when nobody
   * native shares the conversation, the acknowledgement the server would have sent.
   */
  clientMessage(msg: MsnpCommand, nativeToo: boolean): { events: CanonicalEvent[]; replies: MsnpFrame[] } {
    const payload = msg.payload ?? new Uint8Array(0);
    const events = this.#translator.messageEvents(
      this.#owner,
      this.#foreign.map((p) => p.address),
      payload,
    );
    if (nativeToo || msg.trid === undefined) return { events, replies: [] };
    const mode = msg.args[0] ?? 'N';
    const carried = messageContent(payload).kind !== 'other';
    let reply: 'ACK' | 'NAK' | undefined;
    if (carried) reply = mode === 'A' || mode === 'S' || mode === 'D' ? 'ACK' : undefined;
    else reply = mode === 'A' || mode === 'N' || mode === 'D' ? 'NAK' : undefined;
    return { events, replies: reply ? [command(reply, msg.trid)] : [] };
  }

  /** An event from a foreign participant as the switchboard would deliver it. */
  deliver(event: CanonicalEvent): MsnpFrame[] {
    if (event.kind !== 'im' && event.kind !== 'typing') return [];
    const passport = this.#translator.passport(event.from);
    const friendly = encodeArg(
      this.#find(addressKey(event.from))?.name ?? this.#translator.friendlyOf(passport),
    );
    if (event.kind === 'typing') {
      return event.state === 'composing'
        ? [command('MSG', undefined, [encodeArg(passport), friendly], typingPayload(passport))]
        : [];
    }
    return [
      command('MSG', undefined, [encodeArg(passport), friendly], textMessagePayload(event.text, event.html)),
    ];
  }

  /** 2 for a message or typing from one of the foreign participants, else 0. */
  affinity(event: CanonicalEvent): number {
    return (event.kind === 'im' || event.kind === 'typing') && this.has(event.from) ? 2 : 0;
  }
}
