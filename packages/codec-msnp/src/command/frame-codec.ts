import {
  bytesToJson,
  type Direction,
  type FrameCodec,
  fromHex,
  MalformedFrameError,
  toHex,
} from '@crosstalk/core';
import type { MsnpErrorReply, MsnpFrame } from './command.js';
import { PROTOCOL } from './framer.js';
import { hasTrid, isTridSpelling, payloadRule } from './verbs.js';

const LF = 0x0a;
const CR = 0x0d;
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

const SPACE = 0x20;

/**
 * The arguments of a command line (after the verb and its space), or undefined when the line is
 * not one we can re-spell byte for byte (control characters, invalid UTF-8). ASCII lines, nearly
 * all of them, are cut into strings as they are scanned; others go through one fatal UTF-8 decode.
 */
function lineArgs(raw: Uint8Array, end: number): string[] | undefined {
  if (end <= 3) return [];
  const args: string[] = [];
  let token = '';
  for (let i = 4; i < end; i++) {
    const b = raw[i]!;
    if (b === SPACE) {
      args.push(token);
      token = '';
    } else if (b < 0x20 || b === 0x7f) {
      return undefined;
    } else if (b >= 0x80) {
      return utf8Args(raw, end);
    } else {
      token += String.fromCharCode(b);
    }
  }
  args.push(token);
  return args;
}

function utf8Args(raw: Uint8Array, end: number): string[] | undefined {
  for (let i = 4; i < end; i++) {
    const b = raw[i]!;
    if (b < 0x20 || b === 0x7f) return undefined;
  }
  try {
    // Escargot writes friendly names as raw UTF-8 (msnp.py `MSNPWriter` only escapes spaces).
    return utf8Fatal.decode(raw.subarray(4, end)).split(' ');
  } catch {
    return undefined;
  }
}

function isVerbByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39));
}

function rawFrame(raw: Uint8Array): MsnpFrame {
  return { type: 'raw', bytes: raw.slice() };
}

/**
 * Decodes one frame as the framer cut it. Lines with a verb of three upper-case letters or digits
 * are commands (or error replies when numeric); anything else is kept as raw bytes, so every frame
 * re-encodes byte for byte. A payload is a view of `raw`, not a copy: keep `raw` unchanged while
 * the frame is in use (the framer's output and Node's socket chunks are never reused).
 */
export function decodeFrame(raw: Uint8Array, direction: Direction): MsnpFrame {
  const lf = raw.indexOf(LF);
  if (lf < 0) return rawFrame(raw);
  const crlf = lf > 0 && raw[lf - 1] === CR;
  const end = crlf ? lf - 1 : lf;
  if (
    end < 3 ||
    (end > 3 && raw[3] !== SPACE) ||
    !isVerbByte(raw[0]) ||
    !isVerbByte(raw[1]) ||
    !isVerbByte(raw[2])
  ) {
    return rawFrame(raw);
  }
  const args = lineArgs(raw, end);
  if (args === undefined) return rawFrame(raw);
  const verb = String.fromCharCode(raw[0]!, raw[1]!, raw[2]!);
  const rest = raw.length - (lf + 1);
  const numeric = raw[0]! <= 0x39 && raw[1]! <= 0x39 && raw[2]! <= 0x39;
  if (numeric) {
    if (rest !== 0) return rawFrame(raw);
    const error: { type: 'error'; code: number; trid?: number; args: string[]; lf?: true } = {
      type: 'error',
      code: Number(verb),
      args,
    };
    if (isTridSpelling(args[0])) error.trid = Number(args.shift());
    if (!crlf) error.lf = true;
    return error;
  }
  let payload: Uint8Array | undefined;
  const rule = payloadRule(verb, direction);
  if (rule !== 'none') {
    const last = args[args.length - 1];
    const carries = rule === 'always' || (last !== undefined && /^[0-9]+$/.test(last));
    if (carries) {
      // The length must be spelled canonically and match, or the frame would not re-encode exactly.
      if (last === undefined || String(rest) !== last) return rawFrame(raw);
      payload = raw.subarray(lf + 1);
      args.pop();
    }
  }
  if (payload === undefined && rest !== 0) return rawFrame(raw);
  // One object literal per shape, so V8 keeps a few stable hidden classes on this hot path.
  const trid = hasTrid(verb, direction, args) ? Number(args.shift()) : undefined;
  if (crlf) {
    if (trid === undefined) {
      return payload === undefined
        ? { type: 'command', verb, args }
        : { type: 'command', verb, args, payload };
    }
    return payload === undefined
      ? { type: 'command', verb, trid, args }
      : { type: 'command', verb, trid, args, payload };
  }
  const frame: {
    type: 'command';
    verb: string;
    trid?: number;
    args: string[];
    payload?: Uint8Array;
    lf: true;
  } = {
    type: 'command',
    verb,
    args,
    lf: true,
  };
  if (trid !== undefined) frame.trid = trid;
  if (payload !== undefined) frame.payload = payload;
  return frame;
}

