import {
  type Address,
  type CallSignalEvent,
  type CanonicalEvent,
  isCrossTalkError,
  MemoryDht,
  parseAddress,
} from '@crosstalk/core';
import { type CrossTalkNode, createNode, type UserSession } from '@crosstalk/gateway';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type ShimClient } from '../src/index.js';
import { Heard, until } from './support.js';

/**
 * Calls between two client-API users on two nodes (issue 19): no SIP phone, the offer and answer
 * carried as canonical `call-invite` / `call-signal` events over G2G (TCP with Noise on
 * 127.0.0.1), and the receiver's rules on who may say what.
 */

const alice = parseAddress('alice@aol');
const bob = parseAddress('bob@yahoo');
const mallory = parseAddress('mallory@jabber.example');
const OFFER =
  'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
const ANSWER =
  'v=0\r\no=bob 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n';

const clients: ShimClient[] = [];
const nodes: CrossTalkNode[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const n of nodes.splice(0)) await n.close();
});

async function client(dht: MemoryDht, who: Address): Promise<ShimClient> {
  const c = await createClient({ identity: { address: who }, network: who.network, dht });
  clients.push(c);
  return c;
}

/** A user attached to a node of its own, sending whatever events a test wants (an attacker's node). */
async function raw(
  dht: MemoryDht,
  who: Address,
  cannot: readonly string[] = [],
): Promise<{ session: UserSession; heard: CanonicalEvent[] }> {
  const node = await createNode({ dht, logger: false });
  nodes.push(node);
  const heard: CanonicalEvent[] = [];
  // `cannot`: kinds this user's client cannot show (a legacy client without calls).
  const deliver = (e: CanonicalEvent) => !cannot.includes(e.kind) && heard.push(e) > 0;
  const session = await node.attach(who, { deliver }, { protocol: 'legacy' });
  await until(
    async () => (await node.directory.lookupLocation(who))?.gateway === node.id,
    `${who.user} findable`,
  );
  return { session, heard };
}

