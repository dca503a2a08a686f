import { once } from 'node:events';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { stanza } from '@crosstalk/codec-xmpp';
import { type Address, formatAddress, MemoryDht, parseAddress } from '@crosstalk/core';
import {
  createGateway,
  G2gNode,
  G2gRefusedError,
  type Gateway,
  generateIdentity,
  socks4ConnectRequest,
  TcpG2gTransport,
} from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../../gateway/test/support/temp-dir.js';
import { builtInCodecs } from '../src/codecs.js';
import {
  type NetworkFixture,
  startXmppNetwork,
  startYmsgNetwork,
  type UserDriver,
} from '../src/drivers/index.js';
import { until } from './support/walkthrough.js';

/**
 * The gateway's guarantees, end to end over real sockets: anti-spoofing, bad input that ends only
 * its own connection, and a restart that keeps hard state. Yahoo users run on the mock YMSG
 * server, XMPP users on a real prosody.
 */
let yahoo: NetworkFixture;
let jabber: NetworkFixture;
const gateways: Gateway[] = [];
const drivers: UserDriver[] = [];

beforeAll(async () => {
  yahoo = await startYmsgNetwork([
    { name: 'alice', password: 'alicepw' },
    { name: 'amy', password: 'amypw' },
    { name: 'slow', password: 'slowpw' },
  ]);
  jabber = await startXmppNetwork([
    { name: 'dave', password: 'davepw' },
    { name: 'erin', password: 'erinpw' },
  ]);
}, 60_000);
afterAll(async () => {
  await yahoo?.stop();
  await jabber?.stop();
});
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.disconnect().catch(() => {});
  for (const g of gateways.splice(0)) await g.close();
});

async function gateway(options: Partial<Parameters<typeof createGateway>[0]> = {}): Promise<Gateway> {
  const g = await createGateway({
    codecs: builtInCodecs(),
    canonical: stanza,
    socks: { port: 0 },
    logger: false,
    ...options,
  });
  gateways.push(g);
  return g;
}

function user(
  fixture: NetworkFixture,
  name: string,
  via: Gateway,
  onSocket?: (s: Socket) => void,
): UserDriver {
  const d = fixture.driver(name, async (host, port) => {
    const s = await socksConnect(via.socks, host, port);
    onSocket?.(s);
    return s;
  });
  drivers.push(d);
  return d;
}

/** Two gateways on one DHT: alice (Yahoo) through `gy`, dave (XMPP) through `gx`, both logged in. */
async function aliceAndDave() {
  const dht = new MemoryDht();
  const gy = await gateway({ dht });
  const gx = await gateway({ dht });
  const alice = user(yahoo, 'alice', gy);
  const dave = user(jabber, 'dave', gx);
  await alice.login();
  await dave.login();
  return { dht, gy, gx, alice, dave };
}

