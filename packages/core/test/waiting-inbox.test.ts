import { afterEach, describe, expect, it, vi } from 'vitest';
import { isCrossTalkError, WaitingInbox, WaitTimeoutError } from '../src/index.js';

/** What a promise settled with, without awaiting past the current turn. */
async function settled<T>(p: Promise<T>): Promise<{ value?: T; error?: unknown } | 'pending'> {
  let out: { value?: T; error?: unknown } | 'pending' = 'pending';
  p.then(
    (value) => {
      out = { value };
    },
    (error) => {
      out = { error };
    },
  );
  await Promise.resolve();
  await Promise.resolve();
  return out;
}

describe('WaitingInbox', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a match kept before the wait: the oldest that matches, at once; waitFor leaves it, take removes it', async () => {
    const inbox = new WaitingInbox<number>();
    for (const n of [1, 2, 3, 4]) inbox.push(n);
    expect(await inbox.waitFor((n) => n % 2 === 0)).toBe(2);
    expect(inbox.items).toEqual([1, 2, 3, 4]);
    expect(await inbox.take((n) => n % 2 === 0)).toBe(2);
    expect(await inbox.take((n) => n % 2 === 0)).toBe(4);
    expect(inbox.items).toEqual([1, 3]);
    expect(inbox.waiting).toBe(0);
  });

  it('a match that arrives later: the wait resolves with the first matching arrival', async () => {
    const inbox = new WaitingInbox<string>();
    inbox.push('noise');
    const peeked = inbox.waitFor((s) => s.startsWith('b'));
    const taken = inbox.take((s) => s.startsWith('b'));
    const second = inbox.take((s) => s.startsWith('b'));
    expect(await settled(peeked)).toBe('pending');
    inbox.push('also noise');
    inbox.push('bye');
    expect(await peeked).toBe('bye');
    // The oldest take gets it, and a taken item is not kept; the next take waits for the next one.
    expect(await taken).toBe('bye');
    expect(await settled(second)).toBe('pending');
    inbox.push('bye again');
    expect(await second).toBe('bye again');
    expect(inbox.items).toEqual(['noise', 'also noise']);
    expect(inbox.waiting).toBe(0);
  });

  it('nothing matching in time: a WaitTimeoutError naming the waiter, what it waited for, and the deadline', async () => {
    vi.useFakeTimers();
    const inbox = new WaitingInbox<string>({
      name: 'bob@localhost',
      describe: (items) => `got ${items.join()}`,
    });
    inbox.push('a');
    const wait = inbox.take((s) => s === 'z', { timeoutMs: 500, what: 'a z' });
    const caught = wait.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(499);
    expect(await settled(wait)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    const error = await caught;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(isCrossTalkError(error, 'ERR_WAIT_TIMEOUT')).toBe(true);
    expect(error).toMatchObject({
      name: 'WaitTimeoutError',
      code: 'ERR_WAIT_TIMEOUT',
      what: 'a z',
      timeoutMs: 500,
      waiter: 'bob@localhost',
      detail: 'got a',
      message: 'bob@localhost: timed out after 500 ms waiting for a z; got a',
    });
    // The default deadline, and the default wording.
    const plain = new WaitingInbox<number>({ timeoutMs: 20 }).waitFor(() => false).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(20);
    expect(((await plain) as Error).message).toBe('timed out after 20 ms waiting for a matching item');
  });

  it('a settled wait leaves no waiter and no timer behind', async () => {
    vi.useFakeTimers();
    const inbox = new WaitingInbox<number>();
    const a = inbox.waitFor((n) => n === 1, { timeoutMs: 60_000 });
    const b = inbox.take((n) => n === 2, { timeoutMs: 60_000 });
    const c = inbox.take((n) => n === 3, { timeoutMs: 10 }).catch((e: unknown) => e);
    expect(inbox.waiting).toBe(3);
    expect(vi.getTimerCount()).toBe(3);
    inbox.push(1);
    inbox.push(2);
    expect(await a).toBe(1);
    expect(await b).toBe(2);
    expect(inbox.waiting).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(await c).toBeInstanceOf(WaitTimeoutError);
    expect(inbox.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // A later arrival reaches no forgotten listener: it is only kept.
    inbox.push(3);
    expect(inbox.items).toEqual([1, 3]);
  });

  it('pending waits are tried in the order they began: a predicate that claims an item keeps it from later ones', async () => {
    const inbox = new WaitingInbox<{ n: number }>();
    const claimed = new WeakSet<{ n: number }>();
    const claim = (item: { n: number }) => !claimed.has(item) && !!claimed.add(item);
    const first = inbox.waitFor(claim);
    const second = inbox.waitFor(claim);
    const one = { n: 1 };
    inbox.push(one);
    expect(await first).toBe(one);
    expect(await settled(second)).toBe('pending');
    inbox.push({ n: 2 });
    expect(await second).toEqual({ n: 2 });
    expect(inbox.items).toHaveLength(2);
  });

  it('an arrival is kept before the waits are tried: a predicate reading the whole history sees it', async () => {
    const inbox = new WaitingInbox<string>();
    inbox.push('a');
    const wait = inbox.waitFor(() => inbox.items.join() === 'a,b');
    inbox.push('b');
    expect(await wait).toBe('b');
  });

  it('onlyNew: an item kept before the wait does not count', async () => {
    const inbox = new WaitingInbox<string>();
    inbox.push('hello');
    const fresh = inbox.waitFor((s) => s === 'hello', { onlyNew: true });
    expect(await settled(fresh)).toBe('pending');
    inbox.push('hello');
    expect(await fresh).toBe('hello');
    expect(inbox.items).toEqual(['hello', 'hello']);
  });

  it('close: pending and later waits reject with the reason; kept items can still be had', async () => {
    vi.useFakeTimers();
    const inbox = new WaitingInbox<number>();
    inbox.push(1);
    const pending = inbox.take((n) => n === 2).catch((e: unknown) => e);
    const gone = new Error('connection closed');
    inbox.close(gone);
    inbox.close(new Error('a second reason is ignored'));
    expect(inbox.closed).toBe(true);
    expect(await pending).toBe(gone);
    expect(inbox.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await expect(inbox.waitFor((n) => n === 3)).rejects.toBe(gone);
    expect(await inbox.take((n) => n === 1)).toBe(1);
  });

  it('a predicate that throws fails its own wait, not the push', async () => {
    const inbox = new WaitingInbox<number>();
    const bad = inbox.waitFor(() => {
      throw new Error('broken predicate');
    });
    const good = inbox.waitFor((n) => n === 7);
    expect(() => inbox.push(7)).not.toThrow();
    await expect(bad).rejects.toThrow('broken predicate');
    expect(await good).toBe(7);
    expect(inbox.waiting).toBe(0);
  });

  it('keeps at most `capacity` items, dropping the oldest first', async () => {
    const inbox = new WaitingInbox<number>({ capacity: 3, timeoutMs: 1 });
    for (let n = 1; n <= 5; n++) inbox.push(n);
    expect(inbox.items).toEqual([3, 4, 5]);
    expect(inbox.dropped).toBe(2);
    await expect(inbox.take((n) => n === 1)).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(await inbox.take((n) => n === 3)).toBe(3);
    inbox.push(6);
    expect(inbox.items).toEqual([4, 5, 6]);
    expect(inbox.dropped).toBe(2);
    expect(() => new WaitingInbox({ capacity: 0 })).toThrow(RangeError);
    expect(() => new WaitingInbox({ capacity: 1.5 })).toThrow(RangeError);
    // Unbounded only when asked (a short test that reads the whole history).
    const all = new WaitingInbox<number>({ capacity: Number.POSITIVE_INFINITY });
    for (let n = 0; n < 20_000; n++) all.push(n);
    expect(all.items).toHaveLength(20_000);
    expect(all.dropped).toBe(0);
  });
});
