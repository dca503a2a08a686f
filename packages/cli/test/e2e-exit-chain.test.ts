import { PassThrough, Readable } from 'node:stream';
import { captureLoopback, liveCaptureAvailable } from '@crosstalk/compliance';
import { type Address, MemoryDht, parseAddress } from '@crosstalk/core';
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
import { route } from '../src/commands/route.js';
import { resolveSipExitConfig, sipExit } from '../src/commands/sip-exit.js';
import { defaultRegistry } from '../src/index.js';

// Issue 17: a chain that ends in an exit. bob is a real baresip that is NOT registered anywhere; the
// SIP exit is configured to exit to his domain (sip.example) at his address. A client-API user on a
// node of her own dials bob@sip.example: no user location answers for him, so her node composes a
// chain through the capability graph that ends in the exit's `canonical:json>exit:sip`, sends the
// call-invite in a signed envelope, and the exit places the call over SIP to the configured target.

const EXIT_DOMAIN = 'sip.crosstalk.test';
const OUTBOUND = 'sip.example';
const alice = parseAddress('alice@aol');
const bob: Address = { user: 'bob', network: OUTBOUND };
const OFFER =
  'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n';

function io() {
  const stdout = new PassThrough();
  const out: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  return {
    io: { stdin: Readable.from([]), stdout, stderr: new PassThrough() },
    stdout: () => Buffer.concat(out).toString(),
  };
}

