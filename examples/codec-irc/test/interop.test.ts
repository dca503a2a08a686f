import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { type NetworkFixture, startXmppNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { type Address, MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway, type GatewayEvent } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { irc } from '../src/index.js';
import { IiClient, iiAvailable, proxychainsConfig } from './support/ii.js';
import { IrssiClient, irssiAvailable } from './support/irssi.js';
import { type Ngircd, ngircdAvailable, startNgircd } from './support/ngircd.js';

// Interop with real programs from Debian (installed by .ci/run): ngIRCd, suckless ii, forced
// through the gateway's SOCKS4 front by proxychains4 (ii has no proxy setting of its own; the
// LD_PRELOAD wrapper hands its connect() to a SOCKS4 proxy), and prosody for the XMPP user.
// Two gateways on one in-memory DHT, each with the IRC codec and the built-in ones: alice's IRC
// client goes through gateway A, carol's XMPP client through gateway B, and what they say crosses
// between the gateways over G2G.

const available =
  ngircdAvailable() && iiAvailable() && spawnSync('sh', ['-c', 'command -v proxychains4']).status === 0;

/** The text both ways: accents, CJK, an astral emoji (4 UTF-8 bytes), so a chunk may end inside one. */
const TO_IRC = 'Grüße aus Jabber 日本語 🎉';
const TO_XMPP = 'ça va? ☕ 𝄞 привет';

/** Resolves with the first gateway event that matches (the tests' timeouts bound the wait). */
function nextEvent(g: Gateway, match: (e: GatewayEvent) => boolean): Promise<GatewayEvent> {
  return new Promise((resolve) => {
    const off = g.on((e) => {
      if (match(e)) {
        off();
        resolve(e);
      }
    });
  });
}

describe.skipIf(!available)(
  'irc: a real IRC client on ngIRCd and an XMPP user on prosody, through gateways',
  () => {
    const dht = new MemoryDht();
    let server: Ngircd;
    let xmpp: NetworkFixture;
    let gatewayA: Gateway;
    let gatewayB: Gateway;
    let proxyConfig: string;
    let ii: IiClient;
    let irssi: IrssiClient | undefined;
    let carol: UserDriver;
    const alice: Address = { user: 'alice', network: 'irc' };
    /** carol as alice's IRC client shows her: `carol%localhost` (names.ts). */
    let carolNick: string;

    beforeAll(async () => {
      server = await startNgircd();
      xmpp = await startXmppNetwork([{ name: 'carol', password: 'carolpw' }]);
      const gateway = () =>
        createGateway({
          codecs: [irc(), ...builtInCodecs()],
          dht,
          canonical: canonicalForm(),
          socks: { port: 0 },
          logger: false,
        });
      [gatewayA, gatewayB] = [await gateway(), await gateway()];
      if (process.env.E2E_DEBUG)
        for (const [n, g] of [
          ['A', gatewayA],
          ['B', gatewayB],
        ] as const)
          g.on((e) => process.stderr.write(`${n} ${JSON.stringify(e).slice(0, 300)}\n`));
      proxyConfig = proxychainsConfig(
        mkdtempSync(join(tmpdir(), 'crosstalk-proxychains-')),
        gatewayA.socks.port,
      );
      carol = xmpp.driver('carol', (host, port) => socksConnect(gatewayB.socks, host, port));
      carolNick = `carol%${xmpp.network}`;
    });

    afterAll(async () => {
      await ii?.stop();
      await irssi?.stop();
      await xmpp?.stop();
      await gatewayA?.close();
      await gatewayB?.close();
      await server?.stop();
      if (proxyConfig) rmSync(join(proxyConfig, '..'), { recursive: true, force: true });
    });

    it('ii logs in through the SOCKS4 front, and the gateway verifies alice on ngIRCd’s welcome', async () => {
      const verified = nextEvent(gatewayA, (e) => e.type === 'verified');
      ii = new IiClient({
        host: server.host,
        port: server.port,
        nick: 'alice',
        wrap: ['proxychains4', '-f', proxyConfig],
      });
      await ii.waitFor(/End of MOTD/);
      const e = await verified;
      expect(e.type === 'verified' && e.protocol).toBe('irc');
      expect(e.type === 'verified' && e.user).toEqual(alice);
      await carol.login();
    });

    it('carol asks to add alice: alice sees a notice and accepts with a CTCP request', async () => {
      await carol.addBuddy(alice, 'hi alice, it is carol');
      const notice = await ii.waitFor(/wants to add you as a buddy.*/, carolNick);
      expect(notice).toContain(`/ctcp ${carolNick} ACCEPT`);
      expect(notice).toContain('hi alice, it is carol');
      await ii.say(carolNick, '\x01ACCEPT\x01');
      expect(await carol.nextBuddyResponse(alice)).toEqual({ accepted: true });
      // Now buddies both ways: carol sees alice online.
      expect(await carol.nextPresence(alice, 'online')).toBe('online');
    });

    it('IMs both ways, with non-ASCII text, and /me as CTCP ACTION', async () => {
      await carol.sendIm(alice, TO_IRC);
      expect(await ii.waitFor(new RegExp(`<${literal(carolNick)}> ${TO_IRC}`), carolNick)).toBeTruthy();
      await ii.say(carolNick, TO_XMPP);
      expect(await carol.nextIm(alice)).toBe(TO_XMPP);
      await ii.say(carolNick, '\x01ACTION waves\x01');
      expect(await carol.nextIm(alice)).toBe('/me waves');
      await carol.sendIm(alice, '/me waves back');
      await ii.waitFor(/waves back/, carolNick);
    });

    it('presence: alice’s AWAY reaches carol; carol’s away reaches alice, and WHOIS and ISON show it', async () => {
      await ii.type('/a gone fishing');
      expect(await carol.nextPresence(alice, 'away')).toBe('away');
      await carol.setPresence('away', 'brb');
      // IRCv3 away-notify's line: ii receives it but shows it nowhere; its WHOIS shows the message.
      await ii.received(new RegExp(`:${literal(carolNick)}!crosstalk@gateway AWAY :brb`));
      await ii.type(`/WHOIS ${carolNick}`);
      await ii.waitFor(new RegExp(`${literal(carolNick)} brb`));
      // ISON (irssi's /notify polls with it): ngIRCd answers for alice, the gateway adds carol.
      await ii.type(`/ISON ${carolNick} alice`);
      await ii.waitFor(new RegExp(`alice ${literal(carolNick)}`));
    });

    // irssi opens with IRCv3 capability negotiation (CAP LS 302) before NICK: the session relays it.
    it.skipIf(!irssiAvailable())(
      'irssi under tmux, through the same front: dave gets carol’s IM in a query, answers, and /me',
      async () => {
        const dave: Address = { user: 'dave', network: 'irc' };
        const verified = nextEvent(gatewayA, (e) => e.type === 'verified' && e.user.user === 'dave');
        irssi = new IrssiClient({
          host: server.host,
          port: server.port,
          nick: 'dave',
          wrap: ['proxychains4', '-q', '-f', proxyConfig],
        });
        await irssi.waitFor(/End of MOTD/);
        await verified;
        await carol.sendIm(dave, TO_IRC);
        // irssi opens a query window for carol when her message arrives: go there and read it.
        await irssi.waitFor(new RegExp(`<${literal(carolNick)}> ${TO_IRC}`), `/window goto ${carolNick}`);
        irssi.type(TO_XMPP); // said in the query window: a PRIVMSG to carol%localhost
        expect(await carol.nextIm(dave)).toBe(TO_XMPP);
        irssi.type('/me waves from irssi');
        expect(await carol.nextIm(dave)).toBe('/me waves from irssi');
      },
    );
  },
);

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
