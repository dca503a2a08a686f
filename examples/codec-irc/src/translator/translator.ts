import {
  type Address,
  addressEquals,
  addressKey,
  type CanonicalEvent,
  type Direction,
  defaultIsForeign,
  type PresenceEvent,
  splitUtf8,
  type Translator,
  type TranslatorOptions,
  UnsupportedEventError,
  utf8,
} from '@crosstalk/core';
import { foreignNick, isChannel, nickToAddress } from '../names/nick.js';
import {
  argsOf,
  type IrcFrame,
  type IrcMessage,
  MAX_MESSAGE,
  message,
  nickOf,
  PROTOCOL,
} from '../wire/message.js';

/** Who the gateway says a foreign user is, in the prefix of what it writes: `bob%yahoo!crosstalk@gateway`. */
export const GATEWAY_USER_HOST = 'crosstalk@gateway';

// The notices a buddy request and its answer become (IRC has no buddy authorisation), and the
// CTCP requests (CTCP, irc.org/ctcp) an IRC user answers or asks with: `/ctcp bob%yahoo ACCEPT`.
const ASKS = (nick: string) =>
  `wants to add you as a buddy (answer with /ctcp ${nick} ACCEPT or /ctcp ${nick} REFUSE)`;
const ASKED =
  /^wants to add you as a buddy \(answer with \/ctcp \S+ ACCEPT or \/ctcp \S+ REFUSE\)(?:: (.*))?$/s;
const ANSWERED = /^(accepted|refused) your buddy request$/;
/** `\x01VERB arg\x01`; the closing \x01 is optional in practice. */
const CTCP = /^\x01([A-Z]+)(?: (.*?))?\x01?$/s;
/** XEP-0245: a message starting with `/me ` is an action, what CTCP ACTION is on IRC. */
const ME = '/me ';

/** RFC 2812 §2.3.1: no NUL, CR or LF inside a message. */
const oneLine = (text: string) => text.replace(/[\r\n\0]+/g, ' ');

export class IrcTranslator implements Translator<IrcFrame> {
  self: Address | undefined;
  /** The server's name (the prefix of its 001), which the numerics we write carry. */
  server = 'gateway';
  readonly network: string;
  readonly #isForeign: (a: Address) => boolean;
  readonly #now: () => number;
  readonly #newId: () => string;
  #registered = false;
  /** Foreign users' presence as delivered, by address key. */
  readonly #seen = new Map<string, PresenceEvent>();
  #ids = 0;