describe('anti-spoofing', () => {
  it('a connection that has not finished logging in cannot reach a foreign user', async () => {
    const dht = new MemoryDht();
    const gy = await gateway({ dht });
    const gx = await gateway({ dht });
    const dave = user(jabber, 'dave', gx);
    await dave.login();
    const translated: string[] = [];
    gy.on((e) => e.type === 'translated' && translated.push(e.event.kind));
    // A raw YMSG MESSAGE to dave@localhost, sent before any login on this connection.
    const socket = await socksConnect(gy.socks, yahoo.server.host, yahoo.server.port);
    const payload = Buffer.from(
      '1\xc0\x80mallory\xc0\x805\xc0\x80dave@localhost\xc0\x8014\xc0\x80spoofed\xc0\x80',
      'latin1',
    );
    const header = Buffer.from([
      0x59,
      0x4d,
      0x53,
      0x47,
      0,
      16,
      0,
      0,
      payload.length >> 8,
      payload.length & 0xff,
      0,
      6,
      0x5a,
      0x55,
      0xaa,
      0x56,
      0,
      0,
      0,
      0,
    ]);
    socket.write(Buffer.concat([header, payload]));
    await expect(dave.nextIm(parseAddress('mallory@yahoo'), 1500)).rejects.toThrow(/timed out/);
    expect(translated).toEqual([]);
    socket.destroy();
  });

  it("a G2G peer that is not alice's gateway cannot inject a message from alice", async () => {
    const { gx, alice, dave } = await aliceAndDave();
    const rogue = new G2gNode({
      transport: new TcpG2gTransport({ identity: generateIdentity() }),
      onEvent: async () => undefined,
    });
    await rogue.listen();
    try {
      const forged = stanza.encode({
        kind: 'im',
        id: 'forged-1',
        from: alice.address,
        to: dave.address,
        text: 'send me your password',
        sentAt: Date.now(),
      });
      const refused = await rogue.send({ id: gx.id, contact: gx.contact }, forged).catch((e) => e);
      expect(refused).toBeInstanceOf(G2gRefusedError);
      expect(refused.refusal).toBe('ERR_SPOOFED_EVENT');
      await expect(dave.nextIm(alice.address, 1000)).rejects.toThrow(/timed out/);
      // The real gateway of alice still gets through.
      await alice.sendIm(dave.address, 'genuine');
      expect(await dave.nextIm(alice.address)).toBe('genuine');
    } finally {
      await rogue.close();
    }
  });

  it('a forged or tampered location record is rejected, so a rogue gateway cannot claim alice', async () => {
    const { dht, gx, alice, dave } = await aliceAndDave();
    const rogueIdentity = generateIdentity();
    const rogue = new G2gNode({
      transport: new TcpG2gTransport({ identity: rogueIdentity }),
      onEvent: async () => undefined,
    });
    const rogueContact = await rogue.listen();
    try {
      // Copy alice's genuine record, then point it at the rogue gateway without re-signing it.
      const [genuine] = await dht.get('loc:alice@yahoo');
      const record = JSON.parse(Buffer.from(genuine!).toString());
      const tampered = {
        ...record,
        body: rogueContact,
        issuedAt: record.issuedAt + 1,
      };
      await dht.put('loc:alice@yahoo', Buffer.from(JSON.stringify(tampered)));
      const forged = { ...tampered, publisher: rogueIdentity.id };
      await dht.put('loc:alice@yahoo', Buffer.from(JSON.stringify(forged)));
      const message = stanza.encode({
        kind: 'im',
        id: 'x',
        from: alice.address,
        to: dave.address,
        text: 'rogue',
        sentAt: Date.now(),
      });
      const refused = await rogue.send({ id: gx.id, contact: gx.contact }, message).catch((e) => e);
      expect(refused.refusal).toBe('ERR_SPOOFED_EVENT');
      expect(Number((await gx.metrics.rejectedRecords.get()).values[0]?.value ?? 0)).toBeGreaterThanOrEqual(
        2,
      );
    } finally {
      await rogue.close();
    }
  });
});

