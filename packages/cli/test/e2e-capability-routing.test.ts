import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Address } from '@crosstalk/core';
import { CapabilityView } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NetworkFixture, startOscarNetwork, type UserDriver } from '../src/drivers/index.js';
import {
  type DirectoryReader,
  directoryReader,
  type GatewayProcess,
  startGatewayProcess,
  startTestnetProcess,
  type TestnetProcess,
} from './support/distributed.js';
import { lineReader, startToyIrcServer, type ToyIrcServer } from './support/irc-server.js';

/**
 * Capability routing across processes (issue 17): 20 hyperdht nodes in a process of their own and
 * four gateway processes started through the CLI on them. A proxies OSCAR and speaks only the JSON
 * canonical form (`--canonical json`); B and C proxy nothing and convert between JSON and stanzas;
 * D loads the third-party IRC codec by path (`examples/codec-irc`) and speaks only stanzas. An AIM
 * user on A and an IRC user on D (a line client on a toy IRC server, through D's SOCKS front) add
 * each other and chat both ways: A and D share no canonical form, so every event crosses B or C.
 */
const IRC_CODEC = fileURLToPath(new URL('../../../examples/codec-irc', import.meta.url));

let dir: string;
let testnet: TestnetProcess;
let reader: DirectoryReader;
let irc: ToyIrcServer;
let aim: NetworkFixture;
const gateways: Record<'a' | 'b' | 'c' | 'd', GatewayProcess> = {} as never;
let bob: UserDriver;
let alice: { socket: Socket; lines: ReturnType<typeof lineReader>; say(line: string): void };
const aliceAddress: Address = { user: 'alice', network: 'irc' };

/** Resolves once the gateway logged a read of the capability graph that reaches `network`. */
function reads(g: GatewayProcess, network: string): Promise<void> {
  const match = (line: Record<string, unknown>) =>
    line.msg === 'read the capability graph' &&
    (line.networks as string[] | undefined)?.includes(network) === true;
  if (g.log.some((l) => l.includes('read the capability graph') && match(JSON.parse(l))))
    return Promise.resolve();
  return g.nextLog(match, `a read of the capability graph reaching ${network}`, 60_000);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crosstalk-routing-'));
  testnet = await startTestnetProcess(20);
  reader = await directoryReader(testnet.bootstrap);
  irc = await startToyIrcServer();
  aim = await startOscarNetwork([{ name: 'bob', password: 'bobpw' }]);
  const start = (name: 'a' | 'b' | 'c' | 'd', config: Record<string, unknown>) =>
    startGatewayProcess({
      name: `gw-${name}`,
      bootstrap: testnet.bootstrap,
      reader,
      stateFile: join(dir, `${name}.state.json`),
      config,
      // The graph is read again every third of it: gateways started later are found within seconds.
      softTtl: 6000,
    }).then((g) => {
      gateways[name] = g;
    });
  await start('d', { codecs: [IRC_CODEC], canonical: ['xmpp-stanza'] });
  await start('b', { codecs: [], canonical: ['json', 'xmpp-stanza'] });
  await start('c', { codecs: [], canonical: ['json', 'xmpp-stanza'] });
  await start('a', { codecs: ['oscar'], canonical: ['json'] });
  await Promise.all([reads(gateways.a, 'irc'), reads(gateways.d, 'aol')]);
  const socket = await socksConnect(gateways.d.socks, irc.host, irc.port);
  const lines = lineReader(socket);
  alice = { socket, lines, say: (line) => socket.write(`${line}\r\n`) };
  alice.say('NICK alice');
  alice.say('USER alice 0 * :alice');
  await lines.nextLine(/ 001 alice /);
  bob = aim.driver('bob', (host, port) => socksConnect(gateways.a.socks, host, port));
  await bob.login();
}, 180_000);

afterAll(async () => {
  alice?.socket.destroy();
  await bob?.disconnect().catch(() => {});
  for (const g of Object.values(gateways)) await g.stop().catch(() => {});
  await aim?.stop();
  await irc?.close();
  await reader?.close();
  await testnet?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('capability routing between gateway processes on hyperdht', () => {
  it('the directory gives oscar -> JSON (A) -> stanzas (B or C) -> IRC (D)', async () => {
    const view = new CapabilityView({ lookup: reader.directory, cacheTtl: 60_000 });
    await view.refresh(['oscar', 'canonical:json', 'canonical:xmpp-stanza']);
    const route = view.route({ from: 'oscar', network: 'irc', gateway: gateways.d.id })!;
    expect(route.steps.map((s) => `${s.from}>${s.to}`)).toEqual([
      'oscar>canonical:json',
      'canonical:json>canonical:xmpp-stanza',
      'canonical:xmpp-stanza>irc',
    ]);
    expect(route.steps.map((s) => s.gateway)).toEqual([
      gateways.a.id,
      expect.stringMatching(new RegExp(`^(${gateways.b.id}|${gateways.c.id})$`)),
      gateways.d.id,
    ]);
  });

  it('bob (AIM on A) adds alice@irc (on D), she accepts, and they chat both ways in non-ASCII', async () => {
    await bob.addBuddy(aliceAddress, 'hi alice');
    await alice.lines.nextLine(/^:bob%aol!\S+ NOTICE alice :.*wants to add you as a buddy/);
    alice.say('PRIVMSG bob%aol :\x01ACCEPT\x01');
    expect(await bob.nextBuddyResponse(aliceAddress, 30_000)).toEqual({ accepted: true });
    await bob.sendIm(aliceAddress, 'Grüße 日本語 🎉');
    await alice.lines.nextLine(/^:bob%aol!\S+ PRIVMSG alice :Grüße 日本語 🎉$/);
    alice.say('PRIVMSG bob%aol :ça va? ☕');
    expect(await bob.nextIm(aliceAddress, 30_000)).toBe('ça va? ☕');
    // A and D share no canonical form: what passed between them was relayed by a converter.
    const relayed = [gateways.b, gateways.c].flatMap((g) =>
      g.log.filter((l) => l.includes('relayed a routed event')),
    );
    expect(relayed.length).toBeGreaterThanOrEqual(4);
  }, 90_000);
});
