import { ScriptedXmppClient } from '@crosstalk/codec-xmpp/testing';
import { YmsgKey as K, YmsgService as S } from '@crosstalk/codec-ymsg';
import { ScriptedYmsgClient } from '@crosstalk/codec-ymsg/testing';
import { type Address, addressKey, type CanonicalEvent, formatAddress, MemoryDht } from '@crosstalk/core';
import type { Gateway, GatewayEvent } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type NetworkFixture, startXmppNetwork, startYmsgNetwork } from '../src/drivers/index.js';
import { refusals, testGateways } from './support/gateway.js';
import { until } from './support/walkthrough.js';

/**
 * Sender spoofing, per protocol and per event kind: a logged-in user whose client writes another
 * user's name as the sender (YMSG key 1 or 4, an XMPP `from` attribute) must reach nobody as that
 * user. The engine stamps the verified user as the sender; a claim that differs is refused,
 * counted under `crosstalk_refused_total{reason="ERR_SPOOFED_SENDER"}` and logged.
 */
let yahoo: NetworkFixture;
let jabber: NetworkFixture;
const closers: (() => Promise<unknown>)[] = [];
const { gateway, user, closeAll } = testGateways();

beforeAll(async () => {
  yahoo = await startYmsgNetwork([
    { name: 'alice', password: 'alicepw' },
    { name: 'amy', password: 'amypw' },
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
  for (const close of closers.splice(0)) await close();
  await closeAll();
});

const spoofRefusals = (g: Gateway) => refusals(g, 'ERR_SPOOFED_SENDER');

/** Every event any gateway delivered or translated whose sender is `victim`. */
function watchSender(victim: Address, ...gs: Gateway[]): CanonicalEvent[] {
  const seen: CanonicalEvent[] = [];
  for (const g of gs)
    g.on((e: GatewayEvent) => {
      if ((e.type === 'delivered' || e.type === 'translated') && 'from' in e.event) {
        if (addressKey(e.event.from) === addressKey(victim)) seen.push(e.event);
      }
      if (e.type === 'pending-held' && addressKey(e.event.from) === addressKey(victim)) seen.push(e.event);
    });
  return seen;
}

describe('a verified user cannot send as someone else', () => {
  it('YMSG: key 1 / key 4 naming another user, in an IM, typing, a buddy request and an answer', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const dave = user(jabber, 'dave', gx);
    await dave.login();
    const victim = yahoo.address('alice');
    const seen = watchSender(victim, gy, gx);

    const amy = await ScriptedYmsgClient.connect({
      ...yahoo.server,
      id: 'amy',
      password: 'amypw',
      version: 0x10,
      dial: (host, port) => socksConnect(gy.socks, host, port),
      isForeign: (a) => a.network !== 'yahoo',
    });
    closers.push(() => amy.close());
    await amy.login();
    await until(() => gy.users().some((u) => u.user === 'amy'), 'amy verified at her gateway');

    const to = 'dave@localhost';
    amy.send(S.MESSAGE, [
      [K.CURRENT_ID, 'alice'],
      [K.TARGET, to],
      [K.MESSAGE, 'spoofed im'],
    ]);
    amy.send(S.NOTIFY, [
      [K.SENDER, 'alice'],
      [K.TARGET, to],
      [K.MESSAGE, ' '],
      [K.FLAG, 1],
      [K.NOTIFY_TYPE, 'TYPING'],
    ]);
    amy.send(S.ADDBUDDY, [
      [K.CURRENT_ID, 'alice'],
      [K.BUDDY, to],
      [K.GROUP, 'Friends'],
    ]);
    amy.send(S.AUTH_REQ_15, [
      [K.CURRENT_ID, 'alice'],
      [K.TARGET, to],
      [K.FLAG, 1],
      [K.AUTH_FLAG, 0],
    ]);
    // A name that does not exist at all is refused the same way.
    amy.send(S.MESSAGE, [
      [K.CURRENT_ID, 'nobody-at-all'],
      [K.TARGET, to],
      [K.MESSAGE, 'from nobody'],
    ]);
    // Then a genuine message on the same connection: it arrives, as amy.
    amy.sendMessage(to, 'genuine');
    expect(await dave.nextIm(yahoo.address('amy'))).toBe('genuine');
    await until(async () => (await spoofRefusals(gy)) >= 5, 'five refusals counted');
    expect(await spoofRefusals(gy)).toBe(5);
    expect(seen.map((e) => e.kind)).toEqual([]);
    await expect(dave.nextIm({ user: 'nobody-at-all', network: 'yahoo' }, 300)).rejects.toThrow(/timed out/);
  }, 60_000);

  it('XMPP: a `from` naming another JID, in a message, chat state, subscription, answer and presence', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    await alice.login();
    const victim = jabber.address('dave');
    const seen = watchSender(victim, gy, gx);

    const erin = await ScriptedXmppClient.login({
      ...jabber.server,
      domain: jabber.network,
      user: 'erin',
      password: 'erinpw',
      resource: 'r',
      dial: (host, port) => socksConnect(gx.socks, host, port),
    });
    closers.push(() => erin.close());
    erin.sendPresence();
    await until(() => gx.users().some((u) => u.user === 'erin'), 'erin verified at her gateway');

    const to = 'alice@yahoo';
    const forged = 'dave@localhost/crosstalk';
    erin.send(`<message from='${forged}' to='${to}' type='chat' id='s1'><body>spoofed im</body></message>`);
    erin.send(
      `<message from='${forged}' to='${to}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
    );
    erin.send(`<presence from='${forged}' to='${to}' type='subscribe'/>`);
    erin.send(`<presence from='${forged}' to='${to}' type='subscribed'/>`);
    erin.send(`<presence from='${forged}'><show>away</show><status>as dave</status></presence>`);
    erin.send(`<message from='ghost@localhost' to='${to}' type='chat' id='s2'><body>ghost</body></message>`);
    // Her own, genuine message afterwards arrives as erin.
    erin.sendMessage(to, 'genuine');
    expect(await alice.nextIm(jabber.address('erin'))).toBe('genuine');
    await until(async () => (await spoofRefusals(gx)) >= 6, 'six refusals counted');
    expect(await spoofRefusals(gx)).toBe(6);
    expect(seen.map((e) => `${e.kind} ${'from' in e ? formatAddress(e.from) : ''}`)).toEqual([]);
    // dave's own presence record is untouched: erin's claim was not published as dave's.
    expect(await gx.directory.lookupPresence(victim)).toBeUndefined();
  }, 60_000);

  it('a `from` the client writes as its own full JID is its own: accepted', async () => {
    const dht = new MemoryDht();
    const gy = await gateway(dht);
    const gx = await gateway(dht);
    const alice = user(yahoo, 'alice', gy);
    await alice.login();
    const erin = await ScriptedXmppClient.login({
      ...jabber.server,
      domain: jabber.network,
      user: 'erin',
      password: 'erinpw',
      resource: 'r',
      dial: (host, port) => socksConnect(gx.socks, host, port),
    });
    closers.push(() => erin.close());
    erin.sendPresence();
    await until(() => gx.users().some((u) => u.user === 'erin'), 'erin verified');
    erin.send(`<message from='${erin.jid}' to='alice@yahoo' type='chat'><body>mine</body></message>`);
    expect(await alice.nextIm(jabber.address('erin'))).toBe('mine');
    expect(await spoofRefusals(gx)).toBe(0);
  }, 60_000);
});
