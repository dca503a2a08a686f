import { describe, expect, it } from 'vitest';
import { BoundedIds } from '../src/session/bounded-ids.js';

describe('BoundedIds', () => {
  it('keeps only the newest ids, so a client that never reads an answer cannot grow it', () => {
    const ids = new BoundedIds(3);
    for (let i = 0; i < 10_000; i++) ids.add(`id${i}`);
    expect(ids.size).toBe(3);
    expect(ids.has('id9999')).toBe(true);
    expect(ids.has('id0')).toBe(false);
    ids.add('id9997'); // re-added: newest again
    ids.add('x');
    expect(ids.has('id9997')).toBe(true);
    expect(ids.has('id9998')).toBe(false);
    expect(ids.delete('x')).toBe(true);
  });
});
