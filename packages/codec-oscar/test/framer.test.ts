import { isCrossTalkError } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { createFlapFramer, MAX_FLAP_FRAME } from '../src/index.js';

const keepAlive = Uint8Array.of(0x2a, 0x05, 0x00, 0x60, 0x00, 0x00);
const snac = Uint8Array.of(0x2a, 0x02, 0x00, 0x61, 0x00, 0x0a, 0, 1, 0, 2, 0, 0, 0, 0, 0, 9);

describe('FLAP framer', () => {
  it('a zero-length frame (a keep-alive) whose header ends a chunk is delivered at once', () => {
    for (let cut = 1; cut < 6; cut++) {
      const f = createFlapFramer();
      expect(f.push(keepAlive.subarray(0, cut))).toEqual([]);
      expect(f.push(keepAlive.subarray(cut)).map((x) => [...x])).toEqual([[...keepAlive]]);
      expect(f.buffered).toBe(0);
      f.end();
    }
  });

  it('checks the length against the cap before allocating and says so with a typed error', () => {
    const f = createFlapFramer({ maxFrameSize: 64 });
    let error: unknown;
    try {
      f.push(Uint8Array.of(0x2a, 0x02, 0, 1, 0xff, 0xff));
    } catch (e) {
      error = e;
    }
    expect(isCrossTalkError(error, 'ERR_FRAME_TOO_LARGE')).toBe(true);
    expect(f.buffered).toBe(0);
    expect(() => f.push(snac)).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
    expect(MAX_FLAP_FRAME).toBe(65541);
  });

  it('returns good frames before a bad marker or channel, then is terminal', () => {
    for (const bad of [
      Uint8Array.of(0x2b, 2, 0, 0, 0, 0),
      Uint8Array.of(0x2a, 0, 0, 0, 0, 0),
      Uint8Array.of(0x2a, 6, 0, 0, 0, 0),
    ]) {
      const f = createFlapFramer();
      const frames = f.push(Uint8Array.from([...snac, ...bad]));
      expect(frames).toHaveLength(1);
      expect(isCrossTalkError(f.error, 'ERR_MALFORMED_FRAME')).toBe(true);
      expect(() => f.push(keepAlive)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
    }
  });

  it('end() inside a frame is a truncated stream; push after end is refused', () => {
    const f = createFlapFramer();
    f.push(snac.subarray(0, 9));
    expect(() => f.end()).toThrow(expect.objectContaining({ code: 'ERR_TRUNCATED_STREAM' }));
    const g = createFlapFramer();
    g.end();
    expect(() => g.push(snac)).toThrow(expect.objectContaining({ code: 'ERR_STREAM_CLOSED' }));
  });

  it('maxBuffered below the frame size refuses the frame as a buffer overflow', () => {
    const f = createFlapFramer({ maxFrameSize: 1000, maxBuffered: 10 });
    expect(() => f.push(snac)).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_OVERFLOW' }));
  });
});