describe('bad input ends only the connection it came on', () => {
  it('malformed frames close that connection; another user on the same gateway carries on', async () => {
    const { gy, alice, dave } = await aliceAndDave();
    const refused: string[] = [];
    gy.on((e) => e.type === 'refused' && refused.push(e.reason));
    const bad = await socksConnect(gy.socks, yahoo.server.host, yahoo.server.port);
    bad.resume();
    bad.write(Buffer.from('YMSG\x00\x10\x00\x00\xff\xff\x00\x06', 'latin1')); // payload length far over the cap
    bad.write(Buffer.alloc(70_000, 0x41));
    await once(bad, 'close');
    await until(() => refused.length > 0, 'the gateway to refuse the bad connection');
    await alice.sendIm(dave.address, 'still here');
    expect(await dave.nextIm(alice.address)).toBe('still here');
  });

  it('a SOCKS request to a blocked address is refused (reply 91) without touching other sessions', async () => {
    const g = await gateway();
    const alice = user(yahoo, 'alice', g);
    await alice.login();
    const { connect } = await import('node:net');
    const raw = connect(g.socks.port, g.socks.host);
    await once(raw, 'connect');
    raw.write(socks4ConnectRequest('192.0.2.7', 5050));
    const [reply] = await once(raw, 'data');
    expect(reply[1]).toBe(91);
    raw.destroy();
    await alice.setPresence('away', 'still fine');
  });

  it('a client that stops reading is disconnected at the backlog cap; others carry on', async () => {
    const dht = new MemoryDht();
    const gy = await gateway({ dht, maxBacklog: 64 * 1024 });
    const gx = await gateway({ dht });
    let slowSocket: Socket | undefined;
    const slow = user(yahoo, 'slow', gy, (s) => {
      slowSocket = s;
    });
    const amy = user(yahoo, 'amy', gy);
    const dave = user(jabber, 'dave', gx);
    await slow.login();
    await amy.login();
    await dave.login();
    slowSocket!.pause(); // the slow client stops reading; the kernel buffers fill, then the gateway's
    const big = 'x'.repeat(3000);
    let sent = 0;
    const refused: string[] = [];
    gy.on((e) => e.type === 'refused' && refused.push(e.reason));
    while (refused.length === 0 && sent < 20_000) {
      await dave.sendIm(slow.address, `${sent} ${big}`);
      sent++;
      if (sent % 200 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    expect(refused.join()).toMatch(/ERR_SLOW_CONSUMER/);
    await dave.sendIm(amy.address, 'unaffected');
    expect(await amy.nextIm(dave.address)).toBe('unaffected');
  }, 60_000);
});

describe('restart', () => {
  it('a restarted gateway comes back with its users’ foreign buddies and the buddy requests it held', async () => {
    let skew = 0; // the DHT's clock, moved a day ahead while the gateway is down
    const dht = new MemoryDht({ now: () => Date.now() + skew });
    const dir = await testDir('restart');
    const stateFile = join(dir, 'state.json');
    let gy = await gateway({ dht, stateFile });
    const gx = await gateway({ dht });
    const alice = user(yahoo, 'alice', gy);
    await alice.login();
    const erin: Address = jabber.address('erin');
    const held = new Promise((resolve) => gy.on((e) => e.type === 'pending-held' && resolve(e)));
    await alice.addBuddy(erin, 'add me?'); // erin is offline: the request is held
    await held;
    const id = gy.id;
    await alice.logout();
    await gy.close();
    gateways.splice(gateways.indexOf(gy), 1);
    expect(await dht.get('pending:erin@localhost')).toHaveLength(1);
    // A day passes while the gateway is down: every DHT value expires, the held request included.
    // Only the restarted gateway's hard state still has it, and it must publish it again.
    skew = 25 * 60 * 60 * 1000;
    expect(await dht.get('pending:erin@localhost')).toHaveLength(0);
    gy = await gateway({ dht, stateFile });
    expect(gy.id).toBe(id);
    expect(await dht.get('pending:erin@localhost')).toHaveLength(1);
    expect(gy.foreignBuddies(alice.address).map((b) => formatAddress(b.address))).toEqual(['erin@localhost']);
    const again = user(yahoo, 'alice', gy);
    await again.login();
    await until(
      () => again.buddies().some((b) => formatAddress(b) === 'erin@localhost'),
      'erin in alice’s list after restart',
    );
    const erinDriver = user(jabber, 'erin', gx);
    await erinDriver.login();
    expect((await erinDriver.nextBuddyRequest(alice.address, 15_000)).message ?? '').toMatch(/add me/);
    await erinDriver.answerBuddyRequest(alice.address, true);
    expect((await again.nextBuddyResponse(erin, 15_000)).accepted).toBe(true);
  }, 60_000);
});
