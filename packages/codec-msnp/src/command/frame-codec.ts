import {
  bytesToJson,
  type Direction,
  type FrameCodec,
  fromHex,
  MalformedFrameError,
  toHex,
} from '@crosstalk/core';
import type { MsnpCommand, MsnpErrorReply, MsnpFrame } from './command.js';
import { PROTOCOL } from './framer.js';
import { hasTrid, isTridSpelling, payloadRule } from './verbs.js';

const LF = 0x0a;
const CR = 0x0d;
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** A command line's text, or undefined when it is not one we can re-spell byte for byte. */
function lineText(raw: Uint8Array, end: number): string | undefined {
  let ascii = true;
  for (let i = 0; i < end; i++) {
    const b = raw[i]!;
    // Control characters inside a line (tabs, stray CRs, NULs) make it a raw line.
    if (b < 0x20 || b === 0x7f) return undefined;
    if (b >= 0x80) ascii = false;
  }
  if (ascii) {
    let s = '';
    for (let i = 0; i < end; i++) s += String.fromCharCode(raw[i]!);
    return s;
  }
  try {
    return utf8Fatal.decode(raw.subarray(0, end));
  } catch {
    return undefined;
  }
}

/**
 * Decodes one frame as the framer cut it. Lines with a verb of three upper-case letters or digits
 * are commands (or error replies when numeric); anything else is kept as raw bytes, so every frame
 * re-encodes byte for byte.
 */
export function decodeFrame(raw: Uint8Array, direction: Direction): MsnpFrame {
  const lf = raw.indexOf(LF);
  if (lf < 0) return { type: 'raw', bytes: raw.slice() };
  const crlf = lf > 0 && raw[lf - 1] === CR;
  const text = lineText(raw, crlf ? lf - 1 : lf);
  if (text === undefined) return { type: 'raw', bytes: raw.slice() };
  const tokens = text.split(' ');
  const verb = tokens[0]!;
  if (!/^[A-Z0-9]{3}$/.test(verb)) return { type: 'raw', bytes: raw.slice() };
  const rest = raw.length - (lf + 1);
  const lfOnly = crlf ? {} : { lf: true as const };
  if (verb.charCodeAt(0) <= 0x39 && /^[0-9]{3}$/.test(verb)) {
    if (rest !== 0) return { type: 'raw', bytes: raw.slice() };
    const args = tokens.slice(1);
    const code = Number(verb);
    if (isTridSpelling(args[0]))
      return { type: 'error', code, trid: Number(args[0]), args: args.slice(1), ...lfOnly };
    return { type: 'error', code, args, ...lfOnly };
  }
  let args = tokens.slice(1);
  let payload: Uint8Array | undefined;
  const rule = payloadRule(verb, direction);
  const last = args[args.length - 1];
  if (rule === 'always' || (rule === 'numeric' && last !== undefined && /^[0-9]+$/.test(last))) {
    // The length must be spelled canonically and match, or the frame would not re-encode exactly.
    if (last === undefined || String(rest) !== last) return { type: 'raw', bytes: raw.slice() };
    payload = raw.slice(lf + 1);
    args = args.slice(0, -1);
  } else if (rest !== 0) {
    return { type: 'raw', bytes: raw.slice() };
  }
  const base = hasTrid(verb, direction, args)
    ? { type: 'command' as const, verb, trid: Number(args[0]), args: args.slice(1) }
    : { type: 'command' as const, verb, args };
  const frame: MsnpCommand = payload === undefined ? { ...base, ...lfOnly } : { ...base, payload, ...lfOnly };
  return frame;
}

/** Spells a frame back into bytes. */
export function encodeFrame(frame: MsnpFrame): Uint8Array {
  if (frame.type === 'raw') return frame.bytes;
  let line = frame.type === 'error' ? String(frame.code).padStart(3, '0') : frame.verb;
  if (frame.trid !== undefined) line += ` ${frame.trid}`;
  for (const a of frame.args) line += ` ${a}`;
  const payload = frame.type === 'command' ? frame.payload : undefined;
  if (payload !== undefined) line += ` ${payload.length}`;
  line += frame.lf ? '\n' : '\r\n';
  const head = asciiBytes(line);
  if (payload === undefined || payload.length === 0) return head;
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

function asciiBytes(line: string): Uint8Array {
  const out = new Uint8Array(line.length);
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c >= 0x80) return utf8Encoder.encode(line);
    out[i] = c;
  }
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
