import { isCrossTalkError, MalformedFrameError } from '@crosstalk/core';
import { Parser } from 'binary-parser';
import { PROTOCOL } from '../wire/byte-reader.js';

/**
 * The FLAP and SNAC headers as a declarative binary-parser definition, compiled once. The hot
 * path (`decodeFlap`) reads the same fields by hand because this parser measured below the
 * 1,000,000 frames/s target (see README "Why a hand-written reader on the hot path" and
 * docs/benchmarks.md); tests use it as an independent reading of every header we encode.
 */
export interface FlapSnacHeader {
  marker: number;
  channel: number;
  seq: number;
  length: number;
  snac?: { family: number; subtype: number; flags: number; requestId: number };
}

const snacHeader = new Parser()
  .endianness('big')
  .uint16('family')
  .uint16('subtype')
  .uint16('flags')
  .uint32('requestId');

const flapHeader = new Parser()
  .endianness('big')
  .uint8('marker')
  .uint8('channel')
  .uint16('seq')
  .uint16('length')
  .choice('snac', {
    tag: function (this: { channel: number; length: number }) {
      return this.channel === 2 && this.length >= 10 ? 1 : 0;
    },
    choices: { 0: new Parser(), 1: snacHeader },
  });

/** Reads a frame's FLAP header, and its SNAC header when it carries one. */
export function parseFlapHeader(raw: Uint8Array): FlapSnacHeader {
  try {
    const h = flapHeader.parse(raw) as FlapSnacHeader & { snac: FlapSnacHeader['snac'] | object };
    const out: FlapSnacHeader = { marker: h.marker, channel: h.channel, seq: h.seq, length: h.length };
    if (h.snac && 'family' in h.snac) out.snac = h.snac;
    return out;
  } catch (cause) {
    if (isCrossTalkError(cause)) throw cause;
    throw new MalformedFrameError(PROTOCOL, `FLAP header: ${String(cause)}`, { cause });
  }
}
