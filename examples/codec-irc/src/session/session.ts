import {
  addressEquals,
  type CanonicalEvent,
  type Direction,
  type FeatureSet,
  FramedProxySession,
  formatAddress,
  type SessionContext,
  type SessionOutput,
} from '@crosstalk/core';
import { checkNick, isChannel } from '../names/nick.js';
import { GATEWAY_USER_HOST, IrcTranslator } from '../translator/translator.js';
import {
  argsOf,
  createFramer,
  decodeFrame,
  encodeFrame,
  type IrcMessage,
  message,
  PROTOCOL,
} from '../wire/message.js';

/**
 * One proxied IRC client connection. The identity gate: the client's NICK only identifies it; the
 * server's RPL_WELCOME (001) for that nick verifies it. From then on, and while the connection
 * holds that nick (a `/nick` away from it suspends everything until it comes back), messages to
 * foreign users are withheld and reported, AWAY is mirrored as `self`, ISON and WHOIS about
 * foreign users are answered with their presence, and foreign events are written as the server
 * would write them.
 */
export class IrcSession extends FramedProxySession {
  readonly #translator: IrcTranslator;
  /** The foreign nicks taken out of each ISON passed to the server, in order: its 303 gets them. */
  readonly #isons: string[][] = [];
  /** ISONs a server leaves unanswered are forgotten past this many. */
  static readonly MAX_ISONS = 64;

