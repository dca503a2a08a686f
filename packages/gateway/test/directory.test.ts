import { type Dht, MemoryDht, parseAddress } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { canonicalJson, Directory, encodeRecord, generateIdentity, signRecord } from '../src/index.js';

const alice = parseAddress('alice@aol');
const bob = parseAddress('bob@yahoo');

function setup(options: { trusted?: (id: string) => boolean } = {}) {
  let now = 1_000_000;
  const dht = new MemoryDht({ now: () => now });
  const rejected: string[] = [];
  const make = (identity = generateIdentity()) =>
    new Directory({
      dht,
      identity,
      now: () => now,
      softTtl: 60_000,
      onRejected: (_k, reason) => rejected.push(reason),
      ...options,
    });
  /** A directory that only reads, with its own list of what it refused (codes and reasons). */
  const watcher = () => {
    const codes: string[] = [];
    const reasons: string[] = [];
    const dir = new Directory({
      dht,
      identity: generateIdentity(),
      now: () => now,
      onRejected: (_k, reason, code) => {
        reasons.push(reason);
        codes.push(code);
      },
    });
    return { dir, codes, reasons };
  };
  return { dht, make, rejected, watcher, advance: (ms: number) => (now += ms), now: () => now };
}

describe('directory', () => {
  it('publishes, looks up and withdraws a signed location', async () => {
    const { make } = setup();
    const gw = generateIdentity();
    const dir = make(gw);
    await dir.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 4000 });
    expect(await dir.lookupLocation(parseAddress('Alice@aol'))).toMatchObject({
      gateway: gw.id,
      contact: { transport: 'tcp', host: '127.0.0.1', port: 4000 },
    });
    await dir.withdrawLocation(alice);
    expect(await dir.lookupLocation(alice)).toBeUndefined();
  });

  it('a record republished within the same millisecond stays (the same bytes are not removed after the put)', async () => {
    // Found by the model of internet scale (bench/sim): a re-put of byte-equal bytes refreshes the
    // stored value, and removing "the previous value" then removed the one just stored.
    const { make } = setup();
    const dir = make();
    const contact = { transport: 'tcp', host: '127.0.0.1', port: 4000 };
    await dir.publishLocation(alice, contact);
    await dir.publishLocation(alice, contact);
    expect(await dir.lookupLocation(alice)).toMatchObject({ contact });
    const away = { kind: 'presence', from: alice, status: 'away' } as const;
    await dir.publishLocation(alice, contact, away);
    await dir.publishLocation(alice, contact, away);
    expect(await dir.lookupPresence(alice)).toMatchObject({ status: 'away' });
    await dir.publishHome(alice, 5);
    await dir.publishHome(alice, 5);
    expect(await dir.lookupHome(alice)).toMatchObject({ since: 5 });
    // And a withdrawal still removes it.
    await dir.withdrawLocation(alice);
    expect(await dir.lookupLocation(alice)).toBeUndefined();
  });

  it('picks the newest location when a user moved between gateways', async () => {
    const { make, advance } = setup();
    const one = make();
    const two = generateIdentity();
    await one.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    advance(10);
    await make(two).publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 2 });
    expect((await one.lookupLocation(alice))?.gateway).toBe(two.id);
  });

  it('skips a signed location whose contact is not a contact (no transport, nested values, too many fields, none)', async () => {
    const { dht, make, now } = setup();
    const good = generateIdentity();
    await make(good).publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    const bodies = [
      { contact: { host: '127.0.0.1', port: 2 } },
      { contact: { transport: 'tcp', host: { nested: true }, port: 2 } },
      {
        contact: Object.fromEntries([
          ['transport', 'tcp'],
          ...Array.from({ length: 16 }, (_, i) => [`f${i}`, i]),
        ]),
      },
      // The body of earlier versions, a bare contact.
      { transport: 'tcp', host: '127.0.0.1', port: 2 },
    ];
    for (const body of bodies) {
      const record = signRecord(generateIdentity(), {
        kind: 'location',
        subject: 'alice@aol',
        body,
        issuedAt: now() + 1,
        ttl: 60_000,
      });
      await dht.put('loc:alice@aol', encodeRecord(record));
    }
    expect(await make().lookupLocation(alice)).toMatchObject({ gateway: good.id, contact: { port: 1 } });
  });

  it('rejects a tampered record', async () => {
    const { dht, make, rejected, now } = setup();
    const gw = generateIdentity();
    const record = signRecord(gw, {
      kind: 'location',
      subject: 'alice@aol',
      body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 1 } },
      issuedAt: now(),
      ttl: 60_000,
    });
    const tampered = { ...record, body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 6666 } } };
    await dht.put('loc:alice@aol', Buffer.from(canonicalJson(tampered)));
    expect(await make().lookupLocation(alice)).toBeUndefined();
    expect(rejected.join()).toMatch(/signature does not verify/);
  });

  it('rejects a forged record: signed by one gateway, naming another as publisher', async () => {
    const { dht, make, rejected, now } = setup();
    const victim = generateIdentity();
    const forger = generateIdentity();
    const record = signRecord(forger, {
      kind: 'location',
      subject: 'alice@aol',
      body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 1 } },
      issuedAt: now(),
      ttl: 60_000,
    });
    await dht.put('loc:alice@aol', encodeRecord({ ...record, publisher: victim.id }));
    expect(await make().lookupLocation(alice)).toBeUndefined();
    expect(rejected).toHaveLength(1);
  });

  it('rejects a record stored under another subject, malformed or expired values', async () => {
    const { dht, make, rejected, now, advance } = setup();
    const gw = generateIdentity();
    const forBob = signRecord(gw, {
      kind: 'location',
      subject: 'bob@yahoo',
      body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 1 } },
      issuedAt: now(),
      ttl: 60_000,
    });
    await dht.put('loc:alice@aol', encodeRecord(forBob));
    await dht.put('loc:alice@aol', Buffer.from('not json'));
    const shortLived = signRecord(gw, {
      kind: 'location',
      subject: 'alice@aol',
      body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 1 } },
      issuedAt: now(),
      ttl: 5,
    });
    await dht.put('loc:alice@aol', encodeRecord(shortLived));
    advance(10);
    expect(await make().lookupLocation(alice)).toBeUndefined();
    expect(rejected).toHaveLength(3);
  });

  it('verifies a stored value once, but still notices when it expires', async () => {
    const { dht, make, advance } = setup();
    const reader = make();
    const gw = generateIdentity();
    const record = signRecord(gw, {
      kind: 'location',
      subject: 'alice@aol',
      body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 1 } },
      issuedAt: 1_000_000,
      ttl: 50,
    });
    await dht.put('loc:alice@aol', encodeRecord(record), { ttl: 60_000 });
    expect((await reader.lookupLocation(alice))?.gateway).toBe(gw.id);
    expect((await reader.lookupLocation(alice))?.gateway).toBe(gw.id);
    advance(100);
    expect(await reader.lookupLocation(alice)).toBeUndefined();
  });

  it('believes only trusted publishers when a trust list is set', async () => {
    const good = generateIdentity();
    const { make, rejected } = setup({ trusted: (id) => id === good.id });
    await make(generateIdentity()).publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    expect(await make(good).lookupLocation(alice)).toBeUndefined();
    expect(rejected.join()).toMatch(/not trusted/);
  });

  it('holds pending buddy requests, bounded per user, refreshable and releasable', async () => {
    const { make } = setup();
    const holder = make();
    await holder.publishHome(alice, 1_000_000); // alice logged in through the holder: it speaks for her
    const request = { kind: 'buddy-request' as const, id: 'r1', from: alice, to: bob, message: 'hi' };
    const value = await holder.holdPending(request);
    expect(value).toBeDefined();
    expect(await holder.pendingFor(bob)).toEqual([{ request, holder: expect.any(String) }]);
    const refreshed = await holder.holdPending(request, value);
    expect(await holder.pendingFor(bob)).toHaveLength(1);
    await holder.releasePending(bob, refreshed!);
    expect(await holder.pendingFor(bob)).toEqual([]);
    const small = new Directory({ dht: new MemoryDht(), identity: generateIdentity(), maxPendingPerUser: 2 });
    for (let i = 0; i < 2; i++) expect(await small.holdPending({ ...request, id: `r${i}` })).toBeDefined();
    expect(await small.holdPending({ ...request, id: 'r9' })).toBeUndefined();
  });

  it("asks the DHT to put a user's location ahead of queued work, and nothing else", async () => {
    const asked: { key: string; urgent: boolean }[] = [];
    const dht = new MemoryDht();
    const put = dht.put.bind(dht);
    dht.put = (key, value, options) => {
      asked.push({ key: key.slice(0, key.indexOf(':')), urgent: options?.urgent === true });
      return put(key, value, options);
    };
    const dir = new Directory({ dht, identity: generateIdentity() });
    await dir.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 4000 });
    await dir.publishHome(alice, 1);
    await dir.holdPending({ kind: 'buddy-request', id: 'r1', from: alice, to: bob, message: 'hi' });
    expect(asked).toEqual([
      { key: 'loc', urgent: true },
      { key: 'home', urgent: false },
      { key: 'pending', urgent: false },
    ]);
  });

  it('another gateway cannot remove what this one published', async () => {
    const { dht, make } = setup();
    const a = make();
    await a.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    const [value] = await dht.get('loc:alice@aol');
    await expect(dht.remove('loc:alice@aol', value!, 'guess')).rejects.toThrow(/secret/);
    await make().withdrawLocation(alice);
    expect(await a.lookupLocation(alice)).toBeDefined();
  });
});