/** Spells a frame back into bytes, in one allocation. */
export function encodeFrame(frame: MsnpFrame): Uint8Array {
  if (frame.type === 'raw') return frame.bytes;
  let line = frame.type === 'error' ? String(frame.code).padStart(3, '0') : frame.verb;
  if (frame.trid !== undefined) line += ` ${frame.trid}`;
  for (const a of frame.args) line += ` ${a}`;
  const payload = frame.type === 'command' ? frame.payload : undefined;
  if (payload !== undefined) line += ` ${payload.length}`;
  line += frame.lf ? '\n' : '\r\n';
  const size = payload === undefined ? 0 : payload.length;
  let out = new Uint8Array(line.length + size);
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c >= 0x80) {
      // Non-ASCII arguments (Escargot writes UTF-8 friendly names): the line goes out as UTF-8.
      const head = utf8Encoder.encode(line);
      out = new Uint8Array(head.length + size);
      out.set(head, 0);
      break;
    }
    out[i] = c;
  }
  if (payload !== undefined && size > 0) out.set(payload, out.length - size);
  return out;
}

// ------------------------------------------------------------------ JSON

/**
 * The JSON form: commands as `{ verb, trid, args, payload }`; a payload that is valid UTF-8 is
 * written as `payloadText` so `crosstalk decode` output stays readable, any other as `{ "$hex" }`.
 */
export function frameToJson(frame: MsnpFrame): unknown {
  if (frame.type === 'command' && frame.payload !== undefined) {
    const { payload, ...rest } = frame;
    try {
      return { ...rest, payloadText: utf8Fatal.decode(payload) };
    } catch {
      return { ...rest, payload: { $hex: toHex(payload) } };
    }
  }
  return bytesToJson(frame);
}

/** Reads a frame back from its JSON form; throws `MalformedFrameError` for anything else. */
export function frameFromJson(json: unknown): MsnpFrame {
  const bad = (why: string) => new MalformedFrameError(PROTOCOL, `not an MSNP frame in JSON: ${why}`);
  if (typeof json !== 'object' || json === null) throw bad('expected an object');
  const o = json as Record<string, unknown>;
  const lf = o.lf === true ? { lf: true as const } : {};
  const stringArgs = (value: unknown): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((a) => typeof a !== 'string' || /[\s]/.test(a))) {
      throw bad('args must be strings without whitespace');
    }
    return value as string[];
  };
  const trid = (value: unknown): { trid?: number } => {
    if (value === undefined) return {};
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffff_ffff) {
      throw bad('trid must be a 32-bit unsigned integer');
    }
    return { trid: value as number };
  };
  switch (o.type) {
    case 'raw': {
      const hex = (o.bytes as { $hex?: unknown } | undefined)?.$hex;
      if (typeof hex !== 'string') throw bad('raw needs bytes.$hex');
      return { type: 'raw', bytes: fromHexChecked(hex, bad) };
    }
    case 'error': {
      if (!Number.isInteger(o.code) || (o.code as number) < 0 || (o.code as number) > 999) {
        throw bad('error code must be 0..999');
      }
      const frame: MsnpErrorReply = {
        type: 'error',
        code: o.code as number,
        ...trid(o.trid),
        args: stringArgs(o.args),
        ...lf,
      };
      return frame;
    }
    case 'command': {
      if (typeof o.verb !== 'string' || !/^[A-Z0-9]{3}$/.test(o.verb))
        throw bad('verb must be 3 upper-case letters or digits');
      let payload: Uint8Array | undefined;
      if (typeof o.payloadText === 'string') payload = utf8Encoder.encode(o.payloadText);
      else if (o.payload !== undefined) {
        const hex = (o.payload as { $hex?: unknown }).$hex;
        if (typeof hex !== 'string') throw bad('payload needs $hex');
        payload = fromHexChecked(hex, bad);
      }
      const base = { type: 'command' as const, verb: o.verb, ...trid(o.trid), args: stringArgs(o.args) };
      return payload === undefined ? { ...base, ...lf } : { ...base, payload, ...lf };
    }
    default:
      throw bad('type must be command, error or raw');
  }
}

function fromHexChecked(hex: string, bad: (why: string) => Error): Uint8Array {
  try {
    return fromHex(hex);
  } catch {
    throw bad('invalid hex');
  }
}

/** The frame codec the `msnp()` codec exposes (and the CLI drives). */
export const msnpFrames: FrameCodec<MsnpFrame> = {
  decode: decodeFrame,
  encode: encodeFrame,
  toJson: frameToJson,
  fromJson: frameFromJson,
};
