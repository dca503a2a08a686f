import { FixedHeaderFramer, type Framer, type FramerOptions, MalformedFrameError } from '@crosstalk/core';
import { PROTOCOL } from '../wire/byte-reader.js';
import { FLAP_HEADER_SIZE, FLAP_MARKER } from './flap-frame.js';

/** A FLAP frame is at most a 6-byte header and a 65,535-byte payload (the length field is u16). */
export const MAX_FLAP_FRAME = FLAP_HEADER_SIZE + 0xffff;

/**
 * Splits a TCP stream into FLAP frames (core's `FixedHeaderFramer`: caps checked before
 * allocation, any chunking, terminal after an error). The header is checked here: marker 0x2A and
 * channel 1..5 (PROTOCOLS.md; retro-aim-server wire/frames.go FLAPFrame*).
 */
export function createFlapFramer(options: FramerOptions = {}): Framer {
  return new FixedHeaderFramer({
    protocol: PROTOCOL,
    headerSize: FLAP_HEADER_SIZE,
    defaultMaxFrameSize: MAX_FLAP_FRAME,
    maxFrameSize: options.maxFrameSize,
    maxBuffered: options.maxBuffered,
    frameLength(bytes, at) {
      if (bytes[at] !== FLAP_MARKER) {
        throw new MalformedFrameError(PROTOCOL, `FLAP marker is 0x${bytes[at]!.toString(16)}, not 0x2a`);
      }
      const channel = bytes[at + 1]!;
      if (channel < 1 || channel > 5)
        throw new MalformedFrameError(PROTOCOL, `FLAP channel ${channel} is not 1..5`);
      return FLAP_HEADER_SIZE + ((bytes[at + 4]! << 8) | bytes[at + 5]!);
    },
  });
}
