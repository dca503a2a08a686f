import { stanza } from '@crosstalk/codec-xmpp';
import { captureLoopback, liveCaptureAvailable } from '@crosstalk/compliance';
import {
  type Address,
  type CallInviteEvent,
  type CallSignalEvent,
  MemoryDht,
  parseAddress,
} from '@crosstalk/core';
import { type CrossTalkNode, createNode, generateIdentity } from '@crosstalk/gateway';
import { createClient, type ShimClient } from '@crosstalk/shim';
import { createSipExit, type SipExit, type SipExitEvent } from '@crosstalk/sip-exit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Baresip,
  expectFirstInOrder,
  installed,
  sipMessages,
  startBaresip,
} from '../../sip-exit/test/support/programs.js';
import { startYmsgNetwork } from '../src/drivers/index.js';
import { startGateway, through } from './support/gateway.js';
import { online, until as pollUntil } from './support/walkthrough.js';

// Issue 19: a client-API user (createClient, a node of its own) and a real baresip registered with
// digest at a SIP exit on another node; the call's signalling crosses G2G as canonical call-invite
// and call-signal events, and the exit speaks SIP to the phone. tshark reads the SIP port's capture.

const DOMAIN = 'sip.crosstalk.test';
const USERS = { bob: 'bob-pw' };
const alice = parseAddress('alice@aol');
const bob: Address = { user: 'bob', network: DOMAIN };
const OFFER =
  'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n';
const ANSWER =
  'v=0\r\no=alice 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40004 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n';

/** The shared poll, with this file's 20 s bound (a call crosses a SIP exit and a real phone). */
const until = (check: () => boolean | Promise<boolean>, what: string, timeout = 20_000) =>
  pollUntil(check, what, timeout);

