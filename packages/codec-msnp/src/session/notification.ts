import {
  type Address,
  addressKey,
  type CanonicalEvent,
  isDomainNetwork,
  nativeToAddress,
  type RosterItem,
  type SessionContext,
  type SessionEvent,
  type SessionOutput,
  UnsupportedEventError,
} from '@crosstalk/core';
import { argValue, command, encodeArg, type MsnpCommand, type MsnpFrame } from '../command/command.js';
import { PROTOCOL } from '../command/framer.js';
import { contactGuid } from '../contacts/contact-guid.js';
import { ContactListSync, type SynCounts, synContactCountIndex } from '../contacts/contact-list-sync.js';
import { MSN_NETWORK } from '../names/passport.js';
import { listEditTarget, type MsnpTranslator } from '../translator/translator.js';
import { foreignName } from './conversation.js';
import { isForeignRosterMember } from './foreign-roster-keys.js';
import {
  type ConnectionRole,
  cookieId,
  digitsId,
  emit,
  parseHostPort,
  toClient,
  UNKNOWN_PRINCIPAL,
} from './role.js';
import type { SwitchboardCookieData, VirtualSwitchboardData } from './virtual-switchboard-data.js';

interface Merge {
  readonly sync: ContactListSync;
  readonly foreign: readonly RosterItem[];
  injected: boolean;
}

/**
 * The notification-server connection (first client command `VER`). Before `USR ... OK` it only
 * watches: `identified` on `USR t TWN|MD5 I passport`, `verified` on the OK, `login-failed` on an
 * error to a login command. Once verified it records switchboard cookies from `XFR ... SB` and
 * `RNG` and reports each redirect; merges the foreign buddies into the list download (`SYN`,
 * `LSG`, `LST`); answers list edits that name a foreign buddy itself; reports the user's own
 * presence (`CHG`, `UUX`); and delivers foreign presence, buddy requests and, by ringing the client
 * into a switchboard the gateway plays (`RNG` to a virtual endpoint), messages.
 */
export class NotificationRole implements ConnectionRole {
  readonly kind = 'notification' as const;
  readonly #ctx: SessionContext;
  readonly #translator: MsnpTranslator;
  #identified = false;
  #verified = false;
  readonly #loginTrids = new Set<number>();
  /** Foreign users met in this session (requests, messages, list edits), beyond the foreign roster. */
  readonly #foreign = new Map<string, Address>();
  /** Foreign users whose buddy request was delivered and not yet answered. */
  readonly #requestsFrom = new Set<string>();
  /** Foreign users whose request the client accepted in this session (adding them back asks nothing). */
  readonly #accepted = new Set<string>();
  /** Contact GUIDs we wrote for foreign buddies (MSNP10+), so `REM t FL guid` can be told apart. */
  readonly #guids = new Map<string, Address>();
  /** `ADD`/`ADC` for a passport that might be a foreign XMPP user: sent on, the server's answer decides. */
  readonly #probes = new Map<number, { cmd: MsnpCommand; candidate: Address }>();
  #merge: Merge | undefined;
  readonly #ringing = new Map<string, VirtualSwitchboardData>();

  constructor(ctx: SessionContext, translator: MsnpTranslator) {
    this.#ctx = ctx;
    this.#translator = translator;
  }

  get user(): Address | undefined {
    return this.#identified || this.#verified ? this.#translator.self : undefined;
  }

  get verified(): boolean {
    return this.#verified;
  }

