import {
  type Direction,
  type FramerOptions,
  FrameTooLargeError,
  LineFramer,
  MalformedFrameError,
} from '@crosstalk/core';
import { payloadRule } from './verbs.js';

/** The protocol id of this codec. */
export const PROTOCOL = 'msnp';

/** Options of the MSNP command framer. */
export interface CommandFramerOptions extends FramerOptions {
  /** Longest command line, CRLF included, checked while the line is still incomplete. Default 4096. */
  maxLineLength?: number;
}

/**
 * The largest frame by default: a line plus a payload. MSN clients cap an SB message at 1664 bytes
 * and MSNP13+ ADL bodies at 7500 (MSNP wiki, MSG and ADL); 64 KiB leaves room for GCF documents.
 */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;
/** Longest MSNP command line accepted unless configured, CRLF included. */
export const DEFAULT_MAX_LINE_LENGTH = 4096;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
/** Nine digits: a payload length beyond that is over every cap we allow. */
const MAX_LENGTH_DIGITS = 9;

/**
 * Splits an MSNP byte stream into commands: a line up to LF (Escargot and the official servers
 * send CRLF; a bare LF is accepted as the end of a line), plus `length` payload bytes for the
 * payload commands of this direction (`verbs.ts`). Core's `LineFramer` does the framing (any
 * chunking, lossless, caps checked before buffering, terminal after an error); this adds the
 * payload rule.
 */
export class CommandFramer extends LineFramer {
  constructor(direction: Direction, options: CommandFramerOptions = {}) {
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    super({
      protocol: PROTOCOL,
      terminator: '\n',
      defaultMaxFrameSize: DEFAULT_MAX_FRAME_SIZE,
      maxFrameSize,
      ...(options.maxBuffered !== undefined ? { maxBuffered: options.maxBuffered } : {}),
      maxLineLength: options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH,
      payloadLength: payloadRuleOf(direction, maxFrameSize),
    });
  }
}

type PayloadLength = (bytes: Uint8Array, start: number, end: number) => number;
/** One payload rule per direction and cap, shared by every framer (not a closure per connection). */
const payloadRules = new Map<string, PayloadLength>();
function payloadRuleOf(direction: Direction, maxFrameSize: number): PayloadLength {
  const key = `${direction}:${maxFrameSize}`;
  let rule = payloadRules.get(key);
  if (!rule) {
    rule = (bytes, start, end) => payloadLength(direction, maxFrameSize, bytes, start, end);
    payloadRules.set(key, rule);
  }
  return rule;
}

/**
 * The payload length a complete line announces (0 for a line without payload). The framer checks
 * it against the caps before anything is allocated for it.
 */
function payloadLength(
  direction: Direction,
  maxFrameSize: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  // The verb: the bytes before the first space or line end.
  let verbEnd = start;
  while (verbEnd < end && bytes[verbEnd] !== SPACE && bytes[verbEnd] !== CR && bytes[verbEnd] !== LF)
    verbEnd++;
  if (verbEnd - start !== 3) return 0;
  const verb = String.fromCharCode(bytes[start]!, bytes[start + 1]!, bytes[start + 2]!);
  const rule = payloadRule(verb, direction);
  if (rule === 'none') return 0;
  // The last argument: digits between the last space and the line end.
  let stop = end - 1; // the LF
  if (stop > start && bytes[stop - 1] === CR) stop--;
  let digits = stop;
  while (digits > verbEnd && bytes[digits - 1]! >= 0x30 && bytes[digits - 1]! <= 0x39) digits--;
  const count = stop - digits;
  const numeric = count > 0 && digits > verbEnd && bytes[digits - 1] === SPACE;
  if (!numeric) {
    if (rule === 'numeric') return 0;
    throw new MalformedFrameError(PROTOCOL, `${verb} needs a payload length as its last argument`);
  }
  if (count > MAX_LENGTH_DIGITS)
    throw new FrameTooLargeError(PROTOCOL, Number.POSITIVE_INFINITY, maxFrameSize);
  let length = 0;
  for (let i = digits; i < stop; i++) length = length * 10 + (bytes[i]! - 0x30);
  return length;
}
