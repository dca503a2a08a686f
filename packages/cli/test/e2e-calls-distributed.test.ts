import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Address, type CallInviteEvent, type CallSignalEvent, parseAddress } from '@crosstalk/core';
import { createClient, type ShimClient } from '@crosstalk/shim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Baresip, installed, startBaresip } from '../../sip-exit/test/support/programs.js';
import { hostPorts, startTestnetProcess, type TestnetProcess } from './support/distributed.js';
import { until as pollUntil } from './support/walkthrough.js';

/**
 * Calls across processes (issue 19): a hyperdht testnet in a process of its own, a SIP exit started
 * with `crosstalk sip-exit --bootstrap ...` in another, a real baresip registered with digest at
 * it, and a client-API user (createClient on hyperdht) in this process. The registration, the
 * exit's capability and the phone's location cross the DHT; the call's signalling crosses G2G over
 * hyperdht's Noise streams; the exit speaks SIP to the phone.
 */

const RUN_FROM_SOURCE = ['--import', 'tsx', '--conditions=@crosstalk/source'];
const cliBin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const DOMAIN = 'sip.crosstalk.test';
const alice = parseAddress('alice@aol');
const bob: Address = { user: 'bob', network: DOMAIN };
const OFFER =
  'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n';
const ANSWER =
  'v=0\r\no=alice 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40004 RTP/AVP 0\r\n';
/** A step across processes and the DHT (lookups take tens of ms, a publish a few hundred; the machine is shared). */
const STEP_MS = 30_000;

/** The shared poll, bounded by a step across processes. */
const until = (check: () => boolean | Promise<boolean>, what: string, timeout = STEP_MS) =>
  pollUntil(check, what, timeout);

let dir: string;
let testnet: TestnetProcess;
let exitProcess: ChildProcess;
let sipPort: number;
let client: ShimClient;
let phone: Baresip;
/** A phone registered nowhere: the exit reaches it by its --outbound configuration (issue 17). */
let dave: Baresip | undefined;
let exitId: string;
const OUTBOUND = 'sip.example';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crosstalk-e2e-calls-'));
  testnet = await startTestnetProcess(20);
  await writeFile(join(dir, 'users.json'), JSON.stringify({ bob: 'bob-pw' }));
  if (installed('baresip'))
    dave = await startBaresip(`<sip:dave@${OUTBOUND};transport=udp>;regint=0;answermode=auto`);
  exitProcess = spawn(
    process.execPath,
    [
      ...RUN_FROM_SOURCE,
      cliBin,
      'sip-exit',
      '--domain',
      DOMAIN,
      '--udp',
      '0',
      '--tcp',
      '0',
      '--users-file',
      join(dir, 'users.json'),
      '--key',
      join(dir, 'exit.pem'),
      '--bootstrap',
      hostPorts(testnet.bootstrap),
      '--log-level',
      'silent',
      ...(dave ? ['--outbound', `${OUTBOUND}=127.0.0.1:${dave.port}`] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  exitProcess.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const banner = await new Promise<string>((resolve, reject) => {
    exitProcess.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Stop with Ctrl-C/.test(out)) resolve(out);
    });
    exitProcess.once('exit', (code) =>
      reject(new Error(`crosstalk sip-exit exited (${code}): ${out}${err}`)),
    );
  });
  sipPort = Number(/ udp\/(\d+)/.exec(banner)?.[1]);
  exitId = /node ([0-9a-f]{64})/.exec(banner)?.[1] ?? '';
  expect(sipPort).toBeGreaterThan(0);
  client = await createClient({
    identity: { address: alice },
    network: 'aol',
    hyperdht: { bootstrap: testnet.bootstrap.map(({ host, port }) => ({ host, port })) },
    findableTimeout: STEP_MS,
  });
}, 120_000);

afterAll(async () => {
  await phone?.stop();
  await dave?.stop();
  await client?.close();
  if (exitProcess && exitProcess.exitCode === null) {
    const exited = once(exitProcess, 'exit');
    exitProcess.kill('SIGTERM');
    await exited;
  }
  await testnet?.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!installed('baresip'))(
  'calls with the exit in a process of its own (crosstalk sip-exit), on hyperdht',
  () => {
    it('a client-API user calls baresip at the exit (answered with its SDP, hung up); baresip calls the user, who answers', async () => {
      phone = await startBaresip(
        `<sip:bob@127.0.0.1:${sipPort};transport=udp>;auth_pass=bob-pw;regint=600;answermode=auto;outbound="sip:127.0.0.1:${sipPort}"`,
      );
      await phone.waitForOutput(/200 OK \(\) \[1 binding\]/, STEP_MS);
      // The phone's location, published by the exit's node, found through the DHT.
      await until(async () => (await client.node.directory.lookupLocation(bob)) !== undefined, 'bob found');

      let rang = false;
      const call = await client.dialCall(bob, { sdp: OFFER, onRinging: () => (rang = true) });
      const { sdp } = await call.answered;
      expect(sdp).toMatch(/m=audio \d+ RTP\/AVP/);
      expect(rang).toBe(true);
      await phone.waitFor((e) => e.type === 'CALL_ESTABLISHED', STEP_MS);
      await call.hangup();
      await phone.waitFor((e) => e.type === 'CALL_CLOSED', STEP_MS);

      // The other way: the phone calls alice@aol through the exit; she answers.
      const invites: CallInviteEvent[] = [];
      const signals: CallSignalEvent[] = [];
      client.on('call-invite', (e) => invites.push(e));
      client.on('call-signal', (e) => signals.push(e));
      await phone.command('dial', 'sip:alice@aol');
      await until(() => invites.length > 0, 'the invite at alice');
      expect(invites[0]).toMatchObject({ from: bob, to: alice });
      const answered = await client.answerCall(invites[0]!, { sdp: ANSWER });
      await until(
        () => phone.events.filter((e) => e.type === 'CALL_ESTABLISHED').length >= 2,
        'the second call up at the phone',
      );
      await phone.command('hangup');
      expect(await answered.ended).toMatchObject({ by: 'remote' });
    }, 180_000);

    it('a client-API user calls a phone registered nowhere: the chain ends in the exit process, which calls its --outbound target', async () => {
      const daveAddress: Address = { user: 'dave', network: OUTBOUND };
      expect(exitId).toMatch(/^[0-9a-f]{64}$/);
      // The exit's edge canonical:json>exit:sip, read from the DHT.
      await until(async () => {
        await client.node.routing.refresh();
        return client.node.routing.route('api', OUTBOUND) !== undefined;
      }, 'the chain to the exit');
      expect(client.node.routing.route('api', OUTBOUND)?.steps.map((s) => [s.to, s.gateway])).toEqual([
        ['exit:sip', exitId],
      ]);
      let rang = false;
      const call = await client.dialCall(daveAddress, { sdp: OFFER, onRinging: () => (rang = true) });
      expect((await call.answered).sdp).toMatch(/m=audio \d+ RTP\/AVP/);
      expect(rang).toBe(true);
      await dave!.waitFor((e) => e.type === 'CALL_ESTABLISHED', STEP_MS);
      await call.hangup();
      await dave!.waitFor((e) => e.type === 'CALL_CLOSED', STEP_MS);
    }, 180_000);
  },
);