describe('who may say what', () => {
  const record = (
    identity: ReturnType<typeof generateIdentity>,
    fields: { kind: 'location' | 'buddy-request' | 'home'; subject: string; body: unknown },
    issuedAt: number,
    ttl = 60_000,
  ) => encodeRecord(signRecord(identity, { ...fields, issuedAt, ttl }));

  it('a location record dated ahead of the clock-skew limit is refused; the real one stands', async () => {
    const { dht, make, now, watcher } = setup();
    const real = generateIdentity();
    const rogue = generateIdentity();
    const { dir: reader, codes: rejected } = watcher();
    await make(real).publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    const aYearAhead = now() + 365 * 24 * 3600 * 1000;
    await dht.put(
      'loc:alice@aol',
      record(
        rogue,
        {
          kind: 'location',
          subject: 'alice@aol',
          body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 2 } },
        },
        aYearAhead,
        60_000,
      ),
      { ttl: 60_000 },
    );
    expect((await reader.lookupLocation(alice))?.gateway).toBe(real.id);
    expect(rejected).toContain('ERR_RECORD_FROM_FUTURE');
    // Within the skew limit is fine (clocks differ a little).
    await dht.put(
      'loc:alice@aol',
      record(
        rogue,
        {
          kind: 'location',
          subject: 'alice@aol',
          body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 2 } },
        },
        now() + 5000,
      ),
    );
    expect((await reader.lookupLocation(alice))?.gateway).toBe(rogue.id);
  });

  it('a record that claims a lifetime longer than the DHT allows is refused', async () => {
    const { dht, now, watcher } = setup();
    const { dir: reader, reasons: rejected } = watcher();
    await dht.put(
      'loc:alice@aol',
      record(
        generateIdentity(),
        {
          kind: 'location',
          subject: 'alice@aol',
          body: { contact: { transport: 'tcp', host: '127.0.0.1', port: 2 } },
        },
        now(),
        dht.limits.maxTtl * 10,
      ),
    );
    expect(await reader.lookupLocation(alice)).toBeUndefined();
    expect(rejected.join()).toMatch(/lifetime/);
  });

  it('the user’s own gateway wins the location back by republishing at login', async () => {
    const { make, advance } = setup();
    const real = make();
    const rogue = make();
    await real.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    advance(10);
    await rogue.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 2 });
    expect((await real.lookupLocation(alice))?.contact.port).toBe(2);
    advance(10);
    await real.publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    expect((await rogue.lookupLocation(alice))?.contact.port).toBe(1);
  });

  it('presence is believed only with the location record it rides in: the newest', async () => {
    const { dht, make, now, advance, watcher } = setup();
    const real = generateIdentity();
    const rogue = generateIdentity();
    const { dir: reader, codes } = watcher();
    const contact = { transport: 'tcp', host: '127.0.0.1', port: 1 };
    // A record of the kind earlier versions kept presence in is not a kind any more: never read.
    await dht.put(
      'presence:alice@aol',
      Buffer.from(JSON.stringify({ v: 1, kind: 'presence', subject: 'alice@aol', body: { status: 'away' } })),
    );
    expect(await reader.lookupPresence(alice)).toBeUndefined();
    // An older record's presence loses with its location.
    await dht.put(
      'loc:alice@aol',
      record(
        rogue,
        { kind: 'location', subject: 'alice@aol', body: { contact, presence: { status: 'away' } } },
        now(),
      ),
    );
    advance(10);
    await make(real).publishLocation(alice, contact, { kind: 'presence', from: alice, status: 'busy' });
    expect(await reader.lookupLocation(alice)).toMatchObject({ gateway: real.id });
    expect((await reader.lookupPresence(alice))?.status).toBe('busy');
    // A record's presence is the subject's: a `from` inside the body names nobody else.
    advance(10);
    await dht.put(
      'loc:alice@aol',
      record(
        rogue,
        {
          kind: 'location',
          subject: 'alice@aol',
          body: { contact, presence: { status: 'away', from: 'bob@yahoo' } },
        },
        now(),
      ),
    );
    expect(await reader.lookupPresence(alice)).toMatchObject({ from: alice, status: 'away' });
    expect(codes).toEqual([]);
  });

  it('a location record’s presence that is not a presence is refused, and the location still read', async () => {
    const { dht, now, watcher } = setup();
    const { dir: reader, codes } = watcher();
    const contact = { transport: 'tcp', host: '127.0.0.1', port: 1 };
    await dht.put(
      'loc:alice@aol',
      record(
        generateIdentity(),
        { kind: 'location', subject: 'alice@aol', body: { contact, presence: { status: 'asleep' } } },
        now(),
      ),
    );
    expect(await reader.lookupLocation(alice)).toMatchObject({ contact: { port: 1 } });
    expect(await reader.lookupPresence(alice)).toBeUndefined();
    expect(codes).toContain('ERR_INVALID_RECORD');
  });

  it('a gateway cannot publish one user’s presence in another user’s location record', async () => {
    const { make } = setup();
    await expect(
      make().publishLocation(
        alice,
        { transport: 'tcp', host: '127.0.0.1', port: 1 },
        {
          kind: 'presence',
          from: bob,
          status: 'away',
        },
      ),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_RECORD' });
  });

  it('a pending request or answer is believed only from its sender’s gateway (online, or last home)', async () => {
    const { make, now, advance, watcher } = setup();
    const aliceGateway = generateIdentity();
    const rogue = generateIdentity();
    const { dir: reader, codes } = watcher();
    const request = { kind: 'buddy-request' as const, id: 'r1', from: alice, to: bob };
    const answer = { kind: 'buddy-response' as const, id: 'a1', from: alice, to: bob, accepted: true };
    await make(rogue).holdPending(request);
    await make(rogue).holdPending(answer);
    // alice has never logged in anywhere: nobody can speak for her.
    expect(await reader.pendingFor(bob)).toEqual([]);
    // She logged in through her gateway once (home), and is offline now.
    await make(aliceGateway).publishHome(alice, now());
    await make(aliceGateway).holdPending({ ...request, id: 'r2' });
    expect((await reader.pendingFor(bob)).map((p) => p.request.id)).toEqual(['r2']);
    // Online through her gateway: the same.
    advance(10);
    await make(aliceGateway).publishLocation(alice, { transport: 'tcp', host: '127.0.0.1', port: 1 });
    await make(aliceGateway).holdPending({ ...answer, id: 'a2' });
    expect((await reader.pendingFor(bob)).map((p) => p.request.id).sort()).toEqual(['a2', 'r2']);
    expect(codes.filter((c) => c === 'ERR_UNAUTHORISED_RECORD').length).toBeGreaterThanOrEqual(4);
  });

  it('a home record republished with an old login time does not outbid a later login elsewhere', async () => {
    const { make, now, advance } = setup();
    const first = generateIdentity();
    const second = generateIdentity();
    const since = now();
    await make(first).publishHome(alice, since);
    advance(1000);
    await make(second).publishHome(alice, now());
    advance(1000);
    await make(first).publishHome(alice, since); // the first gateway restarts and republishes
    expect((await make().lookupHome(alice))?.gateway).toBe(second.id);
  });

  it('junk values cannot silence a user: 256 under loc:bob@yahoo, and bob still publishes', async () => {
    const { dht, make } = setup();
    for (let i = 0; i < 256; i++)
      await dht.put('loc:bob@yahoo', Buffer.from(`junk ${i}`), { secret: `s${i % 8}` }).catch(() => {});
    for (let i = 0; i < 256; i++)
      await dht.put('loc:bob@yahoo', Buffer.from(`sybil ${i}`), { secret: `sybil${i}` }).catch(() => {});
    const bobs = make();
    await bobs.publishLocation(bob, { transport: 'tcp', host: '127.0.0.1', port: 7 });
    expect((await make().lookupLocation(bob))?.contact.port).toBe(7);
  });

  it('one holder’s pending requests for a user take nothing from another holder’s share', async () => {
    const { dht, now } = setup();
    const squatter = generateIdentity();
    const small = (identity: ReturnType<typeof generateIdentity>) =>
      new Directory({ dht, identity, now, maxPendingPerUser: 2 });
    for (let i = 0; i < 2; i++)
      expect(
        await small(squatter).holdPending({ kind: 'buddy-request', id: `j${i}`, from: alice, to: bob }),
      ).toBeDefined();
    const genuine = generateIdentity();
    expect(
      await small(genuine).holdPending({
        kind: 'buddy-request',
        id: 'g',
        from: parseAddress('carol@aol'),
        to: bob,
      }),
    ).toBeDefined();
  });
});

