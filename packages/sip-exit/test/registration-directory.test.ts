import { MemoryDht } from '@crosstalk/core';
import { generateIdentity } from '@crosstalk/gateway';
import { describe, expect, it } from 'vitest';
import { SipRegistrationDirectory } from '../src/index.js';

const AOR = 'alice@sip.test';

describe('SIP registrations in the directory (P2PSIP)', () => {
  it('publishes signed records under sip:<aor> that any exit reads, newest first, with only live contacts', async () => {
    let now = 1_000_000;
    const dht = new MemoryDht({ now: () => now });
    const a = new SipRegistrationDirectory({ dht, identity: generateIdentity(), now: () => now });
    const bId = generateIdentity();
    const b = new SipRegistrationDirectory({ dht, identity: bId, now: () => now });
    await a.publish(
      AOR,
      [
        { uri: 'sip:alice@127.0.0.1:5080', expiresAt: now + 60_000 },
        { uri: 'sip:alice@127.0.0.1:5081', expiresAt: now + 10_000 },
      ],
      { udp: '127.0.0.1:5060' },
    );
    now += 1;
    await b.publish(AOR, [{ uri: 'sip:alice@127.0.0.1:6080', expiresAt: now + 30_000 }], {
      tcp: '127.0.0.1:6060',
    });
    const found = await a.lookup(AOR);
    expect(found.map((r) => r.exit)).toEqual([bId.id, expect.any(String)]);
    expect(found[1]?.contacts.map((c) => c.uri)).toEqual([
      'sip:alice@127.0.0.1:5080',
      'sip:alice@127.0.0.1:5081',
    ]);
    now += 15_000;
    expect((await b.lookup(AOR))[1]?.contacts.map((c) => c.uri)).toEqual(['sip:alice@127.0.0.1:5080']);
    now += 20_000;
    // b's record lapsed with its only contact.
    expect((await b.lookup(AOR)).map((r) => r.exit)).toEqual([found[1]?.exit]);
  });

  it('replaces its own record on refresh, also after a restart, and withdraws it', async () => {
    const dht = new MemoryDht();
    const identity = generateIdentity();
    const first = new SipRegistrationDirectory({ dht, identity });
    await first.publish(AOR, [{ uri: 'sip:alice@127.0.0.1:5080', expiresAt: Date.now() + 60_000 }], {});
    await first.publish(AOR, [{ uri: 'sip:alice@127.0.0.1:5080', expiresAt: Date.now() + 90_000 }], {});
    expect(await dht.get(SipRegistrationDirectory.key(AOR))).toHaveLength(1);
    // A restarted exit (same key, no memory) still replaces what it stored before.
    const restarted = new SipRegistrationDirectory({ dht, identity });
    await restarted.publish(AOR, [{ uri: 'sip:alice@127.0.0.1:5090', expiresAt: Date.now() + 60_000 }], {});
    expect(await dht.get(SipRegistrationDirectory.key(AOR))).toHaveLength(1);
    expect((await restarted.lookup(AOR))[0]?.contacts[0]?.uri).toBe('sip:alice@127.0.0.1:5090');
    await new SipRegistrationDirectory({ dht, identity }).withdraw(AOR);
    expect(await restarted.lookup(AOR)).toEqual([]);
  });

  it('ignores tampered records, records for another AOR, and exits that are not trusted', async () => {
    const dht = new MemoryDht();
    const honest = generateIdentity();
    const rejected: string[] = [];
    const reader = new SipRegistrationDirectory({
      dht,
      identity: generateIdentity(),
      onRejected: (_key, _reason, code) => rejected.push(code),
    });
    const writer = new SipRegistrationDirectory({ dht, identity: honest });
    await writer.publish(AOR, [{ uri: 'sip:alice@127.0.0.1:5080', expiresAt: Date.now() + 60_000 }], {});
    const [value] = await dht.get(SipRegistrationDirectory.key(AOR));
    const tampered = Buffer.from(value as Uint8Array)
      .toString()
      .replace('127.0.0.1:5080', '127.0.0.1:6666');
    await dht.put(SipRegistrationDirectory.key(AOR), Buffer.from(tampered));
    // The honest record copied under another AOR's key.
    await dht.put(SipRegistrationDirectory.key('bob@sip.test'), value as Uint8Array);
    expect((await reader.lookup(AOR)).map((r) => r.contacts[0]?.uri)).toEqual(['sip:alice@127.0.0.1:5080']);
    expect(await reader.lookup('bob@sip.test')).toEqual([]);
    expect(rejected).toEqual(['ERR_INVALID_RECORD', 'ERR_INVALID_RECORD']);
    const closed = new SipRegistrationDirectory({ dht, identity: generateIdentity(), trusted: () => false });
    expect(await closed.lookup(AOR)).toEqual([]);
  });

  it('leaves out contacts that do not fit the DHT value limit, oldest first', async () => {
    const dht = new MemoryDht({ limits: { maxValueBytes: 1024 } });
    const directory = new SipRegistrationDirectory({ dht, identity: generateIdentity() });
    const contacts = Array.from({ length: 8 }, (_, i) => ({
      uri: `sip:alice-${'x'.repeat(80)}@127.0.0.1:${5080 + i}`,
      expiresAt: Date.now() + 60_000 + i,
    }));
    await directory.publish(AOR, contacts, { udp: '127.0.0.1:5060' });
    const [record] = await directory.lookup(AOR);
    expect(record?.contacts.length).toBeGreaterThan(0);
    expect(record?.contacts.length).toBeLessThan(8);
    expect(record?.contacts[0]?.uri).toBe(contacts[7]?.uri);
  });
});
