import { createHash } from 'node:crypto';
import { oscar } from '@crosstalk/codec-oscar';
import { ymsg } from '@crosstalk/codec-ymsg';
import { type MockYmsgServer, ScriptedYmsgClient, startMockYmsgServer } from '@crosstalk/codec-ymsg/testing';
import { type Address, addressKey, type CanonicalEvent, MemoryDht, parseAddress } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource, createClient, type ShimClient } from '../src/index.js';
import { Heard, TEXT, TEXT_BACK, until } from './support.js';

/**
 * A client-API user (alice@aol, a node of her own) and Yahoo users with an unmodified (scripted)
 * YMSG client whose SOCKS4 proxy is a real gateway (`createGateway`), their server a mock YMSG
 * server; one MemoryDht, real sockets on 127.0.0.1 throughout. The walk-through across the two
 * ways in, both directions, and requests held for whoever is offline. The gateway bridges `aol` too
 * (the OSCAR codec): a SOCKS session treats an address as foreign only on a network its gateway
 * bridges, so that is where the API users live.
 */

const alice = parseAddress('alice@aol');
let dht: MemoryDht;
let gateway: Gateway;
let server: MockYmsgServer;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  dht = new MemoryDht();
  server = await startMockYmsgServer({
    users: ['bob', 'carol', 'erin', 'grace'].map((id) => ({ id, password: `${id}-pw` })),
  });
  gateway = await createGateway({ codecs: [ymsg(), oscar()], dht, socks: { port: 0 }, logger: false });
  if (process.env.E2E_DEBUG)
    gateway.on((e) => process.stderr.write(`G ${JSON.stringify(e).slice(0, 300)}\n`));
}, 60_000);

afterAll(async () => {
  for (const c of open.reverse()) await c.close().catch(() => {});
  await gateway?.close();
  await server?.close();
});

/** A Yahoo user logged in through the gateway (YMSG16 header, as libpurple writes it). */
async function yahooUser(id: string): Promise<ScriptedYmsgClient> {
  const client = await ScriptedYmsgClient.connect({
    host: server.host,
    port: server.port,
    id,
    password: `${id}-pw`,
    version: 0x0010,
    dial: (host, port) => socksConnect(gateway.socks, host, port),
    isForeign: (a) => a.network !== 'yahoo',
    timeoutMs: 15_000,
  });
  open.push(client);
  await client.login();
  const user = { user: id, network: 'yahoo' };
  await until(
    async () => (await gateway.directory.lookupLocation(user))?.gateway === gateway.id,
    `${id}@yahoo published by the gateway`,
  );
  return client;
}

async function apiUser(who: Address): Promise<ShimClient> {
  const client = await createClient({ identity: { address: who }, network: who.network, dht });
  open.push(client);
  return client;
}

const fromUser = (who: Address) => (e: CanonicalEvent) =>
  'from' in e && addressKey(e.from) === addressKey(who);

