import assert from 'node:assert/strict';
import { type Dht, type DhtLimits, isCrossTalkError } from '@crosstalk/core';
import type { Check } from '../codec/codec-checks.js';

/** A DHT to check, with a way to move its clock and to clean up. */
export interface DhtUnderTest {
  /** The DHT to check. */
  dht: Dht;
  /** Moves the DHT's clock forward; without it, TTL checks wait in real time (short TTLs). */
  advance?: (ms: number) => Promise<void>;
  /** Releases what `create` made. */
  cleanup?: () => Promise<void>;
}

/** What `dhtSuite` needs: a name, and a way to make a fresh DHT. */
export interface DhtSuiteOptions {
  /** The DHT's name, in the suite's title. */
  name: string;
  /** A fresh, empty DHT (optionally with smaller limits so the caps can be reached). */
  create(limits?: Partial<DhtLimits>): Promise<DhtUnderTest>;
}

const enc = new TextEncoder();
const v = (s: string) => enc.encode(s);
const dec = new TextDecoder();
const strings = (values: Uint8Array[]) => values.map((x) => dec.decode(x)).sort();

async function rejects(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isCrossTalkError(error, code), `${what}: expected ${code}, got ${String(error)}`);
    return;
  }
  assert.fail(`${what}: expected ${code}, nothing was thrown`);
}

