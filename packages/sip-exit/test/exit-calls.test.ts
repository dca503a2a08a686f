import { captureLoopback, liveCaptureAvailable } from '@crosstalk/compliance';
import { type CallInviteEvent, isCrossTalkError, MemoryDht } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingCall, SipCallFailedError } from '../src/index.js';
import { DOMAIN, startExit, type TestExit, USERS } from './support/exits.js';
import { type Baresip, installed, sipMessages, startBaresip } from './support/programs.js';

// The exit as a user agent for CrossTalk users (issue 19's canonical side, on the SIP side): a call
// placed for a CrossTalk user to a real phone (baresip) mapped to core's CallSession (answer with
// the callee's SDP, busy, timeout, CANCEL, BYE both ways), and calls from the phone to an address
// no phone registered offered as canonical call-invite events (answered, declined, cancelled).

const OFFER = [
  'v=0',
  'o=alice 1 1 IN IP4 127.0.0.1',
  's=crosstalk',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

function account(user: keyof typeof USERS, exit: TestExit, answer: 'auto' | 'manual', extra = ''): string {
  return `<sip:${user}@127.0.0.1:${exit.addresses.udpPort};transport=udp>;auth_pass=${USERS[user]};regint=600;answermode=${answer}${extra}`;
}

let n = 0;
function inviteTo(user: string): CallInviteEvent {
  return {
    kind: 'call-invite',
    id: `call-${++n}`,
    from: { user: 'alice', network: 'jabber.example' },
    to: { user, network: DOMAIN },
    sdp: OFFER,
    media: ['audio'],
  };
}

async function failure(promise: Promise<unknown>): Promise<SipCallFailedError> {
  try {
    await promise;
  } catch (error) {
    if (isCrossTalkError(error, 'ERR_SIP_CALL_FAILED')) return error as SipCallFailedError;
    throw error;
  }
  throw new Error('the call did not fail');
}

describe.skipIf(!installed('baresip'))('calls between CrossTalk users and phones, through the exit', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  const setup = async (answer: 'auto' | 'manual', options: Parameters<typeof startExit>[1] = {}) => {
    const exit = await startExit(new MemoryDht(), options);
    cleanup.push(() => exit.close());
    const bob = await startBaresip(account('bob', exit, answer));
    cleanup.push(() => bob.stop());
    await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);
    return { exit, bob };
  };

  it.skipIf(!liveCaptureAvailable())(
    'a CrossTalk user calls a phone: answered with its SDP, hung up with BYE; INVITE/180/200/ACK/BYE on the wire',
    async () => {
      const { exit, bob } = await setup('auto');
      const capture = await captureLoopback({ ports: [], udp: [exit.addresses.udpPort as number] });
      cleanup.push(() => capture.dispose());
      let rang = false;
      const call = await exit.placeCall(inviteTo('bob'), {
        onRinging: () => {
          rang = true;
        },
      });
      expect(call.id).toBe(`call-${n}`);
      expect(call.peer).toEqual({ user: 'bob', network: DOMAIN });
      const { sdp } = await call.answered;
      expect(sdp).toMatch(/^v=0\r\n/);
      expect(sdp).toMatch(/m=audio \d+ RTP\/AVP 0/);
      await bob.waitFor((e) => e.type === 'CALL_ESTABLISHED');
      await call.hangup();
      await bob.waitFor((e) => e.type === 'CALL_CLOSED');
      expect(await call.ended).toEqual({ by: 'local', reason: 'BYE' });
      await capture.stop();
      const seen = sipMessages(capture.file);
      const steps = ['INVITE', '200 INVITE', 'ACK', 'BYE', '200 BYE'];
      if (rang) steps.splice(1, 0, '180 INVITE');
      expect(seen.filter((m) => steps.includes(m))).toEqual(steps);
    },
    60_000,
  );

  it('the phone hangs up: the call ends as the remote end', async () => {
    const { exit, bob } = await setup('auto');
    const call = await exit.placeCall(inviteTo('bob'));
    await call.answered;
    await bob.waitFor((e) => e.type === 'CALL_ESTABLISHED');
    await bob.command('hangup');
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });
  });

  it('busy: the phone rejects the call (486)', async () => {
    const { exit, bob } = await setup('manual');
    const call = await exit.placeCall(inviteTo('bob'));
    await bob.waitFor((e) => e.type === 'CALL_INCOMING');
    await bob.command('hangup');
    const error = await failure(call.answered);
    expect([486, 603]).toContain(error.status);
    expect((await call.ended).by).toBe('remote');
  });

  it('no answer: the ring timeout cancels the phone and the call fails 408', async () => {
    const { exit, bob } = await setup('manual');
    const call = await exit.placeCall(inviteTo('bob'), { ringTimeout: 1500 });
    await bob.waitFor((e) => e.type === 'CALL_INCOMING');
    expect((await failure(call.answered)).status).toBe(408);
    await bob.waitFor((e) => e.type === 'CALL_CLOSED');
  });

  it('the caller hangs up while it rings: CANCEL, the call fails 487', async () => {
    const { exit, bob } = await setup('manual');
    const controller = new AbortController();
    const call = await exit.placeCall(inviteTo('bob'), { signal: controller.signal });
    await bob.waitFor((e) => e.type === 'CALL_INCOMING');
    controller.abort();
    expect((await failure(call.answered)).status).toBe(487);
    await bob.waitFor((e) => e.type === 'CALL_CLOSED');
    expect((await call.ended).by).toBe('local');
  });

  it('nobody registered: 404 for an unknown user, 480 for a known one', async () => {
    const { exit } = await setup('auto');
    expect((await failure(exit.placeCall(inviteTo('nobody')))).status).toBe(404);
    expect((await failure(exit.placeCall(inviteTo('carol')))).status).toBe(480);
  });

  it('a phone calls a CrossTalk user: a call-invite answered, then one declined, then one the caller cancels', async () => {
    const offered: IncomingCall[] = [];
    const waiters: ((c: IncomingCall) => void)[] = [];
    const exit = await startExit(new MemoryDht(), {
      onCallInvite: (call) => {
        if (call.invite.to.network !== 'jabber.example') return false;
        offered.push(call);
        waiters.shift()?.(call);
        return true;
      },
    });
    cleanup.push(() => exit.close());
    const next = () => new Promise<IncomingCall>((resolve) => waiters.push(resolve));
    // The phone sends everything through the exit (its outbound proxy), also calls to other domains.
    const bob: Baresip = await startBaresip(
      account('bob', exit, 'auto', `;outbound="sip:127.0.0.1:${exit.addresses.udpPort}"`),
    );
    cleanup.push(() => bob.stop());
    await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);

    // 1. Answered, then hung up by the phone.
    let offer = next();
    await bob.command('dial', 'sip:alice@jabber.example');
    let call = await offer;
    expect(call.invite).toMatchObject({
      kind: 'call-invite',
      from: { user: 'bob', network: DOMAIN },
      to: { user: 'alice', network: 'jabber.example' },
      media: ['audio'],
    });
    expect(call.invite.sdp).toMatch(/m=audio \d+ RTP\/AVP/);
    await bob.waitFor((e) => e.type === 'CALL_RINGING');
    call.accept(OFFER);
    await bob.waitFor((e) => e.type === 'CALL_ESTABLISHED');
    await bob.command('hangup');
    expect(await call.ended).toEqual({ by: 'remote', reason: 'BYE' });

    // 2. Declined.
    const closedBefore = bob.events.filter((e) => e.type === 'CALL_CLOSED').length;
    offer = next();
    await bob.command('dial', 'sip:alice@jabber.example');
    call = await offer;
    call.decline('decline');
    await bob.waitFor(
      (e) =>
        e.type === 'CALL_CLOSED' && bob.events.filter((x) => x.type === 'CALL_CLOSED').length > closedBefore,
    );
    expect(bob.events.filter((e) => e.type === 'CALL_CLOSED').at(-1)?.param ?? '').toMatch(/603|Decline/);
    expect((await call.ended).by).toBe('local');

    // 3. The caller gives up before an answer.
    offer = next();
    await bob.command('dial', 'sip:alice@jabber.example');
    call = await offer;
    await bob.waitFor(
      (e) => e.type === 'CALL_RINGING' && bob.events.filter((x) => x.type === 'CALL_RINGING').length >= 3,
    );
    await bob.command('hangup');
    expect(await call.ended).toEqual({ by: 'remote', reason: 'CANCEL' });
    expect(call.cancelled.aborted).toBe(true);
    expect(offered).toHaveLength(3);
  }, 60_000);

  it('a call to a CrossTalk user that nobody answers is answered 480 after the ring timeout', async () => {
    let offered: IncomingCall | undefined;
    const exit = await startExit(new MemoryDht(), {
      ringTimeout: 1000,
      onCallInvite: (call) => {
        offered = call;
        return true;
      },
    });
    cleanup.push(() => exit.close());
    const bob = await startBaresip(
      account('bob', exit, 'auto', `;outbound="sip:127.0.0.1:${exit.addresses.udpPort}"`),
    );
    cleanup.push(() => bob.stop());
    await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.command('dial', 'sip:alice@jabber.example');
    const closed = await bob.waitFor((e) => e.type === 'CALL_CLOSED');
    expect(closed.param ?? '').toMatch(/480/);
    expect(await offered?.ended).toEqual({ by: 'local', reason: 'unavailable' });
  }, 60_000);
});
