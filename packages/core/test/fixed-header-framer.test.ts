import { describe, expect, it } from 'vitest';
import { FixedHeaderFramer, isCrossTalkError } from '../src/index.js';

/** A framer with a 20-byte header whose u16 at offset 8 is the payload length (the YMSG layout). */
function framer(options: { maxFrameSize?: number; maxBuffered?: number }) {
  return new FixedHeaderFramer({
    protocol: 'test',
    headerSize: 20,
    frameLength: (bytes, at) => 20 + ((bytes[at + 8]! << 8) | bytes[at + 9]!),
    defaultMaxFrameSize: 0xffff + 20,
    ...options,
  });
}

describe('FixedHeaderFramer caps', () => {
  // Found by `npm run fuzz` (ymsg, framer drive): a cap below the header size let the framer hold
  // a partial header beyond it.
  it('never holds more than maxBuffered, even of a header (cap below the header size)', () => {
    const f = framer({ maxFrameSize: 4096, maxBuffered: 8 });
    let error: unknown;
    try {
      f.push(new Uint8Array(13));
    } catch (e) {
      error = e;
    }
    expect(f.buffered).toBeLessThanOrEqual(8);
    expect(isCrossTalkError(error, 'ERR_BUFFER_OVERFLOW')).toBe(true);
    expect(() => f.push(Uint8Array.of(1))).toThrow(/13 bytes buffered/);
  });

  it('counts a maxFrameSize below the header size as the buffer cap too', () => {
    const f = framer({ maxFrameSize: 16 });
    expect(() => f.push(new Uint8Array(17))).toThrow(
      expect.objectContaining({ code: 'ERR_BUFFER_OVERFLOW' }),
    );
    expect(f.buffered).toBe(0);
  });

  it('holds a partial header that fits the cap', () => {
    const f = framer({ maxBuffered: 64 });
    expect(f.push(new Uint8Array(13))).toEqual([]);
    expect(f.buffered).toBe(13);
  });
});
