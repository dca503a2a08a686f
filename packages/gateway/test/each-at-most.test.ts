import { describe, expect, it } from 'vitest';
import { eachAtMost } from '../src/serial/each-at-most.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('eachAtMost', () => {
  it('starts the items in order, never more than the limit at once', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    await eachAtMost([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      started.push(n);
      most = Math.max(most, ++running);
      await tick(5 + (n % 3));
      running--;
    });
    expect(started).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('runs every item though one fails, then rejects with the first failure', async () => {
    const done: number[] = [];
    const outcome = await eachAtMost([1, 2, 3, 4], 2, async (n) => {
      await tick(1);
      if (n === 2) throw new Error('two');
      if (n === 3) throw new Error('three');
      done.push(n);
    }).catch((e: Error) => e.message);
    expect(outcome).toBe('two');
    expect(done.sort()).toEqual([1, 4]);
  });

  it('with no items resolves at once', async () => {
    await expect(eachAtMost([], 4, async () => {})).resolves.toBeUndefined();
  });
});
