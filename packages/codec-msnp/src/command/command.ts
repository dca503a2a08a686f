/**
 * The MSNP frame model. A command line is `VERB [trid] args... [length]\r\n`, and payload commands
 * carry `length` bytes after it (PROTOCOLS.md, MSNP). Arguments are kept exactly as spelled on the
 * wire (URL-encoded), so re-encoding reproduces the original bytes; `argValue` decodes one for use.
 */
export type MsnpFrame = MsnpCommand | MsnpErrorReply | MsnpRawLine;

/** One MSNP command line (`VER`, `USR`, `MSG`, ...), with its payload when the verb carries one. */
export interface MsnpCommand {
  readonly type: 'command';
  /** Three upper-case letters or digits: `MSG`, `USR`, `XFR`. */
  readonly verb: string;
  /** Transaction id, when the verb carries one in the direction it was read (see `verbs.ts`). */
  readonly trid?: number;
  /** The other arguments as spelled on the wire (URL-encoded); a payload command's length excluded. */
  readonly args: readonly string[];
  /** The bytes after the line of a payload command (`MSG`, `UBX`, `QRY`, `UUX`, `NOT`, ...). */
  readonly payload?: Uint8Array;
  /** Set when the line ended with a bare LF instead of CRLF (a few third-party clients do). */
  readonly lf?: true;
}

/** A numeric error reply, `911 4` (Escargot front/msn/misc.py `Err`; MSNP2-12 send no payload with it). */
export interface MsnpErrorReply {
  readonly type: 'error';
  readonly code: number;
  readonly trid?: number;
  /** Anything after the transaction id (rare). */
  readonly args: readonly string[];
  readonly lf?: true;
}

/** A line this codec does not understand (non-UTF-8, control characters, no verb): passed through. */
export interface MsnpRawLine {
  readonly type: 'raw';
  readonly bytes: Uint8Array;
}

/** Builds a command frame; `args` are written as given (encode user text with `encodeArg` first). */
export function command(
  verb: string,
  trid: number | undefined,
  args: readonly string[] = [],
  payload?: Uint8Array,
): MsnpCommand {
  if (trid === undefined)
    return payload === undefined ? { type: 'command', verb, args } : { type: 'command', verb, args, payload };
  return payload === undefined
    ? { type: 'command', verb, trid, args }
    : { type: 'command', verb, trid, args, payload };
}

/** A numeric error reply (`911 7`), with its transaction id when given. */
export function errorReply(code: number, trid?: number): MsnpErrorReply {
  return trid === undefined ? { type: 'error', code, args: [] } : { type: 'error', code, trid, args: [] };
}

/** True when the frame is a command (of `verb`, when given). */
export function isCommand(frame: MsnpFrame, verb?: string): frame is MsnpCommand {
  return frame.type === 'command' && (verb === undefined || frame.verb === verb);
}

// ------------------------------------------------------------------ argument spelling

const HEX = '0123456789ABCDEF';
const utf8Encoder = new TextEncoder();
const utf8Lenient = new TextDecoder('utf-8');

/**
 * Decodes a URL-encoded argument (`Other%20Contacts` -> `Other Contacts`). MSN percent-encodes
 * UTF-8 bytes; a malformed escape is kept literally, as Escargot's `unquote` does (msnp.py).
 */
export function argValue(spelled: string): string {
  if (!spelled.includes('%')) return spelled;
  const bytes: number[] = [];
  let i = 0;
  let out = '';
  const flush = () => {
    if (bytes.length) {
      out += utf8Lenient.decode(Uint8Array.from(bytes));
      bytes.length = 0;
    }
  };
  while (i < spelled.length) {
    const c = spelled.charCodeAt(i);
    if (c === 0x25 && i + 2 < spelled.length && isHex(spelled, i + 1) && isHex(spelled, i + 2)) {
      bytes.push(Number.parseInt(spelled.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    flush();
    out += spelled[i];
    i++;
  }
  flush();
  return out;
}

function isHex(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Spells a value as one argument: space, `%`, control characters and non-ASCII become `%XX` of
 * their UTF-8 bytes, everything else stays (Escargot writes `%20` for spaces, msnp.py `MSNPWriter`).
 */
export function encodeArg(value: string): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x25 || c >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  let out = '';
  for (const byte of utf8Encoder.encode(value)) {
    if (byte <= 0x20 || byte === 0x25 || byte >= 0x7f) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}
