import { FixedHeaderFramer, type Framer, type FramerOptions } from '@crosstalk/core';
import { frameLength, HEADER_SIZE, MAX_FRAME_SIZE, PROTOCOL } from '../header/header.js';

/**
 * Splits a YMSG byte stream into frames: a 20-byte header whose u16 at offset 8 is the payload
 * length (libpurple yahoo_pending). Core's `FixedHeaderFramer` with the YMSG header: any version
 * bytes are accepted (Escargot writes `0a 00` or `00 00`); only the "YMSG" magic is checked. The
 * length is checked against the caps before anything is allocated; a frame split across chunks is
 * allocated once at its full size; frames inside one chunk are zero-copy views of it; header-only
 * frames (VERIFY, LOGOFF) are complete as soon as their header is. Terminal after an error.
 */
export class YmsgFramer extends FixedHeaderFramer {
  constructor(options: FramerOptions = {}) {
    super({
      ...options,
      protocol: PROTOCOL,
      headerSize: HEADER_SIZE,
      frameLength,
      defaultMaxFrameSize: MAX_FRAME_SIZE,
    });
  }
}

/** A framer for a YMSG stream (a 20-byte header whose u16 states the payload length). */
export function createYmsgFramer(options: FramerOptions = {}): Framer {
  return new YmsgFramer(options);
}