/** OpenDHT semantics every `Dht` implementation must show (MemoryDht now, hyperdht in wave 2). */
export function dhtChecks(options: DhtSuiteOptions): Check[] {
  const withDht =
    (limits: Partial<DhtLimits> | undefined, body: (t: DhtUnderTest) => Promise<void>) => async () => {
      const t = await options.create(limits);
      try {
        await body(t);
      } finally {
        await t.dht.close();
        await t.cleanup?.();
      }
    };
  const elapse = async (t: DhtUnderTest, ms: number) => {
    if (t.advance) await t.advance(ms);
    else await new Promise((r) => setTimeout(r, ms));
  };

  return [
    {
      name: 'put then get returns the value; an unknown key returns []',
      run: withDht(undefined, async ({ dht }) => {
        await dht.put('user:alice@aol', v('gw1'));
        assert.deepEqual(strings(await dht.get('user:alice@aol')), ['gw1']);
        assert.deepEqual(await dht.get('user:nobody@aol'), []);
      }),
    },
    {
      name: 'what is stored is a copy: changing the bytes put, or the bytes read, changes nothing stored',
      run: withDht(undefined, async ({ dht }) => {
        // A Buffer, as most callers pass: its `slice()` is a view, not a copy.
        const put = Buffer.from('gw1');
        await dht.put('user:alice@aol', put);
        put[0] = 0x78;
        const [read] = await dht.get('user:alice@aol');
        assert.ok(read);
        read[1] = 0x78;
        assert.deepEqual(strings(await dht.get('user:alice@aol')), ['gw1']);
      }),
    },
    {
      name: 'a key holds several values; putting the same value twice keeps one',
      run: withDht(undefined, async ({ dht }) => {
        await dht.put('k', v('a'));
        await dht.put('k', v('b'));
        await dht.put('k', v('a'));
        assert.deepEqual(strings(await dht.get('k')), ['a', 'b']);
      }),
    },
    {
      name: 'values expire after their TTL; a re-put refreshes it',
      run: withDht(undefined, async (t) => {
        await t.dht.put('k', v('short'), { ttl: 200 });
        await t.dht.put('k', v('long'), { ttl: 60_000 });
        await t.dht.put('k', v('refreshed'), { ttl: 200 });
        await elapse(t, 120);
        await t.dht.put('k', v('refreshed'), { ttl: 200 });
        await elapse(t, 120);
        assert.deepEqual(strings(await t.dht.get('k')), ['long', 'refreshed']);
        await elapse(t, 200);
        assert.deepEqual(strings(await t.dht.get('k')), ['long']);
      }),
    },
    {
      name: 'remove needs the secret the value was stored with',
      run: withDht(undefined, async ({ dht }) => {
        await dht.put('k', v('owned'), { secret: 's3cret' });
        await dht.put('k', v('anyone'));
        await rejects(dht.remove('k', v('owned'), 'wrong'), 'ERR_DHT_SECRET_MISMATCH', 'wrong secret');
        await rejects(
          dht.remove('k', v('anyone'), 'any'),
          'ERR_DHT_SECRET_MISMATCH',
          'value stored without a secret',
        );
        await rejects(
          dht.put('k', v('owned'), { secret: 'other' }),
          'ERR_DHT_SECRET_MISMATCH',
          're-put by another owner',
        );
        assert.equal(await dht.remove('k', v('owned'), 's3cret'), true);
        assert.equal(await dht.remove('k', v('owned'), 's3cret'), false);
        assert.deepEqual(strings(await dht.get('k')), ['anyone']);
      }),
    },
    {
      name: 'keys, values, values per key and TTLs are capped',
      run: withDht(
        { maxKeyBytes: 16, maxValueBytes: 32, maxValuesPerKey: 3, maxTtl: 10_000 },
        async ({ dht }) => {
          await rejects(dht.put('k'.repeat(17), v('x')), 'ERR_DHT_KEY_TOO_LARGE', 'long key');
          await rejects(dht.get('k'.repeat(17)), 'ERR_DHT_KEY_TOO_LARGE', 'long key get');
          await rejects(dht.put('', v('x')), 'ERR_DHT_INVALID_KEY', 'empty key');
          await rejects(dht.put('k', new Uint8Array(33)), 'ERR_DHT_VALUE_TOO_LARGE', 'large value');
          await dht.put('k', new Uint8Array(32));
          await dht.put('k', v('2'));
          await dht.put('k', v('3'));
          await rejects(dht.put('k', v('4')), 'ERR_DHT_KEY_FULL', 'fourth value');
          await rejects(dht.put('j', v('x'), { ttl: 10_001 }), 'ERR_INVALID_TTL', 'long TTL');
          await rejects(dht.put('j', v('x'), { ttl: 0 }), 'ERR_INVALID_TTL', 'zero TTL');
          assert.equal((await dht.get('k')).length, 3);
        },
      ),
    },
    {
      name: 'one publisher cannot fill a key: its share is capped, and others still publish',
      run: withDht({ maxValuesPerKey: 4, maxValuesPerPublisher: 2 }, async ({ dht }) => {
        await dht.put('loc', v('junk1'), { secret: 'squatter' });
        await dht.put('loc', v('junk2'), { secret: 'squatter' });
        await rejects(
          dht.put('loc', v('junk3'), { secret: 'squatter' }),
          'ERR_DHT_PUBLISHER_QUOTA',
          'a third value from one publisher',
        );
        // Values stored without a secret share one anonymous quota.
        await dht.put('loc', v('anon1'));
        await dht.put('loc', v('anon2'));
        await rejects(dht.put('loc', v('anon3')), 'ERR_DHT_PUBLISHER_QUOTA', 'a third anonymous value');
        // Full (4 of 4). A publisher with nothing stored displaces the largest holder's oldest value.
        await dht.put('loc', v('genuine'), { secret: 'bob-gateway' });
        const stored = strings(await dht.get('loc'));
        assert.ok(stored.includes('genuine'), `the newcomer's value is stored: ${stored}`);
        assert.equal(stored.length, 4);
        assert.ok(!stored.includes('junk1'), `the oldest value of a largest holder made room: ${stored}`);
      }),
    },
    {
      name: 'a crowd of one-value publishers cannot lock a newcomer out for good',
      run: withDht({ maxValuesPerKey: 3, maxValuesPerPublisher: 2 }, async ({ dht }) => {
        for (const name of ['x', 'y', 'z']) await dht.put('k', v(name), { secret: name });
        await dht.put('k', v('newcomer'), { secret: 'w' });
        assert.ok(strings(await dht.get('k')).includes('newcomer'));
        // Holding as many as anyone else, a second value of the newcomer's does not displace others.
        await rejects(
          dht.put('k', v('second'), { secret: 'w' }),
          'ERR_DHT_KEY_FULL',
          'a full key, fair share held',
        );
      }),
    },
    // Slots (re-sign in place), for a DHT that says it honours them: a DHT without `slots` passes
    // these untested, and its callers fall back to put-then-remove.
    {
      name: 'slots: a put into a slot replaces the previous value there, and the slot counts once in the share',
      run: withDht({ maxValuesPerPublisher: 2 }, async ({ dht }) => {
        if (dht.slots !== true) return;
        const slot = { secret: 'gw-a', slot: 'location' };
        await dht.put('loc', v('where-1'), slot);
        await dht.put('loc', v('where-2'), slot);
        assert.deepEqual(strings(await dht.get('loc')), ['where-2'], 'only the newest value of the slot');
        // A third and fourth value of one publisher with a share of 2: slots count once.
        await dht.put('loc', v('where-3'), slot);
        await dht.put('loc', v('unslotted'), { secret: 'gw-a' });
        await dht.put('loc', v('where-4'), slot);
        await dht.put('loc', v('where-4'), slot);
        assert.deepEqual(strings(await dht.get('loc')), ['unslotted', 'where-4']);
        // The share is still held: a third value outside the slot is over it.
        await rejects(
          dht.put('loc', v('third'), { secret: 'gw-a' }),
          'ERR_DHT_PUBLISHER_QUOTA',
          'a value beside a full share',
        );
      }),
    },
    {
      name: "slots: a slot is its publisher's: another secret's slot of that name is its own and cannot be removed",
      run: withDht(undefined, async ({ dht }) => {
        if (dht.slots !== true) return;
        await dht.put('loc', v('a-1'), { secret: 'gw-a', slot: 'location' });
        await dht.put('loc', v('b-1'), { secret: 'gw-b', slot: 'location' });
        assert.deepEqual(strings(await dht.get('loc')), ['a-1', 'b-1']);
        await dht.put('loc', v('a-2'), { secret: 'gw-a', slot: 'location' });
        assert.deepEqual(strings(await dht.get('loc')), ['a-2', 'b-1'], "a's re-sign leaves b's slot");
        await dht.put('loc', v('b-2'), { secret: 'gw-b', slot: 'location' });
        await rejects(dht.remove('loc', v('b-2'), 'gw-a'), 'ERR_DHT_SECRET_MISMATCH', "b's slot by a");
        assert.deepEqual(strings(await dht.get('loc')), ['a-2', 'b-2']);
      }),
    },
    {
      name: 'slots: a slotted value is removed with its secret by its current bytes, and the slot can be filled again',
      run: withDht(undefined, async ({ dht }) => {
        if (dht.slots !== true) return;
        const slot = { secret: 'gw-a', slot: 'presence' };
        await dht.put('p', v('online'), slot);
        await dht.put('p', v('away'), slot);
        assert.equal(await dht.remove('p', v('online'), 'gw-a'), false, 'the replaced value is gone');
        await rejects(dht.remove('p', v('away'), 'gw-b'), 'ERR_DHT_SECRET_MISMATCH', 'another secret');
        assert.equal(await dht.remove('p', v('away'), 'gw-a'), true);
        assert.deepEqual(await dht.get('p'), []);
        await dht.put('p', v('back'), slot);
        assert.deepEqual(strings(await dht.get('p')), ['back']);
      }),
    },
    {
      name: 'slots: a re-sign in place gives the slot the new TTL; a slot needs a secret',
      run: withDht(undefined, async (t) => {
        if (t.dht.slots !== true) return;
        const slot = { secret: 'gw-a', slot: 'location', ttl: 200 };
        await t.dht.put('loc', v('first'), slot);
        await elapse(t, 120);
        await t.dht.put('loc', v('second'), slot);
        await elapse(t, 120);
        assert.deepEqual(strings(await t.dht.get('loc')), ['second']);
        await elapse(t, 200);
        assert.deepEqual(await t.dht.get('loc'), []);
        await rejects(
          t.dht.put('loc', v('nobody'), { slot: 'location' }),
          'ERR_DHT_SLOT_SECRET_REQUIRED',
          'a slot without a secret',
        );
      }),
    },
    {
      name: 'returned values are copies: mutating them or the put buffer changes nothing stored',
      run: withDht(undefined, async ({ dht }) => {
        const value = v('abc');
        await dht.put('k', value);
        value[0] = 0x7a;
        const [got] = await dht.get('k');
        got![1] = 0x7a;
        assert.deepEqual(strings(await dht.get('k')), ['abc']);
      }),
    },
    {
      name: 'a closed DHT refuses work',
      run: async () => {
        const t = await options.create();
        await t.dht.close();
        await rejects(t.dht.get('k'), 'ERR_DHT_CLOSED', 'get after close');
        await t.cleanup?.();
      },
    },
  ];
}
