import { captureLoopback, liveCaptureAvailable } from '@crosstalk/compliance';
import { MemoryDht } from '@crosstalk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DOMAIN, startExit, type TestExit, USERS } from './support/exits.js';
import {
  type Baresip,
  expectFirstInOrder,
  installed,
  sipMessages,
  startBaresip,
} from './support/programs.js';

// Real user agents (PEERS.md "SIP"): baresip, installed by .ci/run, registering with digest
// authentication and auto-answering; tshark's SIP dissector reads the capture independently.

/** A baresip account line for `user` registering at `exit` (regint: the REGISTER's Expires). */
function account(
  user: keyof typeof USERS,
  exit: TestExit,
  options: { transport?: 'udp' | 'tcp'; answer?: 'auto' | 'manual' } = {},
): string {
  const transport = options.transport ?? 'udp';
  const port = transport === 'udp' ? exit.addresses.udpPort : exit.addresses.tcpPort;
  return `<sip:${user}@127.0.0.1:${port};transport=${transport}>;auth_pass=${USERS[user]};regint=600;answermode=${options.answer ?? 'auto'}`;
}

/** The final responses to INVITEs an exit passed up or sent. */
function inviteFinals(exit: TestExit): number[] {
  return exit.events.flatMap((e) => (e.type === 'answered' && e.method === 'INVITE' ? [e.status] : []));
}