describe('records within the DHT value limit', () => {
  it('a long status text or request message is shortened so the record fits a 1 KiB DHT value', async () => {
    let now = 1_000_000;
    const dht = new MemoryDht({ now: () => now, limits: { maxValueBytes: 1024, maxValuesPerPublisher: 8 } });
    const dir = new Directory({ dht, identity: generateIdentity(), now: () => now });
    await dir.publishHome(alice, now);
    await dir.publishLocation(
      alice,
      { transport: 'tcp', host: '127.0.0.1', port: 1 },
      { kind: 'presence', from: alice, status: 'away', text: 'é'.repeat(3000) },
    );
    expect(await dir.lookupLocation(alice)).toMatchObject({ contact: { port: 1 } });
    const presence = await dir.lookupPresence(alice);
    expect(presence?.status).toBe('away');
    expect(presence?.text?.endsWith('…')).toBe(true);
    const value = await dir.holdPending({
      kind: 'buddy-request',
      id: 'r',
      from: alice,
      to: bob,
      message: 'x'.repeat(5000),
    });
    expect(value!.length).toBeLessThanOrEqual(1024);
    expect((await dir.pendingFor(bob))[0]?.request).toMatchObject({ id: 'r' });
    now += 1;
  });

  it('a holder keeps no more pending requests per user than the DHT’s per-publisher share allows', async () => {
    const dht = new MemoryDht({ limits: { maxValuesPerPublisher: 4 } });
    const dir = new Directory({ dht, identity: generateIdentity() });
    const held = [];
    for (let i = 0; i < 6; i++)
      held.push(await dir.holdPending({ kind: 'buddy-request', id: `r${i}`, from: alice, to: bob }));
    expect(held.filter(Boolean)).toHaveLength(3);
    // Refreshing one of them still works (a new value is stored before the old one goes).
    expect(
      await dir.holdPending({ kind: 'buddy-request', id: 'r0', from: alice, to: bob }, held[0]),
    ).toBeDefined();
  });
});

