import { setTimeout as delay } from 'node:timers/promises';
import { type Address, type CanonicalEvent, type Dht, MemoryDht, parseAddress } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrossTalkNode, createNode, type UserSession } from '../src/index.js';

/** Collects what a user's endpoint is shown, and waits for a match. */
class Inbox {
  readonly events: CanonicalEvent[] = [];
  #waiters: (() => void)[] = [];
  deliver = (event: CanonicalEvent): boolean => {
    this.events.push(event);
    for (const w of this.#waiters.splice(0)) w();
    return true;
  };
  async next(
    match: (e: CanonicalEvent) => boolean,
    what: string,
    timeoutMs = 5_000,
  ): Promise<CanonicalEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

const same = (a: Address | undefined, b: Address) => a?.user === b.user && a.network === b.network;

/**
 * A node that shuts down while a user's "offline" is still on its way (the user's connection closed
 * on its own a moment before): the buddy on another node still hears it, before G2G closes.
 */
describe('closing a node', () => {
  const dht = new MemoryDht();
  let one: CrossTalkNode;
  let two: CrossTalkNode;
  const alice = parseAddress('alice@aol');
  const bob = parseAddress('bob@yahoo');
  const atAlice = new Inbox();
  const atBob = new Inbox();
  let aliceSession: UserSession;
  let bobSession: UserSession;

  // Node one reads the DHT slowly at the end (as over a real network): its "offline" takes a while.
  let readDelay = 0;
  // ...and its clock can jump past its cache of where bob is, so the "offline" has to read it.
  let skew = 0;
  const slow: Dht = {
    limits: dht.limits,
    put: (key, value, options) => dht.put(key, value, options),
    get: async (key) => {
      if (readDelay) await delay(readDelay);
      return dht.get(key);
    },
    remove: (key, value, secret) => dht.remove(key, value, secret),
    close: async () => {},
  };

  beforeAll(async () => {
    one = await createNode({ dht: slow, logger: false, now: () => Date.now() + skew });
    two = await createNode({ dht, logger: false });
    aliceSession = await one.attach(alice, { deliver: atAlice.deliver }, { protocol: 'api' });
    bobSession = await two.attach(bob, { deliver: atBob.deliver }, { protocol: 'api' });
    // Mutual buddies: alice asks, bob accepts.
    await aliceSession.send({ kind: 'buddy-request', to: bob, message: 'hi' });
    await atBob.next((e) => e.kind === 'buddy-request' && same(e.from, alice), "alice's request");
    await bobSession.send({ kind: 'buddy-response', to: alice, accepted: true });
    await atAlice.next((e) => e.kind === 'buddy-response' && same(e.from, bob), "bob's answer");
    await atBob.next(
      (e) => e.kind === 'presence' && same(e.from, alice) && e.status === 'online',
      'alice online',
    );
  });

  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('a user detached just before close: the buddy elsewhere still hears "offline"', async () => {
    readDelay = 300;
    skew = 31_000;
    void aliceSession.detach();
    await one.close();
    const offline = await atBob.next(
      (e) => e.kind === 'presence' && same(e.from, alice) && e.status === 'offline',
      'alice offline',
      2_000,
    );
    expect(offline).toMatchObject({ kind: 'presence', status: 'offline' });
  });
});
