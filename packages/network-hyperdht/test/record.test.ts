import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, MAX_RECORD_VALUE_BYTES } from '../src/index.js';
import { MAX_RECORD_BYTES } from '../src/record/record.js';

const base = {
  tombstone: false,
  storedAt: 1_000,
  expiresAt: 2_000,
  publisher: new Uint8Array(32).fill(1),
  certificate: new Uint8Array(64).fill(2),
};

describe('value records', () => {
  it('a slotted record carries its slot tag; an unslotted one is as before', () => {
    const slot = new Uint8Array(8).fill(7);
    const value = new TextEncoder().encode('where');
    expect(decodeRecord(encodeRecord({ ...base, value, slot }))).toEqual({ ...base, value, slot });
    const plain = encodeRecord({ ...base, value });
    expect(plain[1]).toBe(0);
    expect(decodeRecord(plain)).toEqual({ ...base, value });
  });

  it('the largest value fits one record slotted or not; a slotted record cut short is refused', () => {
    const slot = new Uint8Array(8);
    const encoded = encodeRecord({ ...base, value: new Uint8Array(MAX_RECORD_VALUE_BYTES), slot });
    expect(encoded.length).toBe(MAX_RECORD_BYTES);
    expect(() => decodeRecord(encoded.subarray(0, encoded.length - 1))).toThrow(/value bytes/);
    expect(() => encodeRecord({ ...base, value: new Uint8Array(1), slot: new Uint8Array(4) })).toThrow(
      RangeError,
    );
    // A flag no version knows is still refused.
    const unknown = encodeRecord({ ...base, value: new Uint8Array(1) });
    unknown[1] = 0x04;
    expect(() => decodeRecord(unknown)).toThrow(/flags/);
  });
});