  constructor(ctx: SessionContext, network: string, features: FeatureSet) {
    // IRC has no typing notice (IRCv3's is a client tag): typing is dropped, and reported as lost.
    super({ protocol: PROTOCOL, createFramer, features, lossyKinds: ['typing'] });
    this.#translator = new IrcTranslator({
      network,
      isForeign: (a) => ctx.isForeign(a),
      now: () => ctx.now(),
      newId: () => ctx.newId(),
    });
  }

  /** Verified, and still under the nick the server verified. */
  protected override get acting(): boolean {
    const self = this.#translator.self;
    return super.acting && self !== undefined && addressEquals(self, this.user!);
  }

  protected onFrame(raw: Uint8Array, direction: Direction, out: SessionOutput): void {
    if (direction === 'client') this.#clientLine(raw, out);
    else this.#serverLine(raw, out);
  }

  #clientLine(raw: Uint8Array, out: SessionOutput): void {
    const frame = decodeFrame(raw);
    const named = this.#translator.self;
    const events = this.#translator.toEvents(frame, 'client');
    const self = this.#translator.self;
    if (self && self !== named && checkNick(self.user) === undefined) this.identify(self, out);
    const command = frame.type === 'message' ? frame.command.toUpperCase() : '';
    let pass: Uint8Array | undefined = raw;
    if (frame.type === 'message' && command === 'ISON') pass = this.#ison(frame, raw, out);
    else if (frame.type === 'message' && this.acting) {
      if (command === 'PRIVMSG' || command === 'NOTICE') pass = this.#message(frame, raw, events, out);
      else if (command === 'WHOIS') pass = this.#whois(frame, raw, out);
    }
    if (pass) out.toServer.push(pass);
    // The user's own status goes to its server as usual, and to its foreign buddies through us.
    if (command === 'AWAY' && this.acting)
      for (const event of events) out.events.push({ type: 'self', event });
  }

  #isForeignNick(nick: string): boolean {
    return !isChannel(nick) && this.#translator.address(nick).network !== this.#translator.network;
  }

  /** Foreign targets are taken out of the target list (RFC 2812 §3.3.1) and carried by the gateway. */
  #message(frame: IrcMessage, raw: Uint8Array, events: CanonicalEvent[], out: SessionOutput) {
    const [targets = '', ...rest] = frame.params;
    const native = targets.split(',').filter((t) => !this.#isForeignNick(t));
    if (native.length === targets.split(',').length) return raw;
    for (const event of events) {
      if (event.kind !== 'roster' && event.to?.network !== this.#translator.network) {
        out.events.push({ type: 'outbound', event });
      }
    }
    return native.length ? encodeFrame({ ...frame, params: [native.join(','), ...rest] }) : undefined;
  }

  /**
   * ISON (RFC 2812 §4.9), what irssi's /notify polls with: foreign nicks are answered by us. Every
   * ISON the server sees is queued, also before the login is verified, so that replies pair up.
   */
  #ison(frame: IrcMessage, raw: Uint8Array, out: SessionOutput) {
    const nicks = argsOf(frame).flatMap((a) => a.split(' ').filter(Boolean));
    const foreign = this.acting ? nicks.filter((n) => this.#isForeignNick(n)) : [];
    const native = nicks.filter((n) => !foreign.includes(n));
    if (native.length === 0 && foreign.length) {
      return this.#numeric(out, '303', '', this.#online(foreign).join(' '));
    }
    if (this.#isons.push(foreign) > IrcSession.MAX_ISONS) this.#isons.shift();
    return foreign.length ? encodeFrame({ ...frame, params: [], trailing: native.join(' ') }) : raw;
  }

  /** WHOIS of one foreign nick: RPL_WHOISUSER and RPL_AWAY, or ERR_NOSUCHNICK (RFC 2812 §3.6.2). */
  #whois(frame: IrcMessage, raw: Uint8Array, out: SessionOutput) {
    const nick = argsOf(frame).at(-1);
    if (!nick || nick.includes(',') || !this.#isForeignNick(nick)) return raw;
    const presence = this.#translator.presenceOf(nick);
    const who = [...GATEWAY_USER_HOST.split('@'), '*'];
    if (!presence || presence.status === 'offline') this.#numeric(out, '401', nick, 'No such nick/channel');
    else this.#numeric(out, '311', nick, formatAddress(this.#translator.address(nick)), who);
    if (presence?.status === 'away') this.#numeric(out, '301', nick, presence.text ?? 'away');
    return this.#numeric(out, '318', nick, 'End of WHOIS list');
  }

  #online(nicks: readonly string[]): string[] {
    return nicks.filter((n) => (this.#translator.presenceOf(n)?.status ?? 'offline') !== 'offline');
  }

  /** A numeric reply as the server writes it (`:server 303 alice ...`); nothing for the server. */
  #numeric(out: SessionOutput, code: string, about: string, trailing: string, more: string[] = []) {
    const params = [this.#translator.self!.user, ...(about ? [about] : []), ...more];
    out.toClient.push(encodeFrame(message(code, params, trailing, this.#translator.server)));
    return undefined;
  }

  #serverLine(raw: Uint8Array, out: SessionOutput): void {
    const frame = decodeFrame(raw);
    const events = this.#translator.toEvents(frame, 'server');
    const command = frame.type === 'message' ? frame.command.toUpperCase() : '';
    if (this.state === 'identified' && command === '001') {
      // The welcome must name the nick the client registered (the translator has just read it).
      const self = this.#translator.self;
      if (self && addressEquals(self, this.user!)) this.verify(out);
    } else if (this.state !== 'verified' && /^(464|465|ERROR)$/.test(command) && frame.type === 'message') {
      // ERR_PASSWDMISMATCH, ERR_YOUREBANNEDCREEP (RFC 2812 §5.2), or the server closing the link.
      this.loginFailed(out, command, argsOf(frame).at(-1));
    } else if (command === '303' && frame.type === 'message') {
      const foreign = this.#isons.shift() ?? [];
      const online = this.acting ? this.#online(foreign) : [];
      if (online.length) {
        const trailing = [...argsOf(frame).slice(1), ...online].filter((n) => n !== '').join(' ');
        out.toClient.push(encodeFrame({ ...frame, params: frame.params.slice(0, 1), trailing }));
        return;
      }
    }
    out.toClient.push(raw);
    if (this.acting) for (const event of events) out.events.push({ type: 'inbound', event });
  }

  protected write(event: CanonicalEvent, out: SessionOutput): void {
    for (const frame of this.#translator.fromEvent(event, 'server')) out.toClient.push(encodeFrame(frame));
  }
}
