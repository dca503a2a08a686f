import { type Address, addressKey, MemoryDht, parseAddress } from '@crosstalk/core';
import { type CrossTalkNode, createNode, type UserSession } from '@crosstalk/gateway';
import { EndpointInbox } from '@crosstalk/gateway/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { DOMAIN, startExit, USERS } from './support/exits.js';
import { installed, startBaresip } from './support/programs.js';

// The exit as a way in to the engine (`node.attach`): a phone registered at the exit is a user of
// the exit's node, so a call-invite a CrossTalk user sends it (over G2G, from another node) rings
// the phone; and a phone's call to a CrossTalk user reaches that user as a call-invite.

const OFFER =
  'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n';

async function until(check: () => boolean | Promise<boolean>, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!installed('baresip'))('the SIP exit as a way in to a CrossTalk node', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('a CrossTalk user on another node calls a phone, and the phone calls the CrossTalk user', async () => {
    const dht = new MemoryDht();
    const nodeA: CrossTalkNode = await createNode({ dht, logger: false });
    cleanup.push(() => nodeA.close());
    const nodeB: CrossTalkNode = await createNode({ dht, logger: false });
    cleanup.push(() => nodeB.close());
    const exit = await startExit(dht, { node: nodeB });
    cleanup.push(() => exit.close());

    const alice = parseAddress('alice@aol');
    const inbox = new EndpointInbox();
    const session: UserSession = await nodeA.attach(alice, inbox, { protocol: 'test-api' });
    cleanup.push(() => session.detach());

    const phone = await startBaresip(
      `<sip:bob@127.0.0.1:${exit.addresses.udpPort};transport=udp>;auth_pass=${USERS.bob};regint=600;answermode=auto;outbound="sip:127.0.0.1:${exit.addresses.udpPort}"`,
    );
    cleanup.push(() => phone.stop());
    const bob: Address = { user: 'bob', network: DOMAIN };
    // Registered at the exit: a user of node B, published in the directory like any other.
    await until(
      async () => (await nodeA.directory.lookupLocation(bob))?.gateway === nodeB.id,
      'bob on node B',
    );
    expect(nodeB.users().map(addressKey)).toContain(addressKey(bob));

    // alice (node A) sends bob a call-invite: over G2G to node B, then a SIP call to his phone.
    const outcome = await session.send({
      kind: 'call-invite',
      id: 'call-from-alice',
      to: bob,
      sdp: OFFER,
      media: ['audio'],
    });
    expect(outcome).toBe('delivered');
    await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED');
    const placed = await exit.waitFor((e) => e.type === 'call-placed');
    if (placed.type !== 'call-placed') throw new Error('unreachable');
    expect(placed.invite.from).toEqual(alice);
    expect((await placed.call.answered).sdp).toMatch(/m=audio \d+ RTP\/AVP/);
    await placed.call.hangup();
    await phone.waitFor((e) => e.type === 'CALL_CLOSED');

    // bob's phone calls alice@aol: a call-invite from bob reaches alice on node A.
    await phone.command('dial', 'sip:alice@aol');
    const invite = await inbox.next((e) => e.kind === 'call-invite', 'the call-invite at alice', 20_000);
    expect(invite).toMatchObject({ kind: 'call-invite', from: bob, to: alice, media: ['audio'] });
    expect(invite?.kind === 'call-invite' && invite.sdp).toMatch(/m=audio \d+ RTP\/AVP/);
    await phone.command('hangup');
    const closedCount = () => phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
    await until(() => closedCount() >= 2, 'the phone giving up');

    // Unregistered (baresip quits): bob is no longer a user of node B.
    await phone.stop();
    await until(() => !nodeB.users().some((u) => addressKey(u) === addressKey(bob)), 'bob detached');
  }, 60_000);
});