async function refusals(c: ShimClient, reason: string): Promise<number> {
  const metric = await c.node.metrics.refused.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

const is = (signal: CallSignalEvent['signal']) => (e: CallSignalEvent) => e.signal === signal;

describe('calls between two client-API users on two nodes', () => {
  it('dial, ringing, answer with SDP, hangup by the caller; then the callee hangs up a second call', async () => {
    const dht = new MemoryDht();
    const a = await client(dht, alice);
    const b = await client(dht, bob);
    const heardA = new Heard(a);
    const heardB = new Heard(b);
    let rang = false;
    const call = await a.dialCall(bob, { sdp: OFFER, media: ['audio'], onRinging: () => (rang = true) });
    const invite = await heardB.next('call-invite', (e) => e.id === call.id, 'the invite');
    expect(invite).toMatchObject({ from: alice, to: bob, sdp: OFFER, media: ['audio'] });
    await until(() => rang, 'ringing at the caller');
    const answered = await b.answerCall(invite, { sdp: ANSWER });
    expect(await call.answered).toEqual({ sdp: ANSWER });
    await expect(answered.answered).resolves.toEqual({ sdp: ANSWER });
    await heardA.next('call-signal', is('answer'), 'the answer event');
    await call.hangup();
    expect(await call.ended).toEqual({ by: 'local', reason: 'hangup' });
    expect(await answered.ended).toEqual({ by: 'remote', reason: 'hangup' });
    expect(a.activeCalls + b.activeCalls).toBe(0);

    const second = await a.dialCall(bob, { sdp: OFFER });
    const invite2 = await heardB.next('call-invite', (e) => e.id === second.id);
    const atB = await b.answerCall(invite2, { sdp: ANSWER });
    await second.answered;
    await atB.hangup('bye now');
    expect(await second.ended).toEqual({ by: 'remote', reason: 'bye now' });
  });

  it('declined, busy, cancelled by the caller before an answer, unanswered within the ring timeout', async () => {
    const dht = new MemoryDht();
    const a = await client(dht, alice);
    const b = await client(dht, bob);
    const heardB = new Heard(b);

    const declined = await a.dialCall(bob, { sdp: OFFER });
    await b.declineCall(await heardB.next('call-invite', (e) => e.id === declined.id));
    await expect(declined.answered).rejects.toMatchObject({
      name: 'CallDeclinedError',
      code: 'ERR_CALL_DECLINED',
    });

    const busy = await a.dialCall(bob, { sdp: OFFER });
    await b.declineCall(await heardB.next('call-invite', (e) => e.id === busy.id), 'busy');
    await expect(busy.answered).rejects.toMatchObject({ code: 'ERR_CALL_BUSY' });

    const cancelled = await a.dialCall(bob, { sdp: OFFER });
    const invite = await heardB.next('call-invite', (e) => e.id === cancelled.id);
    await cancelled.hangup();
    await expect(cancelled.answered).rejects.toMatchObject({ code: 'ERR_CALL_ENDED' });
    expect(await cancelled.ended).toEqual({ by: 'local', reason: 'cancel' });
    await heardB.next('call-signal', (e) => e.id === invite.id && e.signal === 'cancel', 'the cancel');
    await expect(b.answerCall(invite, { sdp: ANSWER })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_CALL' });

    // The ring timeout is the caller's: 300 ms here, so that the test does not wait a minute.
    const unanswered = await a.dialCall(bob, { sdp: OFFER, ringTimeout: 300 });
    const invite4 = await heardB.next('call-invite', (e) => e.id === unanswered.id);
    await expect(unanswered.answered).rejects.toMatchObject({ code: 'ERR_CALL_UNANSWERED' });
    await heardB.next(
      'call-signal',
      (e) => e.id === invite4.id && e.signal === 'cancel',
      'the cancel on timeout',
    );

    // An aborted dial cancels too.
    const controller = new AbortController();
    const aborted = await a.dialCall(bob, { sdp: OFFER, signal: controller.signal });
    await heardB.next('call-invite', (e) => e.id === aborted.id);
    controller.abort();
    await expect(aborted.answered).rejects.toMatchObject({ code: 'ERR_CALL_ENDED' });
    await heardB.next('call-signal', (e) => e.id === aborted.id && e.signal === 'cancel');
    expect(a.activeCalls + b.activeCalls).toBe(0);
  });

  it('who may say what: a third party cannot answer or hang up, the callee cannot cancel, the caller cannot answer, an unknown call id is refused; each counted', async () => {
    const dht = new MemoryDht();
    const a = await client(dht, alice);
    const b = await client(dht, bob);
    const heardB = new Heard(b);
    const m = await raw(dht, mallory);
    const call = await a.dialCall(bob, { sdp: OFFER });
    const invite = await heardB.next('call-invite', (e) => e.id === call.id);

    // Mallory's node answers Alice's call to Bob: refused (not a party), the call still rings.
    const forged = (signal: CallSignalEvent['signal'], to: Address, id = call.id) =>
      m.session.send({ kind: 'call-signal', id, to, signal, sdp: ANSWER }).catch((e: unknown) => e);
    const before = await refusals(a, 'ERR_CALL_SIGNAL_REFUSED');
    expect(isCrossTalkError(await forged('answer', alice), 'ERR_USER_OFFLINE')).toBe(true);
    expect(isCrossTalkError(await forged('hangup', alice), 'ERR_USER_OFFLINE')).toBe(true);
    expect(isCrossTalkError(await forged('cancel', bob), 'ERR_USER_OFFLINE')).toBe(true);
    expect(await refusals(a, 'ERR_CALL_SIGNAL_REFUSED')).toBe(before + 2);
    expect(await refusals(b, 'ERR_CALL_SIGNAL_REFUSED')).toBeGreaterThanOrEqual(1);

    // An unknown call id: refused and counted at the receiver.
    const unknown = await refusals(a, 'ERR_UNKNOWN_CALL');
    expect(isCrossTalkError(await forged('hangup', alice, 'no-such-call'), 'ERR_USER_OFFLINE')).toBe(true);
    expect(await refusals(a, 'ERR_UNKNOWN_CALL')).toBe(unknown + 1);

    // The parties themselves, out of turn. Mallory calls Bob, then "answers" her own call: refused.
    await m.session.send({ kind: 'call-invite', id: 'm-1', to: bob, sdp: OFFER, media: ['audio'] });
    const mInvite = await heardB.next('call-invite', (e) => e.id === 'm-1');
    const outOfTurn = await refusals(b, 'ERR_CALL_SIGNAL_REFUSED');
    expect(isCrossTalkError(await forged('answer', bob, 'm-1'), 'ERR_USER_OFFLINE')).toBe(true);
    expect(await refusals(b, 'ERR_CALL_SIGNAL_REFUSED')).toBe(outOfTurn + 1);
    // Bob calls Mallory, who as the callee "cancels" it (only a caller cancels): refused.
    const toM = await b.dialCall(mallory, { sdp: OFFER });
    await until(
      () => m.heard.some((e) => e.kind === 'call-invite' && e.id === toM.id),
      'the invite at mallory',
    );
    expect(isCrossTalkError(await forged('cancel', bob, toM.id), 'ERR_USER_OFFLINE')).toBe(true);
    expect(await refusals(b, 'ERR_CALL_SIGNAL_REFUSED')).toBe(outOfTurn + 2);
    // ... while her decline, hers to say, is taken.
    await m.session.send({ kind: 'call-signal', id: toM.id, to: bob, signal: 'decline' });
    await expect(toM.answered).rejects.toMatchObject({ code: 'ERR_CALL_DECLINED' });
    await b.declineCall(mInvite);

    let settled = false;
    void call.answered.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false); // nothing forged moved Alice's call

    // The real callee answers: the call goes on.
    const atB = await b.answerCall(invite, { sdp: ANSWER });
    expect(await call.answered).toEqual({ sdp: ANSWER });
    await atB.hangup();
    await call.ended;
  });

  it('a call that reaches a user whose client cannot take calls: their node sends them an IM saying who called, and declines', async () => {
    const dht = new MemoryDht();
    const a = await client(dht, alice);
    const m = await raw(dht, mallory, ['call-invite', 'call-signal']);
    const call = await a.dialCall(mallory, { sdp: OFFER, media: ['audio', 'video'] });
    await expect(call.answered).rejects.toMatchObject({ code: 'ERR_CALL_DECLINED' });
    await until(() => m.heard.some((e) => e.kind === 'im'), 'the IM at mallory');
    const notice = m.heard.find((e) => e.kind === 'im');
    expect(notice).toMatchObject({ from: alice, to: mallory });
    expect(notice?.kind === 'im' && notice.text).toContain('alice@aol called you (a video call)');
    expect(m.heard.some((e) => e.kind === 'call-invite')).toBe(false);
  });
});
