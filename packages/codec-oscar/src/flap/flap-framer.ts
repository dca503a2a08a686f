import { FixedHeaderFramer, type Framer, type FramerOptions, MalformedFrameError } from '@crosstalk/core';
import { PROTOCOL } from '../wire/byte-reader.js';
import { FLAP_HEADER_SIZE, FLAP_MARKER } from './flap-frame.js';

/** A FLAP frame is at most a 6-byte header and a 65,535-byte payload (the length field is u16). */
export const MAX_FLAP_FRAME = FLAP_HEADER_SIZE + 0xffff;

/** Whole frame length from a complete FLAP header at `at`; a bad marker or channel is malformed. */
function flapFrameLength(bytes: Uint8Array, at: number): number {
  if (bytes[at] !== FLAP_MARKER) {
    throw new MalformedFrameError(PROTOCOL, `FLAP marker is 0x${bytes[at]!.toString(16)}, not 0x2a`);
  }
  const channel = bytes[at + 1]!;
  if (channel < 1 || channel > 5)
    throw new MalformedFrameError(PROTOCOL, `FLAP channel ${channel} is not 1..5`);
  return FLAP_HEADER_SIZE + ((bytes[at + 4]! << 8) | bytes[at + 5]!);
}

/**
 * Splits a TCP stream into FLAP frames: `0x2A | channel | seq u16 | length u16 | payload`
 * (PROTOCOLS.md; retro-aim-server wire/frames.go). Core's `FixedHeaderFramer` with the FLAP
 * header: marker 0x2A and channel 1..5 checked, the length checked against `maxFrameSize` and
 * `maxBuffered` before anything is allocated, frames inside one chunk returned as zero-copy views,
 * a header-only frame (a keep-alive `2a 05 .. .. 00 00`) delivered as soon as its header is.
 */
export class FlapFramer extends FixedHeaderFramer {
  constructor(options: FramerOptions = {}) {
    super({
      ...options,
      protocol: PROTOCOL,
      headerSize: FLAP_HEADER_SIZE,
      frameLength: flapFrameLength,
      defaultMaxFrameSize: MAX_FLAP_FRAME,
    });
  }
}

/** A framer for a FLAP stream (a 6-byte header whose u16 states the payload length). */
export function createFlapFramer(options: FramerOptions = {}): Framer {
  return new FlapFramer(options);
}