  constructor(options: TranslatorOptions & { network?: string } = {}) {
    this.network = options.network ?? PROTOCOL;
    this.self = options.self;
    this.#isForeign = options.isForeign ?? defaultIsForeign([this.network]);
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => `irc-${++this.#ids}`);
  }

  address(nick: string): Address {
    return nickToAddress(nick, this.network, this.#isForeign);
  }

  nick(a: Address): string {
    const nick = a.network === this.network ? a.user : foreignNick(a);
    if (nick === undefined) throw new UnsupportedEventError(PROTOCOL, 'event', `no IRC name for ${a.user}`);
    return nick;
  }

  toEvents(frame: IrcFrame, direction: Direction): CanonicalEvent[] {
    if (frame.type !== 'message') return [];
    const command = frame.command.toUpperCase();
    const args = argsOf(frame);
    const sender = nickOf(frame.prefix);
    if (direction === 'server' && command === '001' && args[0]) {
      // RFC 2812 §5.1: RPL_WELCOME names the nick the server registered.
      this.self = this.address(args[0]);
      this.server = frame.prefix ?? this.server;
      this.#registered = true;
    } else if (
      command === 'NICK' &&
      args[0] &&
      (direction === 'client'
        ? !this.#registered
        : sender && this.self && addressEquals(this.address(sender), this.self))
    ) {
      // Before registration the client names itself; afterwards only the server's NICK echo counts.
      this.self = this.address(args[0]);
    }
    const self = this.self;
    if (!self) return [];
    if (direction === 'client') {
      if (command === 'AWAY') return [this.#presence(self, args[0] || undefined)];
      if (command === 'QUIT') return [{ kind: 'presence', from: self, status: 'offline' }];
      return this.#messages(frame, self);
    }
    if ((command === '730' || command === '731') && args[1]) {
      // IRCv3 MONITOR: RPL_MONONLINE / RPL_MONOFFLINE list `nick[!user@host]` entries.
      const status = command === '730' ? 'online' : 'offline';
      return args[1]
        .split(',')
        .map((n) => ({ kind: 'presence', from: this.address(nickOf(n)!), to: self, status }));
    }
    // RFC 2812 §2.3.1: a prefix is a server's name or `nick[[!user]@host]`; servers say nothing here.
    if (!sender || (sender.includes('.') && !frame.prefix?.includes('!'))) return [];
    // IRCv3 away-notify: `:nick!user@host AWAY [:message]`.
    if (command === 'AWAY') return [{ ...this.#presence(this.address(sender), args[0]), to: self }];
    return this.#messages(frame, this.address(sender));
  }

  #presence(from: Address, text: string | undefined): PresenceEvent {
    return { kind: 'presence', from, status: text ? 'away' : 'online', ...(text ? { text } : {}) };
  }

  /** PRIVMSG and NOTICE to users (channels are the server's business), CTCP and our notices read. */
  #messages(m: IrcMessage, from: Address): CanonicalEvent[] {
    const command = m.command.toUpperCase();
    const [targets, text] = argsOf(m);
    if ((command !== 'PRIVMSG' && command !== 'NOTICE') || !targets || text === undefined) return [];
    return targets.split(',').flatMap((target): CanonicalEvent[] => {
      if (isChannel(target)) return [];
      const to = this.address(target);
      const im = (text: string): CanonicalEvent[] => [
        { kind: 'im', id: this.#newId(), from, to, text, sentAt: this.#now() },
      ];
      const ctcp = CTCP.exec(text);
      if (!ctcp) {
        const asked = command === 'NOTICE' ? ASKED.exec(text) : null;
        if (asked) return [{ kind: 'buddy-request', from, to, ...(asked[1] ? { message: asked[1] } : {}) }];
        const answered = command === 'NOTICE' ? ANSWERED.exec(text) : null;
        if (answered) return [{ kind: 'buddy-response', from, to, accepted: answered[1] === 'accepted' }];
        return im(text);
      }
      const [, verb, arg] = ctcp;
      if (verb === 'ACTION') return im(`${ME}${arg ?? ''}`);
      if (command !== 'PRIVMSG') return []; // a CTCP reply (VERSION, PING): between clients only
      if (verb === 'BUDDY') return [{ kind: 'buddy-request', from, to, ...(arg ? { message: arg } : {}) }];
      const answer = verb === 'ACCEPT' || verb === 'REFUSE';
      return answer ? [{ kind: 'buddy-response', from, to, accepted: verb === 'ACCEPT' }] : [];
    });
  }

  /** The presence this connection was last given for a foreign nick (ISON, WHOIS, coming back). */
  presenceOf(nick: string): PresenceEvent | undefined {
    return this.#seen.get(addressKey(this.address(nick)));
  }

  /**
   * Frames as `direction` writes them. A server-side frame comes from `bob%yahoo!crosstalk@gateway`;
   * an IM longer than one message, or of several lines, becomes one PRIVMSG per piece.
   */
  fromEvent(event: CanonicalEvent, direction: Direction): IrcFrame[] {
    const from = 'from' in event ? event.from : undefined;
    const prefix = direction === 'server' && from ? `${this.nick(from)}!${GATEWAY_USER_HOST}` : undefined;
    const line = (command: string, params: string[], trailing?: string) =>
      message(command, params, trailing, prefix);
    const to = 'to' in event && event.to ? event.to : this.self;
    if (!to) throw new UnsupportedEventError(PROTOCOL, event.kind, 'nobody to address it to');
    const target = this.nick(to);
    switch (event.kind) {
      case 'im': {
        const overhead = utf8(`:${prefix ?? ''} PRIVMSG ${target} :\x01ACTION \x01\r\n`).length;
        const lines = event.text
          .replace(/\0/g, '')
          .split(/\r\n|[\r\n]/)
          .filter(Boolean);
        return (lines.length ? lines : ['']).flatMap((text) => {
          const action = text.startsWith(ME);
          return splitUtf8(action ? text.slice(ME.length) : text, MAX_MESSAGE - overhead).map((part) =>
            line('PRIVMSG', [target], action ? `\x01ACTION ${part}\x01` : part),
          );
        });
      }
      case 'presence': {
        const text = splitUtf8(oneLine(event.text ?? ''), 300)[0] || undefined;
        const gone = event.status === 'offline' || event.status === 'invisible';
        const status = event.status === 'online' ? 'online' : gone ? 'offline' : 'away';
        if (direction === 'client' && status === 'offline') return [line('QUIT', [], text)];
        if (direction === 'client')
          return [line('AWAY', [], status === 'away' ? (text ?? 'away') : undefined)];
        const before = this.#seen.get(addressKey(event.from))?.status;
        this.#seen.set(addressKey(event.from), { ...event, status });
        if (status === 'away') return [line('AWAY', [], text ?? 'away')];
        const numeric = message(status === 'online' ? '730' : '731', [target], prefix, this.server);
        // Back from away: away-notify's AWAY without a message first.
        return before === 'away' && status === 'online' ? [line('AWAY', []), numeric] : [numeric];
      }
      case 'buddy-request': {
        const note = splitUtf8(oneLine(event.message ?? ''), 200)[0];
        if (direction === 'client')
          return [line('PRIVMSG', [target], `\x01BUDDY${note ? ` ${note}` : ''}\x01`)];
        return [line('NOTICE', [target], `${ASKS(this.nick(event.from))}${note ? `: ${note}` : ''}`)];
      }
      case 'buddy-response':
        if (direction === 'client')
          return [line('PRIVMSG', [target], `\x01${event.accepted ? 'ACCEPT' : 'REFUSE'}\x01`)];
        return [line('NOTICE', [target], `${event.accepted ? 'accepted' : 'refused'} your buddy request`)];
      default:
        throw new UnsupportedEventError(PROTOCOL, event.kind);
    }
  }
}
