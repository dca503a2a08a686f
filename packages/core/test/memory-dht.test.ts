import { describe, expect, it } from 'vitest';
import { MemoryDht } from '../src/index.js';

describe('MemoryDht', () => {
  it('keeps a copy of its own of a value put as a Node Buffer (a view would pin its pool slab)', async () => {
    const dht = new MemoryDht();
    // A small Buffer is cut from a shared 8 KiB pool slab: `slice()` of it is a view of that slab.
    const value = Buffer.from('gateway record');
    await dht.put('user:alice@aol', value);
    value.fill(0);
    const [stored] = await dht.get('user:alice@aol');
    expect(Buffer.from(stored!).toString()).toBe('gateway record');
    await dht.close();
  });
});