describe('a client-API user and Yahoo users behind a SOCKS gateway', () => {
  it('the walk-through both ways, with requests held for an offline user on either side', async () => {
    const a = await apiUser(alice);
    const heardA = new Heard(a);
    const bob = await yahooUser('bob');
    const bobAddress = parseAddress('bob@yahoo');

    // The API user asks, the Yahoo user accepts (by adding her back, as YMSG does).
    expect(await a.addBuddy(bobAddress, 'hi bob, it is alice')).toBe('delivered');
    const request = await bob.waitForEvent((e) => e.kind === 'buddy-request' && fromUser(alice)(e));
    expect(request).toMatchObject({ message: 'hi bob, it is alice' });
    bob.addBuddy('alice@aol', 'Friends');
    expect(await heardA.next('buddy-response', fromUser(bobAddress), "bob's answer")).toMatchObject({
      accepted: true,
    });
    await until(
      () => a.roster().some((i) => addressKey(i.address) === 'bob@yahoo' && i.subscription === 'both'),
      'bob mutual in alice roster',
    );
    await bob.waitForEvent((e) => e.kind === 'presence' && fromUser(alice)(e) && e.status === 'online');

    // IMs both ways, non-ASCII.
    await a.sendIM(bobAddress, TEXT);
    expect(await bob.waitForEvent((e) => e.kind === 'im' && fromUser(alice)(e))).toMatchObject({
      text: TEXT,
    });
    bob.sendMessage('alice@aol', TEXT_BACK);
    expect((await heardA.next('im', fromUser(bobAddress), "bob's IM")).text).toBe(TEXT_BACK);

    // Typing both ways.
    await a.sendTyping(bobAddress, 'composing');
    expect(await bob.waitForEvent((e) => e.kind === 'typing' && fromUser(alice)(e))).toMatchObject({
      state: 'composing',
    });
    bob.sendTyping('alice@aol', true);
    expect((await heardA.next('typing', fromUser(bobAddress), "bob's typing")).state).toBe('composing');

    // Presence both ways.
    await a.setPresence('away', 'at lunch ☕');
    expect(
      await bob.waitForEvent((e) => e.kind === 'presence' && fromUser(alice)(e) && e.status === 'away'),
    ).toMatchObject({ text: 'at lunch ☕' });
    bob.setAway('brb');
    expect(
      await heardA.next('presence', (e) => fromUser(bobAddress)(e) && e.status === 'away', "bob's away"),
    ).toMatchObject({ text: 'brb' });

    // A request from the API user to a Yahoo user who is offline: held, delivered at her login.
    expect(await a.addBuddy(parseAddress('carol@yahoo'), 'for later')).toBe('held');
    const carol = await yahooUser('carol');
    expect(await carol.waitForEvent((e) => e.kind === 'buddy-request' && fromUser(alice)(e))).toMatchObject({
      message: 'for later',
    });

    // A request from a Yahoo user to an API user who is offline: held, delivered when her client starts.
    const dave = parseAddress('dave@aol');
    const erin = await yahooUser('erin');
    erin.addBuddy('dave@aol', 'Friends', 'hello dave');
    await until(
      async () => (await gateway.directory.pendingFor(dave)).length > 0,
      'the request held for dave',
    );
    const d = await apiUser(dave);
    const heardD = new Heard(d);
    expect(
      await heardD.next('buddy-request', fromUser(parseAddress('erin@yahoo')), "erin's held request"),
    ).toMatchObject({
      message: 'hello dave',
    });
    expect(d.buddyRequests()).toHaveLength(1);
  });

  it('a file offered to a Yahoo user reaches them as a notice IM (name, size, SHA-256, how to fetch it)', async () => {
    const a = await apiUser(parseAddress('frank@aol'));
    const heard = new Heard(a);
    const grace = await yahooUser('grace');
    const data = new TextEncoder().encode('the minutes of the meeting, ünïcode included\n'.repeat(100));
    const sha256 = createHash('sha256').update(data).digest('hex');
    const offer = await a.sendFile(parseAddress('grace@yahoo'), bytesSource('minutes.txt', data), {
      link: 'https://files.example/minutes.txt',
    });
    expect(offer).toMatchObject({ name: 'minutes.txt', size: data.length, sha256 });
    const im = await grace.waitForEvent((e) => e.kind === 'im' && fromUser(parseAddress('frank@aol'))(e));
    const text = im.kind === 'im' ? im.text : '';
    expect(text).toContain('minutes.txt');
    expect(text).toContain(data.length.toLocaleString('en-US'));
    expect(text).toContain(sha256);
    expect(text).toContain('https://files.example/minutes.txt');
    // The sender is told too, once, by the system address.
    expect((await heard.next('im', (e) => e.from.network === 'crosstalk', 'the loss notice')).text).toContain(
      'file transfers',
    );
    // Nothing can fetch it over CrossTalk: the offer is not kept open.
    expect(await a.withdrawFile(offer.id)).toBe(false);
    // A link that is not one is refused before anything is sent.
    await expect(
      a.sendFile(parseAddress('grace@yahoo'), bytesSource('x.txt', data), { link: 'a\nb' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_FILE_OFFER' });
    // And the client goes on: an IM after it arrives.
    await a.sendIM(parseAddress('grace@yahoo'), TEXT);
    expect(
      await grace.waitForEvent(
        (e) => e.kind === 'im' && fromUser(parseAddress('frank@aol'))(e) && e.text === TEXT,
      ),
    ).toBeTruthy();
  });
});
