import { MalformedFrameError } from '@crosstalk/core';
import { Parser } from 'binary-parser';
import { PROTOCOL } from '../wire/byte-reader.js';
import { ByteWriter, checkLength } from '../wire/byte-writer.js';
import { latin1String } from '../wire/bytes.js';

/**
 * ICBM channel 4 (ICQ), TLV 5: UIN u32 LE, message type u8, flags u8, text length u16 LE, text
 * (NUL-terminated) (retro-aim-server wire/snacs.go ICBMCh4Message; libpurple family_icbm.c
 * incomingim_ch4). Little-endian inside a big-endian protocol: a job for a declarative parser.
 */
export interface IcqMessage {
  uin: number;
  /** 1 plain, 6 authorization request, 7 denied, 8 granted, 0x0C you were added (ICBMMsgType*). */
  msgType: number;
  flags: number;
  /** The text as a byte string, without the NUL terminator when `terminated`. */
  text: string;
  terminated: boolean;
  /** Bytes after the text, kept for an exact re-encoding. */
  rest?: Uint8Array;
}

/** ICQ message types carried in an ICBM channel 4 message. */
export const IcqMessageType = {
  plain: 0x01,
  authRequest: 0x06,
  authDenied: 0x07,
  authGranted: 0x08,
  added: 0x0c,
} as const;

// binary-parser is compiled once; it is used here, off the hot path (ICQ channel 4 is rare).
const icqMessageParser = new Parser()
  .endianness('little')
  .uint32('uin')
  .uint8('msgType')
  .uint8('flags')
  .uint16('length')
  .buffer('text', { length: 'length' })
  .buffer('rest', { readUntil: 'eof' });

interface ParsedIcqMessage {
  uin: number;
  msgType: number;
  flags: number;
  length: number;
  text: Uint8Array;
  rest: Uint8Array;
}

export function readIcqMessage(bytes: Uint8Array): IcqMessage {
  if (bytes.length < 8) throw new MalformedFrameError(PROTOCOL, `ICQ message of ${bytes.length} bytes`);
  const p = icqMessageParser.parse(bytes) as ParsedIcqMessage;
  // binary-parser's buffer() silently shortens at the end of input; an overrun is malformed.
  if (p.text.length !== p.length) {
    throw new MalformedFrameError(PROTOCOL, `ICQ message text of ${p.length} bytes overruns the TLV`);
  }
  const terminated = p.length > 0 && p.text[p.length - 1] === 0;
  const body = terminated ? p.text.subarray(0, p.length - 1) : p.text;
  const text = latin1String(body, 0, body.length);
  const m: IcqMessage = { uin: p.uin, msgType: p.msgType, flags: p.flags, text, terminated };
  if (p.rest.length > 0) m.rest = p.rest;
  return m;
}

export function icqMessageSize(m: IcqMessage): number {
  return 8 + m.text.length + (m.terminated ? 1 : 0) + (m.rest?.length ?? 0);
}

export function encodeIcqMessage(m: IcqMessage): Uint8Array {
  const length = m.text.length + (m.terminated ? 1 : 0);
  checkLength(length, 0xffff, 'ICQ message text');
  const w = new ByteWriter(icqMessageSize(m));
  w.u16le(m.uin & 0xffff);
  w.u16le(m.uin >>> 16);
  w.u8(m.msgType);
  w.u8(m.flags);
  w.u16le(length);
  w.byteString(m.text);
  if (m.terminated) w.u8(0);
  if (m.rest) w.raw(m.rest);
  return w.bytes;
}
