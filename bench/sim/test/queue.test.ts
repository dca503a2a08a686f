import { describe, expect, it } from 'vitest';
import { EventQueue } from '../queue.js';

describe('EventQueue', () => {
  it('runs events in time order, ties in the order they were scheduled', async () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(30, () => seen.push('c'));
    q.at(10, () => seen.push('a1'));
    q.at(20, () => seen.push('b'));
    q.at(10, () => seen.push('a2'));
    expect(await q.run()).toBe(4);
    expect(seen).toEqual(['a1', 'a2', 'b', 'c']);
    expect(q.now).toBe(30);
  });

  it('keeps whole milliseconds and never schedules in the past', async () => {
    const q = new EventQueue();
    const times: number[] = [];
    q.at(10.2, () => {
      times.push(q.now);
      q.at(5, () => times.push(q.now));
      q.after(0.5, () => times.push(q.now));
    });
    await q.run();
    expect(times).toEqual([11, 11, 12]);
  });

  it('awaits each handler before the next event, and stops at `until`', async () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(1, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push('slow');
    });
    q.at(1, () => seen.push('next'));
    q.at(100, () => seen.push('late'));
    expect(await q.run(50)).toBe(2);
    expect(seen).toEqual(['slow', 'next']);
    expect(q.now).toBe(50);
    expect(q.size).toBe(1);
  });

  it('orders many random events like a sort does', async () => {
    const q = new EventQueue();
    const at = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    const seen: number[] = [];
    for (const t of at) q.at(t, () => seen.push(q.now));
    await q.run();
    expect(seen).toEqual([...at].sort((a, b) => a - b));
  });
});
