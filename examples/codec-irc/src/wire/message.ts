import {
  type Direction,
  type Framer,
  type FramerOptions,
  fromLatin1,
  LineFramer,
  latin1,
} from '@crosstalk/core';

export const PROTOCOL = 'irc';
/**
 * RFC 2812 §2.3: a message is at most 512 bytes, CR LF included. IRCv3 message tags may add
 * 8191 bytes before it (ircv3.net/specs/extensions/message-tags), so that is the frame cap.
 */
export const MAX_MESSAGE = 512;
export const MAX_LINE = 8191 + MAX_MESSAGE;

/** One line: `[@tags] [:prefix] command params* [:trailing]`, or bytes we relay without reading. */
export type IrcFrame =
  | {
      type: 'message';
      tags?: string;
      prefix?: string;
      command: string;
      params: string[];
      /** The last parameter, written after ` :` (it may hold spaces). */
      trailing?: string;
      /** RFC 2812 says CR LF; servers and clients also send a bare LF. */
      eol: '\r\n' | '\n';
      /** Not UTF-8: read as Latin-1, as IRC clients fall back to (so it re-encodes byte for byte). */
      latin1?: true;
    }
  | { type: 'raw'; bytes: Uint8Array };

export type IrcMessage = Extract<IrcFrame, { type: 'message' }>;

/** A message as we write it: CR LF, as RFC 2812 §2.3 says. */
export function message(command: string, params: string[], trailing?: string, prefix?: string): IrcMessage {
  return { type: 'message', prefix, command, params, trailing, eol: '\r\n' };
}

const enc = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** RFC 2812 §2.3.1 (one space between parts) and IRCv3 tags; anything else is relayed as bytes. */
const MESSAGE = /^(?:@(\S+) )?(?::(\S+) )?([A-Za-z]+|[0-9]{3})((?: [^: ][^ ]*)*)(?: :(.*))?$/s;

export function encodeFrame(f: IrcFrame): Uint8Array {
  if (f.type === 'raw') return f.bytes.slice();
  const head = [f.tags === undefined ? '' : `@${f.tags} `, f.prefix === undefined ? '' : `:${f.prefix} `];
  const line = `${head.join('')}${[f.command, ...f.params].join(' ')}${f.trailing === undefined ? '' : ` :${f.trailing}`}${f.eol}`;
  return f.latin1 ? fromLatin1(line) : enc.encode(line);
}

/** Whole lines only (the framer's), so a character split across TCP chunks is never decoded half. */
export function decodeFrame(raw: Uint8Array): IrcFrame {
  let line: string;
  let isLatin1: true | undefined;
  try {
    line = utf8.decode(raw);
  } catch {
    line = latin1(raw);
    isLatin1 = true;
  }
  const eol = line.endsWith('\r\n') ? '\r\n' : '\n';
  const m = line.endsWith('\n') ? MESSAGE.exec(line.slice(0, -eol.length)) : null;
  if (!m) return { type: 'raw', bytes: raw.slice() };
  const [, tags, prefix, command, params, trailing] = m;
  return {
    type: 'message',
    tags,
    prefix,
    command: command!,
    params: params!.split(' ').slice(1),
    trailing,
    eol,
    latin1: isLatin1,
  };
}

/** Lines end at LF (a CR before it stays in the line), capped before anything is buffered. */
export function createFramer(_direction: Direction, options: FramerOptions = {}): Framer {
  return new LineFramer({ protocol: PROTOCOL, terminator: '\n', defaultMaxFrameSize: MAX_LINE, ...options });
}

/** What a message's parameters say, trailing included. */
export const argsOf = (m: IrcMessage) => (m.trailing === undefined ? m.params : [...m.params, m.trailing]);

/** The nick in a `nick!user@host` prefix. */
export const nickOf = (prefix: string | undefined) => prefix?.split('!')[0];

// A client opens with one of these (RFC 2812 §3.1, IRCv3 CAP); a server may speak first with a
// NOTICE ("*** Looking up your hostname", `NOTICE AUTH` on older servers).
const CLIENT_OPENERS = ['CAP ', 'PASS ', 'NICK ', 'USER '];
const SERVER_OPENERS = ['NOTICE '];

export function sniff(head: Uint8Array, direction: Direction): 'yes' | 'no' | 'more' {
  let text = latin1(head.subarray(0, 80));
  if (direction === 'server' && text.startsWith(':')) {
    const space = text.indexOf(' ');
    if (space < 0) return /^:[!-~]*$/.test(text) && text.length < 64 ? 'more' : 'no';
    text = text.slice(space + 1);
  }
  let more = false;
  for (const opener of direction === 'client' ? CLIENT_OPENERS : SERVER_OPENERS) {
    if (text.startsWith(opener)) return 'yes';
    if (opener.startsWith(text)) more = true;
  }
  return more ? 'more' : 'no';
}