describe('re-signing in place', () => {
  // A DHT that records what the directory asks of it, over a MemoryDht (with slots, or without).
  function counted(slots: boolean) {
    let now = 1_000_000;
    const inner = new MemoryDht({ now: () => now });
    const calls: string[] = [];
    const dht: Dht = {
      limits: inner.limits,
      ...(slots ? { slots: true } : {}),
      put: async (key, value, options) => {
        calls.push(`put ${key}${options?.slot ? ` slot=${options.slot}` : ''}`);
        await inner.put(key, value, options);
      },
      get: (key) => inner.get(key),
      remove: async (key, value, secret) => {
        calls.push(`remove ${key}`);
        return inner.remove(key, value, secret);
      },
      close: () => inner.close(),
    };
    const dir = new Directory({ dht, identity: generateIdentity(), now: () => now, softTtl: 60_000 });
    return { dir, calls, inner, advance: (ms: number) => (now += ms) };
  }

  it('a refresh of location (with presence) and home is one slotted put each: no removal', async () => {
    const { dir, calls, inner, advance } = counted(true);
    const contact = { transport: 'tcp', host: '127.0.0.1', port: 4000 };
    for (const status of ['online', 'away'] as const) {
      await dir.publishLocation(alice, contact, { kind: 'presence', from: alice, status });
      await dir.publishHome(alice, 5);
      advance(1000);
    }
    expect(calls).toEqual([
      'put loc:alice@aol slot=location',
      'put home:alice@aol slot=home',
      'put loc:alice@aol slot=location',
      'put home:alice@aol slot=home',
    ]);
    // One value per key: the re-signed record took the old one's place.
    for (const key of ['loc:alice@aol', 'home:alice@aol']) expect(await inner.get(key)).toHaveLength(1);
    expect(await dir.lookupPresence(alice)).toMatchObject({ status: 'away' });
    await dir.withdrawLocation(alice);
    expect(await dir.lookupLocation(alice)).toBeUndefined();
  });

  it('a withdrawal asked for while a re-sign is under way removes the re-signed record', async () => {
    // A user's presence changed as they left: the later withdrawal must not leave the new record.
    for (const slots of [true, false]) {
      const { dir, inner } = counted(slots);
      const contact = { transport: 'tcp', host: '127.0.0.1', port: 4000 };
      await dir.publishLocation(alice, contact);
      const resigned = dir.publishLocation(alice, contact, { kind: 'presence', from: alice, status: 'away' });
      const withdrawn = dir.withdrawLocation(alice);
      await Promise.all([resigned, withdrawn]);
      expect(await inner.get('loc:alice@aol')).toEqual([]);
      expect(await dir.lookupLocation(alice)).toBeUndefined();
    }
  });

  it('capabilities and their index are re-signed in place too', async () => {
    const { dir, calls, inner, advance } = counted(true);
    const body = { cost: 1, preserves: [], contact: { transport: 'tcp', host: '127.0.0.1', port: 1 } };
    for (let i = 0; i < 2; i++) {
      await dir.publishCapability('oscar>ymsg', { ...body, cost: 1 + i });
      await dir.publishCapabilityIndex('oscar', ['ymsg']);
      advance(1000);
    }
    expect(calls.every((c) => c.startsWith('put ') && c.includes(' slot=capability'))).toBe(true);
    expect(await inner.get('cap:oscar>ymsg')).toHaveLength(1);
    expect((await dir.capabilities('oscar>ymsg'))[0]).toMatchObject({ cost: 2 });
  });

  it('on a DHT without slots, a refresh puts the new record and removes the old one', async () => {
    const { dir, calls, inner, advance } = counted(false);
    const contact = { transport: 'tcp', host: '127.0.0.1', port: 4000 };
    await dir.publishLocation(alice, contact);
    advance(1000);
    await dir.publishLocation(alice, contact);
    expect(calls).toEqual(['put loc:alice@aol', 'put loc:alice@aol', 'remove loc:alice@aol']);
    expect(await inner.get('loc:alice@aol')).toHaveLength(1);
  });
});
