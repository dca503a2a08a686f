import { describe, expect, it } from 'vitest';
import { UserOfflineError } from '../src/index.js';
import { SeenEnvelopes } from '../src/routing/seen-envelopes.js';

const NOW = 1_000_000;

describe('SeenEnvelopes: an envelope is handled once, a repeat gets the first outcome', () => {
  it('the same origin and id again: not handled again, answered with the protocol, and counted', async () => {
    const seen = new SeenEnvelopes(() => NOW);
    let handled = 0;
    let repeats = 0;
    const handle = async () => {
      handled++;
      return 'xmpp';
    };
    const onRepeat = () => repeats++;
    expect(await seen.once('o', 'e1', NOW + 1000, handle, onRepeat)).toBe('xmpp');
    expect(await seen.once('o', 'e1', NOW + 1000, handle, onRepeat)).toBe('xmpp');
    expect([handled, repeats]).toEqual([1, 1]);
    // A different event from the same origin, or the same id from another origin, is handled.
    await seen.once('o', 'e2', NOW + 1000, handle, onRepeat);
    await seen.once('p', 'e1', NOW + 1000, handle, onRepeat);
    expect([handled, repeats]).toEqual([3, 1]);
  });

  it('a repeat while the first is under way waits for it, and is not handled again', async () => {
    const seen = new SeenEnvelopes(() => NOW);
    let release!: (protocol: string) => void;
    let handled = 0;
    const handle = () => {
      handled++;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    const first = seen.once('o', 'e1', NOW + 1000, handle);
    const again = seen.once('o', 'e1', NOW + 1000, handle);
    release('msnp');
    expect(await Promise.all([first, again])).toEqual(['msnp', 'msnp']);
    expect(handled).toBe(1);
  });

  it('a refusal is given again with its code (a resend hears what the first heard), not handled again', async () => {
    const seen = new SeenEnvelopes(() => NOW);
    let handled = 0;
    const handle = async () => {
      handled++;
      throw new UserOfflineError('bob is not online here');
    };
    await expect(seen.once('o', 'e1', NOW + 1000, handle)).rejects.toMatchObject({
      code: 'ERR_USER_OFFLINE',
    });
    // Settled: its code kept, not the error (a NACK carries only the code).
    await expect(seen.once('o', 'e1', NOW + 1000, handle)).rejects.toMatchObject({
      refusal: 'ERR_USER_OFFLINE',
    });
    expect(handled).toBe(1);
  });

  it('forgets an envelope once its signature is too old anyway, and stays bounded', async () => {
    let now = NOW;
    const seen = new SeenEnvelopes(() => now, 3);
    let handled = 0;
    const handle = async () => {
      handled++;
      return 'p';
    };
    for (const id of ['1', '2', '3', '4']) await seen.once('o', id, NOW + 1000, handle);
    expect(seen.size).toBeLessThanOrEqual(3);
    await seen.once('o', '4', NOW + 1000, handle);
    expect(handled).toBe(4);
    now += 1001;
    await seen.once('o', '4', now + 1000, handle);
    expect(handled).toBe(5);
  });
});
