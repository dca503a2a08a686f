import { FixedHeaderFramer, type Framer, type FramerOptions } from '@crosstalk/core';
import { frameLength, HEADER_SIZE, MAX_FRAME_SIZE, PROTOCOL } from '../header/header.js';

/**
 * Splits a YMSG byte stream into frames: core's FixedHeaderFramer with YMSG's 20-byte header and
 * the u16 payload length at offset 8 (libpurple yahoo_pending). Any version bytes are accepted
 * (Escargot writes `0a 00` or `00 00`); only the "YMSG" magic is checked. The default cap is the
 * largest frame the u16 length allows.
 */
export function createYmsgFramer(options: FramerOptions = {}): Framer {
  return new FixedHeaderFramer({
    protocol: PROTOCOL,
    headerSize: HEADER_SIZE,
    defaultMaxFrameSize: MAX_FRAME_SIZE,
    ...options,
    frameLength,
  });
}
