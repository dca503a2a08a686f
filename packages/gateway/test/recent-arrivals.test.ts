import { type CanonicalEvent, parseAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { RECENT_ARRIVAL_MS, RecentArrivals } from '../src/node/routing/recent-arrivals.js';

describe('RecentArrivals', () => {
  const im = (id: string, sentAt = 1): CanonicalEvent => ({
    kind: 'im',
    id,
    from: parseAddress('alice@aol'),
    to: parseAddress('bob@yahoo'),
    text: 'hi',
    sentAt,
  });

  it('a copy gets the first delivery’s outcome, waiting for it when it is under way', async () => {
    const recent = new RecentArrivals(() => 0);
    let deliveries = 0;
    let finish!: (protocol: string) => void;
    const first = recent.once(im('a'), () => {
      deliveries++;
      return new Promise<string>((r) => {
        finish = r;
      });
    });
    const copy = recent.once(im('a'), async () => {
      deliveries++;
      return 'never';
    });
    finish('xmpp');
    expect(await first).toBe('xmpp');
    expect(await copy).toBe('xmpp');
    expect(deliveries).toBe(1);
  });

  it('a delivery that failed is forgotten: the next copy is delivered', async () => {
    const recent = new RecentArrivals(() => 0);
    await expect(recent.once(im('b'), async () => Promise.reject(new Error('offline')))).rejects.toThrow(
      'offline',
    );
    expect(await recent.once(im('b'), async () => 'ymsg')).toBe('ymsg');
  });

  it('remembers an IM at least RECENT_ARRIVAL_MS and at most twice that; other kinds not at all', async () => {
    let now = 0;
    const recent = new RecentArrivals(() => now);
    let deliveries = 0;
    const deliver = async () => {
      deliveries++;
      return 'oscar';
    };
    await recent.once(im('c'), deliver);
    now = RECENT_ARRIVAL_MS + 1;
    await recent.once(im('c'), deliver);
    expect(deliveries).toBe(1);
    now = 2 * RECENT_ARRIVAL_MS;
    await recent.once(im('c'), deliver);
    expect(deliveries).toBe(1);
    // The second turn-over after it arrived forgets it.
    now = 2 * RECENT_ARRIVAL_MS + 1;
    await recent.once(im('c'), deliver);
    expect(deliveries).toBe(2);
    const typing: CanonicalEvent = {
      kind: 'typing',
      from: parseAddress('alice@aol'),
      to: parseAddress('bob@yahoo'),
      state: 'composing',
    } as CanonicalEvent;
    await recent.once(typing, deliver);
    await recent.once(typing, deliver);
    expect(deliveries).toBe(4);
    expect(recent.size).toBe(1);
  });

  it('a generation full of IMs (a flood) is turned over early: at most twice the bound are held', async () => {
    const recent = new RecentArrivals(() => 0, undefined, 100);
    for (let i = 0; i < 1000; i++) await recent.once(im(`flood-${i}`), async () => 'oscar');
    expect(recent.size).toBeLessThanOrEqual(200);
    // The latest are still known as copies.
    let again = 0;
    await recent.once(im('flood-999'), async () => {
      again++;
      return 'oscar';
    });
    expect(again).toBe(0);
  });
});