describe.skipIf(!installed('baresip'))('SIP exit with baresip', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  const phone = async (line: string): Promise<Baresip> => {
    const b = await startBaresip(line);
    cleanup.push(() => b.stop());
    return b;
  };

  it('registers baresip with digest authentication; the registration is in the directory, and gone after it unregisters', async () => {
    const dht = new MemoryDht();
    const exit = await startExit(dht);
    cleanup.push(() => exit.close());
    const alice = await phone(account('alice', exit));
    await alice.waitForOutput(/alice@127\.0\.0\.1: \{0\/UDP\/v4\} 200 OK/);
    // baresip sent a REGISTER without credentials first, and was challenged.
    expect(
      exit.events
        .filter((e) => e.type === 'answered' && e.method === 'REGISTER')
        .map((e) => 'status' in e && e.status),
    ).toEqual([401, 200]);
    const aor = `alice@${DOMAIN}`;
    const [registration] = await exit.lookup(aor);
    expect(registration?.exit).toBe(exit.id);
    expect(registration?.contacts[0]?.uri).toMatch(
      new RegExp(`^sip:alice[^@]*@127\\.0\\.0\\.1:${alice.port}`),
    );
    // A wrong password is refused: the exit never registers it.
    const mallory = await phone(account('bob', exit).replace(USERS.bob, 'wrong'));
    await mallory.waitForOutput(/reg: sip:bob@127\.0\.0\.1:\d+: 401 Unauthorized/);
    expect(await exit.lookup(`bob@${DOMAIN}`)).toEqual([]);
    // Quitting unregisters (Expires: 0): the record is withdrawn from the directory.
    await alice.stop();
    await exit.waitFor((e) => e.type === 'unregistered' && e.aor === aor);
    expect(await exit.lookup(aor)).toEqual([]);
  });

  it.skipIf(!liveCaptureAvailable())(
    'a call between two baresip phones at two exits: INVITE/180/200/ACK/BYE on the wire',
    async () => {
      const dht = new MemoryDht();
      const exitA = await startExit(dht);
      cleanup.push(() => exitA.close());
      const exitB = await startExit(dht);
      cleanup.push(() => exitB.close());
      const alice = await phone(account('alice', exitA));
      const bob = await phone(account('bob', exitB));
      await alice.waitForOutput(/200 OK \(\) \[1 binding\]/);
      await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);
      const capture = await captureLoopback({
        ports: [exitA.addresses.tcpPort as number, exitB.addresses.tcpPort as number],
        udp: [exitA.addresses.udpPort as number, exitB.addresses.udpPort as number],
      });
      cleanup.push(() => capture.dispose());
      // bob dials alice at his own exit; exit B finds her registration (exit A's) in the DHT.
      const dialled = await bob.command('dial', `sip:alice@127.0.0.1:${exitB.addresses.udpPort}`);
      expect(dialled.ok).toBe(true);
      await alice.waitFor((e) => e.type === 'CALL_ESTABLISHED');
      await bob.waitFor((e) => e.type === 'CALL_ESTABLISHED');
      await bob.command('hangup');
      await alice.waitFor((e) => e.type === 'CALL_CLOSED');
      await bob.waitFor((e) => e.type === 'CALL_CLOSED');
      await capture.stop();
      const seen = sipMessages(capture.file);
      // Each message crosses three legs (bob->B, B->A over TCP, A->alice); in order on each.
      const order = ['INVITE', '180 INVITE', '200 INVITE', 'ACK', 'BYE', '200 BYE'];
      for (const step of order)
        expect(seen.filter((m) => m === step).length, `${step} in ${seen.join(', ')}`).toBeGreaterThanOrEqual(
          3,
        );
      expectFirstInOrder(seen, order);
      expect(exitB.events.some((e) => e.type === 'forwarded' && e.method === 'INVITE' && e.exitHop)).toBe(
        true,
      );
    },
    60_000,
  );

  it('the caller cancels before an answer: CANCEL crosses both exits, the callee answers 487', async () => {
    const dht = new MemoryDht();
    const exitA = await startExit(dht);
    cleanup.push(() => exitA.close());
    const exitB = await startExit(dht);
    cleanup.push(() => exitB.close());
    const alice = await phone(account('alice', exitA, { answer: 'manual' }));
    const bob = await phone(account('bob', exitB, { transport: 'tcp' }));
    await alice.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.command('dial', `sip:alice@127.0.0.1:${exitB.addresses.tcpPort};transport=tcp`);
    await alice.waitFor((e) => e.type === 'CALL_INCOMING');
    await bob.waitFor((e) => e.type === 'CALL_RINGING');
    await bob.command('hangup');
    await alice.waitFor((e) => e.type === 'CALL_CLOSED');
    await bob.waitFor((e) => e.type === 'CALL_CLOSED');
    expect(alice.events.some((e) => e.type === 'CALL_ESTABLISHED')).toBe(false);
    await exitB.waitFor((e) => e.type === 'answered' && e.method === 'INVITE');
    expect(inviteFinals(exitA)).toEqual([487]);
    expect(inviteFinals(exitB)).toEqual([487]);
  }, 60_000);

  it('the callee declines: the refusal reaches the caller through both exits', async () => {
    const dht = new MemoryDht();
    const exitA = await startExit(dht);
    cleanup.push(() => exitA.close());
    const exitB = await startExit(dht);
    cleanup.push(() => exitB.close());
    const alice = await phone(account('alice', exitA, { answer: 'manual' }));
    const bob = await phone(account('bob', exitB));
    await alice.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.command('dial', `sip:alice@127.0.0.1:${exitB.addresses.udpPort}`);
    await alice.waitFor((e) => e.type === 'CALL_INCOMING');
    await alice.command('hangup');
    const closed = await bob.waitFor((e) => e.type === 'CALL_CLOSED');
    expect(closed.param ?? '').toMatch(/486|603|Busy|Decline/i);
    await exitB.waitFor((e) => e.type === 'answered' && e.method === 'INVITE');
    const [status] = inviteFinals(exitB);
    expect([486, 603]).toContain(status);
    expect(inviteFinals(exitA)).toEqual([status]);
  }, 60_000);

  it('nobody answers: Timer C (the ring timeout) cancels the callee and answers the caller 408', async () => {
    const dht = new MemoryDht();
    const exit = await startExit(dht, { ringTimeout: 1500 });
    cleanup.push(() => exit.close());
    const alice = await phone(account('alice', exit, { answer: 'manual' }));
    const bob = await phone(account('bob', exit));
    await alice.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.waitForOutput(/200 OK \(\) \[1 binding\]/);
    await bob.command('dial', `sip:alice@127.0.0.1:${exit.addresses.udpPort}`);
    await alice.waitFor((e) => e.type === 'CALL_INCOMING');
    const closed = await bob.waitFor((e) => e.type === 'CALL_CLOSED');
    expect(closed.param ?? '').toMatch(/408/);
    // The exit cancelled alice's phone: it stops ringing without being answered.
    await alice.waitFor((e) => e.type === 'CALL_CLOSED');
    expect(inviteFinals(exit)[0]).toBe(408);
  }, 60_000);
});