describe.skipIf(!installed('baresip'))('dialCall along a chain that ends in the SIP exit', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup() {
    const dht = new MemoryDht();
    // bob's phone: no registration (regint=0), listening on its own port; it answers by itself.
    const phone: Baresip = await startBaresip(`<sip:bob@${OUTBOUND};transport=udp>;regint=0;answermode=auto`);
    cleanup.push(() => phone.stop());
    const exitNode: CrossTalkNode = await createNode({ dht, logger: false });
    cleanup.push(() => exitNode.close());
    const events: SipExitEvent[] = [];
    const exit: SipExit = await createSipExit({
      dht,
      identity: generateIdentity(),
      domain: EXIT_DOMAIN,
      host: '127.0.0.1',
      udpPort: 0,
      tcpPort: 0,
      users: { carol: 'carol-pw' },
      allowTarget: (d) => d.host === '127.0.0.1',
      node: exitNode,
      outbound: { [OUTBOUND]: `127.0.0.1:${phone.port}` },
      onEvent: (e) => events.push(e),
    });
    cleanup.push(() => exit.close());
    const a: ShimClient = await createClient({ identity: { address: alice }, network: 'aol', dht });
    cleanup.push(() => a.close());
    await a.node.routing.refresh();
    return { dht, exit, exitNode, a, phone, events };
  }

  it.skipIf(!liveCaptureAvailable())(
    'alice dials the unregistered bob@sip.example: ringing, answer, hangup through the exit; INVITE/180/200/ACK/BYE on the wire',
    async () => {
      const { exit, exitNode, a, phone, events } = await setup();
      // No location answers for bob: the chain ends in the exit.
      expect(await a.node.directory.lookupLocation(bob)).toBeUndefined();
      const chain = a.node.routing.route('api', OUTBOUND);
      expect(chain?.steps.map((s) => [s.from, s.to, s.gateway])).toEqual([
        ['canonical:json', 'exit:sip', exitNode.id],
      ]);
      const capture = await captureLoopback({
        ports: [],
        udp: [exit.addresses.udpPort as number, phone.port],
      });
      cleanup.push(() => capture.dispose());

      let rang = false;
      const call = await a.dialCall(bob, { sdp: OFFER, onRinging: () => (rang = true) });
      const { sdp } = await call.answered;
      expect(sdp).toMatch(/m=audio \d+ RTP\/AVP/);
      expect(rang).toBe(true);
      await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED');
      // The exit placed it from the envelope, as a call to the configured target.
      const placed = events.find((e) => e.type === 'call-placed');
      expect(placed?.type === 'call-placed' && placed.invite.to).toEqual(bob);
      const delivered = (await exitNode.metrics.routed.get()).values.find(
        (v) => v.labels.role === 'delivery',
      );
      expect(delivered?.value).toBeGreaterThanOrEqual(1);
      await call.hangup();
      expect(await call.ended).toEqual({ by: 'local', reason: 'hangup' });
      await phone.waitFor((e) => e.type === 'CALL_CLOSED');
      await capture.stop();
      const seen = sipMessages(capture.file);
      const order = ['INVITE', '180 INVITE', '200 INVITE', 'ACK', 'BYE', '200 BYE'];
      expectFirstInOrder(seen, order);
      // No REGISTER anywhere: bob was reached by the exit's configuration, not a registration.
      expect(seen).not.toContain('REGISTER');

      // The phone hangs up a second call: alice hears it as a hangup from bob.
      const second = await a.dialCall(bob, { sdp: OFFER });
      await second.answered;
      await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED' && e !== undefined);
      await phone.command('hangup');
      expect(await second.ended).toMatchObject({ by: 'remote' });
    },
    60_000,
  );

  it('crosstalk route --from api --to sip prints the chain ending in the exit', async () => {
    const { dht, exitNode } = await setup();
    const t = io();
    expect(await route(defaultRegistry(), { from: 'api', to: 'sip' }, t.io, { dht })).toBe(0);
    const text = t.stdout();
    expect(text).toContain(`Route from api (canonical:json) to sip (${OUTBOUND}):`);
    expect(text).toMatch(
      new RegExp(`1 +canonical:json > exit:sip +${exitNode.id.slice(0, 12)}… +1 +call-invite, call-signal`),
    );
    const byDomain = io();
    expect(
      await route(defaultRegistry(), { from: 'api', to: OUTBOUND, json: true }, byDomain.io, { dht }),
    ).toBe(0);
    expect(JSON.parse(byDomain.stdout()).route.steps).toEqual([
      {
        from: 'canonical:json',
        to: 'exit:sip',
        gateway: exitNode.id,
        cost: 1,
        keeps: ['call-invite', 'call-signal'],
      },
    ]);
  }, 60_000);

  it('crosstalk sip-exit --outbound takes loopback targets only (SipOutboundTargetError otherwise)', async () => {
    for (const target of ['10.0.0.1:5060', 'localhost:5060', 'tcp:[2001:db8::1]:5060', '127.0.0.1'])
      await expect(
        resolveSipExitConfig({ domain: EXIT_DOMAIN, outbound: [`${OUTBOUND}=${target}`] }),
      ).rejects.toMatchObject({ name: 'SipOutboundTargetError', code: 'ERR_SIP_OUTBOUND_TARGET' });
    const stderr = new PassThrough();
    const err: Buffer[] = [];
    stderr.on('data', (d: Buffer) => err.push(d));
    const code = await sipExit(
      { domain: EXIT_DOMAIN, outbound: [`${OUTBOUND}=192.0.2.7:5060`] },
      { stdin: Readable.from([]), stdout: new PassThrough(), stderr },
    );
    expect(code).toBe(1);
    expect(Buffer.concat(err).toString()).toMatch(/192\.0\.2\.7 is not a loopback address/);
    // Loopback, both transports, IPv6 in brackets: accepted (the users check comes next).
    await expect(
      resolveSipExitConfig({
        domain: EXIT_DOMAIN,
        outbound: [`${OUTBOUND}=127.0.0.1:5070`, 'other.example=tcp:[::1]:5071'],
      }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/^users:/) });
    await expect(
      createSipExit({
        dht: new MemoryDht(),
        identity: generateIdentity(),
        domain: EXIT_DOMAIN,
        udpPort: 0,
        tcpPort: 0,
        openRegistration: true,
        outbound: { [OUTBOUND]: '10.1.2.3:5060' },
      }),
    ).rejects.toMatchObject({ code: 'ERR_SIP_OUTBOUND_TARGET' });
  });
});