  /** True for a foreign address this session knows of (roster, requests, conversations). */
  isKnownForeign(a: Address): boolean {
    if (this.#foreign.has(addressKey(a))) return true;
    const owner = this.#translator.self;
    return owner !== undefined && isForeignRosterMember(this.#ctx, owner, a);
  }

  #meet(a: Address): void {
    if (a.network !== MSN_NETWORK) this.#foreign.set(addressKey(a), a);
  }

  // ------------------------------------------------------------------ client -> server

  fromClient(raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void {
    if (frame.type !== 'command') {
      out.toServer.push(raw);
      return;
    }
    const events = this.#translator.toEvents(frame, 'client');
    if (!this.#verified) {
      if (frame.verb === 'USR' && frame.trid !== undefined) {
        this.#loginTrids.add(frame.trid);
        const self = this.#translator.self;
        if (frame.args[1] === 'I' && self && !this.#identified) {
          this.#identified = true;
          emit(out, { type: 'identified', address: self });
        }
      }
      out.toServer.push(raw);
      return;
    }
    switch (frame.verb) {
      case 'ADD':
      case 'ADC':
      case 'REM':
        if (this.#foreignListEdit(frame, out)) return;
        break;
      case 'CHG':
      case 'UUX':
        // The user's own presence: it still goes to its server; foreign buddies hear it from the gateway.
        for (const event of events) if (event.kind === 'presence') emit(out, selfEvent(event));
        break;
      default:
        break;
    }
    out.toServer.push(raw);
  }

  /** Answers a list edit naming a foreign buddy itself; false when the edit is for the server. */
  #foreignListEdit(cmd: MsnpCommand, out: SessionOutput): boolean {
    const target = listEditTarget(cmd);
    if (!target || cmd.trid === undefined) return false;
    let buddy: Address | undefined;
    if (target.guid !== undefined) buddy = this.#guids.get(target.guid);
    else if (target.passport !== undefined) {
      const a = this.#translator.address(target.passport);
      if (a.network !== MSN_NETWORK) buddy = a;
      else if (cmd.verb !== 'REM' && target.list === 'FL') {
        // `carol@jabber.org` may be a passport or an XMPP user: let the server say (an unknown
        // passport comes back as an error, which we then answer for the gateway).
        const candidate = nativeToAddress(target.passport, MSN_NETWORK, this.#ctx.isForeign);
        if (candidate.network !== MSN_NETWORK && isDomainNetwork(candidate.network)) {
          this.#probes.set(cmd.trid, { cmd, candidate });
        }
      }
    }
    if (!buddy) return false;
    this.#answerForeignEdit(cmd, target.list, buddy, out);
    return true;
  }

  #answerForeignEdit(cmd: MsnpCommand, list: string, buddy: Address, out: SessionOutput): void {
    this.#meet(buddy);
    toClient(out, this.#localAnswer(cmd, buddy));
    const self = this.#translator.self!;
    const key = addressKey(buddy);
    if ((cmd.verb === 'ADD' || cmd.verb === 'ADC') && list === 'FL') {
      // Adding back a buddy who is already mutual (the client accepted their request and, as MSN
      // clients offer, also adds them to its list) is a list edit, not a new request.
      if (this.#accepted.has(key) || this.#isMutual(self, key)) return;
      const name = this.#translator.friendlyOf(self.user);
      const request: CanonicalEvent =
        name === self.user
          ? { kind: 'buddy-request', from: self, to: buddy }
          : { kind: 'buddy-request', from: self, to: buddy, name };
      emit(out, { type: 'outbound', event: request });
    } else if (
      (cmd.verb === 'ADD' || cmd.verb === 'ADC') &&
      (list === 'AL' || list === 'BL') &&
      this.#requestsFrom.has(key)
    ) {
      // Adding a requester to AL accepts, to BL refuses (PROTOCOLS.md, "accept = add to AL").
      this.#requestsFrom.delete(key);
      if (list === 'AL') this.#accepted.add(key);
      emit(out, {
        type: 'outbound',
        event: { kind: 'buddy-response', from: self, to: buddy, accepted: list === 'AL' },
      });
    }
  }

  /** True when the gateway lists `key` as a buddy the user already watches (`to` or `both`). */
  #isMutual(owner: Address, key: string): boolean {
    return this.#ctx
      .foreignRoster(owner)
      .some(
        (item) =>
          addressKey(item.address) === key && (item.subscription === 'both' || item.subscription === 'to'),
      );
  }

  /** The reply the server would give: the command echoed, with a list version up to MSNP9, a GUID for new FL contacts from MSNP10. */
  #localAnswer(cmd: MsnpCommand, buddy: Address): MsnpCommand {
    const a = cmd.args;
    if (this.#translator.dialect < 10) {
      return command(cmd.verb, cmd.trid, [a[0]!, String(this.#translator.nextListVersion()), ...a.slice(1)]);
    }
    if (cmd.verb === 'ADC' && a[0] === 'FL' && a.some((x) => x.startsWith('N='))) {
      const passport = this.#translator.passport(buddy);
      const guid = contactGuid(passport);
      this.#guids.set(guid, buddy);
      return command('ADC', cmd.trid, [...a, `C=${guid}`]);
    }
    return command(cmd.verb, cmd.trid, [...a]);
  }

  // ------------------------------------------------------------------ server -> client

  fromServer(raw: Uint8Array, frame: MsnpFrame, out: SessionOutput): void {
    if (frame.type === 'error') {
      this.#serverError(raw, frame.code, frame.trid, out);
      return;
    }
    if (frame.type !== 'command') {
      out.toClient.push(raw);
      return;
    }
    const a = frame.args;
    switch (frame.verb) {
      case 'XFR': {
        // `XFR t NS host:port 0 host:port` (login moved) / `XFR t SB host:port CKI cookie`.
        const target = parseHostPort(a[1]);
        if (target && a[0] === 'NS') emit(out, { type: 'redirect', ...target, purpose: 'notification' });
        if (target && a[0] === 'SB' && this.#verified && a[2] === 'CKI' && a[3] !== undefined) {
          this.#recordCookie(a[3], {
            protocol: PROTOCOL,
            via: 'XFR',
            dialect: this.#translator.dialect,
            ...target,
          });
          emit(out, { type: 'redirect', ...target, purpose: 'switchboard' });
        }
        break;
      }
      case 'RNG': {
        // `RNG sessid host:port CKI cookie passport friendly`.
        const target = parseHostPort(a[1]);
        if (target && this.#verified && a[2] === 'CKI' && a[3] !== undefined) {
          this.#recordCookie(a[3], {
            protocol: PROTOCOL,
            via: 'RNG',
            dialect: this.#translator.dialect,
            sessid: a[0]!,
            ...(a[4] === undefined ? {} : { caller: argValue(a[4]) }),
            ...target,
          });
          emit(out, { type: 'redirect', ...target, purpose: 'switchboard' });
        }
        break;
      }
      case 'SYN':
      case 'LSG':
      case 'LST':
        if (this.#verified) {
          this.#contactList(raw, frame, out);
          return;
        }
        break;
      default:
        break;
    }
    const events = this.#translator.toEvents(frame, 'server');
    if (!this.#verified && frame.verb === 'USR' && a[0] === 'OK') {
      const self = this.#translator.self;
      if (self) {
        this.#verified = true;
        if (!this.#identified) emit(out, { type: 'identified', address: self });
        this.#identified = true;
        emit(out, { type: 'verified', address: self });
      }
    }
    out.toClient.push(raw);
    if (this.#verified) for (const event of events) emit(out, { type: 'inbound', event });
  }

  #serverError(raw: Uint8Array, code: number, trid: number | undefined, out: SessionOutput): void {
    if (!this.#verified && trid !== undefined && this.#loginTrids.has(trid)) {
      const self = this.#translator.self;
      emit(out, { type: 'login-failed', ...(self ? { address: self } : {}), code: String(code) });
    }
    const probe = trid === undefined ? undefined : this.#probes.get(trid);
    if (probe && this.#verified) {
      this.#probes.delete(trid!);
      if (UNKNOWN_PRINCIPAL.has(code) && this.#ctx.isForeign(probe.candidate)) {
        // Not a passport the server knows: a foreign user after all.
        this.#answerForeignEdit(probe.cmd, probe.cmd.args[0]!, probe.candidate, out);
        return;
      }
    }
    out.toClient.push(raw);
  }

  #recordCookie(cookie: string, data: SwitchboardCookieData): void {
    const owner = this.#translator.self;
    if (owner) this.#ctx.cookies.record(PROTOCOL, cookie, owner, data);
  }

  /**
   * The list download: `SYN` announces the counts (MSNP8+), `LSG` lines name the groups, then one
   * `LST` per contact. The foreign buddies are added to the count and written just before the
   * server's first `LST` (after the last `LSG`, or right after `SYN`, when the server has none),
   * so the `BPR` lines that follow a server contact stay with it (MSNP wiki "MSNP8", BPR).
   */
  #contactList(raw: Uint8Array, cmd: MsnpCommand, out: SessionOutput): void {
    if (cmd.verb === 'SYN') {
      const sync = new ContactListSync(this.#translator.dialect);
      const listFollows = sync.start(cmd);
      this.#translator.noteListVersion(this.#translator.dialect < 10 ? cmd.args[0] : undefined);
      const foreign = listFollows && sync.counts ? this.#foreignItems() : [];
      this.#merge = { sync, foreign, injected: foreign.length === 0 };
      if (foreign.length > 0 && sync.counts) {
        toClient(out, withCount(cmd, this.#translator.dialect, sync.counts, foreign.length));
        if (sync.counts.contacts === 0 && sync.counts.groups === 0) this.#inject(out);
      } else {
        out.toClient.push(raw);
      }
      this.#finishIfComplete(out);
      return;
    }
    const merge = this.#merge;
    if (!merge || merge.sync.complete) {
      out.toClient.push(raw);
      return;
    }
    const entry = merge.sync.accept(cmd);
    if (entry && 'passport' in entry) this.#translator.rememberName(entry.passport, entry.friendly);
    if (cmd.verb === 'LST' && !merge.injected) this.#inject(out);
    out.toClient.push(raw);
    const counts = merge.sync.counts;
    if (
      cmd.verb === 'LSG' &&
      !merge.injected &&
      counts?.contacts === 0 &&
      merge.sync.groups.length >= counts.groups
    ) {
      this.#inject(out);
    }
    this.#finishIfComplete(out);
  }

  /** The foreign roster, one item per address. */
  #foreignItems(): RosterItem[] {
    const owner = this.#translator.self;
    if (!owner) return [];
    const seen = new Set<string>();
    const items: RosterItem[] = [];
    for (const item of this.#ctx.foreignRoster(owner)) {
      const key = addressKey(item.address);
      if (seen.has(key) || item.address.network === MSN_NETWORK) continue;
      seen.add(key);
      items.push(item);
    }
    return items;
  }

  #inject(out: SessionOutput): void {
    const merge = this.#merge!;
    merge.injected = true;
    const groupIds = new Map(merge.sync.groups.map((g) => [g.name, g.id]));
    for (const item of merge.foreign) {
      this.#meet(item.address);
      const passport = this.#translator.passport(item.address);
      if (item.name !== undefined) this.#translator.rememberName(passport, item.name);
      if (this.#translator.dialect >= 10) this.#guids.set(contactGuid(passport), item.address);
      toClient(out, this.#translator.lstLine(item, groupIds));
    }
  }

  #finishIfComplete(out: SessionOutput): void {
    const merge = this.#merge;
    if (!merge?.sync.complete) return;
    this.#merge = undefined;
    const owner = this.#translator.self;
    // MSNP8+ without counts: the client's cached list is current and nothing was sent.
    if (!owner || (!merge.sync.counts && this.#translator.dialect >= 8)) return;
    if (!merge.injected) this.#inject(out);
    emit(out, {
      type: 'roster',
      owner,
      items: this.#translator.rosterItems(merge.sync),
      merged: [...merge.foreign],
    });
  }

  // ------------------------------------------------------------------ delivery

  deliver(event: CanonicalEvent, out: SessionOutput): void {
    switch (event.kind) {
      case 'presence': {
        this.#meet(event.from);
        toClient(out, ...this.#translator.presenceFrames(event));
        const lost: string[] = [];
        if (event.text !== undefined && this.#translator.dialect < 11) lost.push('presence.text');
        if (event.idleSince !== undefined) lost.push('presence.idle');
        if (lost.length) emit(out, { type: 'feature-loss', event, lost });
        return;
      }
      case 'buddy-request':
        this.#meet(event.from);
        this.#requestsFrom.add(addressKey(event.from));
        toClient(out, ...this.#translator.fromEvent(event, 'server'));
        if (event.message !== undefined)
          emit(out, { type: 'feature-loss', event, lost: ['buddy-request.message'] });
        return;
      case 'buddy-response':
        // MSNP before 13 has no notice for an answered request. An accepted one makes the buddy a
        // mutual contact, which MSN shows as the reverse-list notice a contact adding the user back
        // sends (`ADC 0 RL` / `ADD 0 RL`; the next list download has the RL bit too). A refusal
        // shows nothing, as on MSN itself.
        if (!event.accepted) {
          emit(out, { type: 'feature-loss', event, lost: ['buddy-response'] });
          return;
        }
        this.#meet(event.from);
        toClient(
          out,
          ...this.#translator.fromEvent({ kind: 'buddy-request', from: event.from, to: event.to }, 'server'),
        );
        return;
      case 'im':
        this.#ring(event, out);
        return;
      case 'typing':
        // MSN only says "typing now"; the end of typing is its absence (nothing to write). Typing
        // with no conversation open rings the client in, as an MSN client starting to type does.
        if (event.state === 'composing') this.#ring(event, out);
        else if (event.state !== 'paused' && event.state !== 'active')
          emit(out, { type: 'feature-loss', event, lost: ['typing.states'] });
        return;
      default:
        throw new UnsupportedEventError(PROTOCOL, event.kind, 'a notification server cannot deliver it');
    }
  }

  /**
   * A message (or typing) from a foreign buddy with no conversation open: ring the client into a switchboard
   * the gateway answers itself (`RNG sessid host:port CKI cookie passport friendly`, Escargot
   * msnp_ns.py `on_chat_invite`). What arrives before the client joins waits in the ring.
   */
  #ring(event: CanonicalEvent & { kind: 'im' | 'typing' }, out: SessionOutput): void {
    const key = addressKey(event.from);
    const waiting = this.#ringing.get(key);
    if (waiting && !waiting.taken) {
      waiting.pending.push(event);
      return;
    }
    const owner = this.#translator.self!;
    this.#meet(event.from);
    const data: VirtualSwitchboardData = {
      protocol: PROTOCOL,
      kind: 'switchboard',
      owner,
      peer: event.from,
      pending: [event],
      cookie: cookieId(this.#ctx),
      sessid: digitsId(this.#ctx),
      dialect: this.#translator.dialect,
      endpoint: { host: '', port: 0 },
      taken: false,
    };
    data.endpoint = this.#ctx.endpoints.allocate(PROTOCOL, data);
    this.#ringing.set(key, data);
    const passport = this.#translator.passport(event.from);
    const name = foreignName(this.#ctx, owner, event.from) ?? this.#translator.friendlyOf(passport);
    this.#translator.rememberName(passport, name);
    toClient(
      out,
      command('RNG', undefined, [
        data.sessid,
        `${data.endpoint.host}:${data.endpoint.port}`,
        'CKI',
        data.cookie,
        encodeArg(passport),
        encodeArg(name),
      ]),
    );
  }

  affinity(event: CanonicalEvent): number {
    if (!this.#verified) return 0;
    switch (event.kind) {
      case 'presence':
      case 'buddy-request':
      case 'buddy-response':
      case 'im':
      case 'typing':
        return 1;
      default:
        return 0;
    }
  }

  close(_reason: string, _out: SessionOutput): void {
    // Rings the client never answered: give their endpoints back.
    for (const ring of this.#ringing.values()) {
      if (!ring.taken && ring.endpoint.port !== 0)
        this.#ctx.endpoints.release(ring.endpoint.host, ring.endpoint.port);
    }
    this.#ringing.clear();
  }
}

/** The `SYN` reply with its contact count raised by the merged foreign buddies. */
function withCount(syn: MsnpCommand, dialect: number, counts: SynCounts, extra: number): MsnpCommand {
  const args = [...syn.args];
  args[synContactCountIndex(dialect)] = String(counts.contacts + extra);
  return command('SYN', syn.trid, args);
}

function selfEvent(event: CanonicalEvent): SessionEvent {
  return { type: 'self', event };
}