describe.skipIf(!installed('baresip'))('dialCall to and from a real baresip through a SIP exit', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup(answer: 'auto' | 'manual') {
    const dht = new MemoryDht();
    const exitNode: CrossTalkNode = await createNode({ dht, logger: false });
    cleanup.push(() => exitNode.close());
    const events: SipExitEvent[] = [];
    const exit: SipExit = await createSipExit({
      dht,
      identity: generateIdentity(),
      domain: DOMAIN,
      host: '127.0.0.1',
      udpPort: 0,
      tcpPort: 0,
      users: USERS,
      allowTarget: (d) => d.host === '127.0.0.1',
      node: exitNode,
      onEvent: (e) => events.push(e),
    });
    cleanup.push(() => exit.close());
    const a: ShimClient = await createClient({ identity: { address: alice }, network: 'aol', dht });
    cleanup.push(() => a.close());
    const phone: Baresip = await startBaresip(
      `<sip:bob@127.0.0.1:${exit.addresses.udpPort};transport=udp>;auth_pass=${USERS.bob};regint=600;answermode=${answer};outbound="sip:127.0.0.1:${exit.addresses.udpPort}"`,
    );
    cleanup.push(() => phone.stop());
    // Registered with digest (a 401 first, then the 200): bob is a user of the exit's node.
    await phone.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await until(
      async () => (await a.node.directory.lookupLocation(bob))?.gateway === exitNode.id,
      'bob found',
    );
    const invites: CallInviteEvent[] = [];
    const signals: CallSignalEvent[] = [];
    a.on('call-invite', (e) => invites.push(e));
    a.on('call-signal', (e) => signals.push(e));
    return { dht, exit, exitNode, a, phone, events, invites, signals };
  }

  it.skipIf(!liveCaptureAvailable())(
    'alice dials baresip (auto-answer): ringing, the SDP answer at answered, hangup; INVITE/180/200/ACK/BYE on the SIP port',
    async () => {
      const { exit, a, phone } = await setup('auto');
      // The exit advertises the capability dialCall's route ends at.
      expect(a.node.routing.networks()).toBeDefined();
      const capture = await captureLoopback({
        ports: [exit.addresses.tcpPort as number],
        udp: [exit.addresses.udpPort as number],
      });
      cleanup.push(() => capture.dispose());
      let rang = false;
      const call = await a.dialCall(bob, { sdp: OFFER, onRinging: () => (rang = true) });
      const { sdp } = await call.answered;
      expect(sdp).toMatch(/^v=0\r\n/);
      expect(sdp).toMatch(/m=audio \d+ RTP\/AVP/);
      expect(rang).toBe(true);
      await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED');
      await call.hangup();
      expect(await call.ended).toEqual({ by: 'local', reason: 'hangup' });
      await phone.waitFor((e) => e.type === 'CALL_CLOSED');
      await capture.stop();
      const seen = sipMessages(capture.file);
      const order = ['INVITE', '180 INVITE', '200 INVITE', 'ACK', 'BYE', '200 BYE'];
      expectFirstInOrder(seen, order);

      // The phone hangs up a second call: alice hears the hangup.
      const second = await a.dialCall(bob, { sdp: OFFER });
      await second.answered;
      await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED' && e.id !== undefined);
      await until(
        () => phone.events.filter((e) => e.type === 'CALL_ESTABLISHED').length >= 2,
        'second call up',
      );
      await phone.command('hangup');
      expect(await second.ended).toMatchObject({ by: 'remote' });
    },
    60_000,
  );

  it('baresip dials alice, who answers; then declines a second call; the caller cancels a third before an answer', async () => {
    const { a, phone, invites, signals, exit } = await setup('manual');
    const calls = () => phone.events.filter((e) => e.type === 'CALL_CLOSED').length;

    // 1: answered with alice's SDP; the phone hangs up, alice hears it.
    await phone.command('dial', `sip:alice@aol`);
    await until(() => invites.length >= 1, 'the first invite');
    const first = invites[0]!;
    expect(first).toMatchObject({ from: bob, to: alice, media: ['audio'] });
    expect(first.sdp).toMatch(/m=audio \d+ RTP\/AVP/);
    const session = await a.answerCall(first, { sdp: ANSWER });
    await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED');
    await phone.command('hangup');
    expect(await session.ended).toMatchObject({ by: 'remote' });
    await until(() => calls() >= 1, 'call 1 closed at the phone');

    // 2: declined: the phone hears 603.
    await phone.command('dial', `sip:alice@aol`);
    await until(() => invites.length >= 2, 'the second invite');
    await a.declineCall(invites[1]!);
    await until(() => calls() >= 2, 'call 2 closed at the phone');
    expect(phone.events.filter((e) => e.type === 'CALL_ESTABLISHED')).toHaveLength(1);
    expect(phone.output()).toMatch(/603 Decline/);

    // 3: the phone cancels while it rings: alice hears the cancel, and cannot answer it any more.
    await phone.command('dial', `sip:alice@aol`);
    await until(() => invites.length >= 3, 'the third invite');
    await phone.waitFor((e) => e.type === 'CALL_RINGING');
    await phone.command('hangup');
    await until(
      () => signals.some((s) => s.id === invites[2]!.id && s.signal === 'cancel'),
      'the cancel at alice',
    );
    await expect(a.answerCall(invites[2]!, { sdp: ANSWER })).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_CALL',
    });
    await until(() => calls() >= 3, 'call 3 closed at the phone');
    expect(phone.events.filter((e) => e.type === 'CALL_ESTABLISHED')).toHaveLength(1);
    void exit;
  }, 60_000);

  it("who may say what at the exit: a signal for a call it does not bridge, or from someone not the call's party, is refused and counted", async () => {
    const { dht, exitNode, phone, events, a } = await setup('manual');
    const mallory = parseAddress('mallory@jabber.example');
    const other = await createNode({ dht, logger: false });
    cleanup.push(() => other.close());
    const m = await other.attach(mallory, { deliver: () => true }, { protocol: 'api' });
    await until(
      async () => (await other.directory.lookupLocation(mallory))?.gateway === other.id,
      'mallory findable',
    );
    const refused = async (reason: string) =>
      (await exitNode.metrics.refused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

    // Alice calls bob (his phone rings, manual answer).
    const call = await a.dialCall(bob, { sdp: OFFER });
    await phone.waitFor((e) => e.type === 'CALL_INCOMING');
    // Mallory's node cancels it, then answers it: neither is hers to say.
    const before = await refused('ERR_CALL_SIGNAL_REFUSED');
    for (const signal of ['cancel', 'hangup'] as const)
      await expect(m.send({ kind: 'call-signal', id: call.id, to: bob, signal })).rejects.toMatchObject({
        code: 'ERR_USER_OFFLINE',
      });
    expect(await refused('ERR_CALL_SIGNAL_REFUSED')).toBe(before + 2);
    expect(events.filter((e) => e.type === 'signal-refused')).toHaveLength(2);
    // A call id the exit does not bridge.
    const unknown = await refused('ERR_UNKNOWN_CALL');
    await expect(
      m.send({ kind: 'call-signal', id: 'no-such-call', to: bob, signal: 'hangup' }),
    ).rejects.toMatchObject({
      code: 'ERR_USER_OFFLINE',
    });
    expect(await refused('ERR_UNKNOWN_CALL')).toBe(unknown + 1);
    // The phone still rings: alice's own cancel ends it.
    expect(phone.events.some((e) => e.type === 'CALL_CLOSED')).toBe(false);
    await call.hangup();
    await phone.waitFor((e) => e.type === 'CALL_CLOSED');
  }, 60_000);
});

describe('a call to a user of a protocol without calls (Yahoo behind a SOCKS gateway)', () => {
  it('the Yahoo user gets an IM saying who called and how to call back; the caller gets NoCallRouteError; nothing else breaks', async () => {
    const yahoo = await startYmsgNetwork([{ name: 'bob', password: 'bob-pw' }]);
    const dht = new MemoryDht();
    const gateway = await startGateway(dht);
    // The SOCKS gateways of these tests speak codec-xmpp's stanza form on G2G: so does the client.
    const a = await createClient({ identity: { address: alice }, network: 'aol', dht, canonical: stanza });
    const bobYahoo = yahoo.driver('bob', through(gateway));
    try {
      await online(bobYahoo, gateway);
      await until(
        async () => (await a.node.directory.lookupLocation(bobYahoo.address)) !== undefined,
        'bob findable',
      );
      await expect(a.dialCall(bobYahoo.address, { sdp: OFFER, media: ['audio'] })).rejects.toMatchObject({
        name: 'NoCallRouteError',
        code: 'ERR_NO_CALL_ROUTE',
      });
      const notice = await bobYahoo.nextIm(alice);
      expect(notice).toContain('alice@aol called you (a voice call)');
      expect(notice).toContain('To call back, call alice@aol');
      expect(a.activeCalls).toBe(0);
      // The conversation goes on: an IM both ways after the call that could not be.
      await a.sendIM(bobYahoo.address, 'still here?');
      expect(await bobYahoo.nextIm(alice)).toBe('still here?');
    } finally {
      await bobYahoo.disconnect().catch(() => {});
      await a.close();
      await gateway.close();
      await yahoo.stop();
    }
  }, 60_000);
});
