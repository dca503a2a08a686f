import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { type NetworkFixture, startOscarNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { type Address, MemoryDht, SYSTEM_ADDRESS } from '@crosstalk/core';
import {
  createGateway,
  type Gateway,
  type GatewayEvent,
  type GatewayIdentity,
  generateIdentity,
  jsonForm,
} from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { irc } from '../src/index.js';
import { IiClient, iiAvailable } from './support/ii.js';
import { type Ngircd, ngircdAvailable, startNgircd } from './support/ngircd.js';

// Capability routing, proven the way an SDK user deploys a codec: the IRC codec on ONE gateway only.
// Four gateways in this process on one in-memory DHT (issue 17): A speaks only the JSON canonical
// form and has the built-in codecs (an AIM user, on the mock OSCAR server); B and C speak JSON and
// codec-xmpp's stanza form and convert between them; D speaks only stanzas and has nothing but the
// IRC codec (a real ii on a real ngIRCd, through D's SOCKS4 front by proxychains4). A knows IRC only
// from D's capability records; every event between bob and alice crosses B or C.

const available =
  ngircdAvailable() && iiAvailable() && spawnSync('sh', ['-c', 'command -v proxychains4']).status === 0;

const TO_IRC = 'Grüße aus AIM 日本語 🎉';
const TO_AIM = 'ça va? ☕ 𝄞 привет';

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

async function counter(g: Gateway, name: 'routed' | 'featureLoss', labels: Record<string, string>) {
  const metric = await g.metrics[name].get();
  return metric.values
    .filter((v) =>
      Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

describe.skipIf(!available)(
  'capability routing: an AIM user reaches an IRC user through a converting gateway',
  () => {
    const dht = new MemoryDht();
    let server: Ngircd;
    let aim: NetworkFixture;
    let a: Gateway;
    let b: Gateway;
    let c: Gateway;
    let d: Gateway;
    const dIdentity: GatewayIdentity = generateIdentity();
    let proxyDir: string;
    let ii: IiClient;
    let bob: UserDriver;
    const alice: Address = { user: 'alice', network: 'irc' };
    const bobNick = 'bob%aol';

    const startD = () =>
      createGateway({
        codecs: [irc()],
        canonical: canonicalForm(),
        dht,
        identity: dIdentity,
        socks: { port: 0 },
        logger: false,
      });

    /** ii as alice, through D's SOCKS front (a proxychains4 config naming it). */
    async function startIi(): Promise<IiClient> {
      const verified = nextEvent(d, (e) => e.type === 'verified' && e.user.user === 'alice');
      const client = IiClient.throughGateway({
        dir: proxyDir,
        socksPort: d.socks.port,
        host: server.host,
        port: server.port,
        nick: 'alice',
      });
      await client.waitFor(/End of MOTD/);
      await verified;
      return client;
    }

    beforeAll(async () => {
      server = await startNgircd();
      aim = await startOscarNetwork([{ name: 'bob', password: 'bobpw' }]);
      const start = (codecs: ReturnType<typeof builtInCodecs>, canonical: (typeof jsonForm)[]) =>
        createGateway({ codecs, canonical, dht, socks: { port: 0 }, logger: false });
      a = await start(builtInCodecs(), [jsonForm]);
      b = await start([], [jsonForm, canonicalForm()]);
      c = await start([], [jsonForm, canonicalForm()]);
      d = await startD();
      if (process.env.E2E_DEBUG)
        for (const [n, g] of Object.entries({ A: a, B: b, C: c, D: d }))
          g.on((e) => process.stderr.write(`${n} ${JSON.stringify(e).slice(0, 300)}\n`));
      // A started before D: it finds D's capabilities at its next read of the graph; read now.
      for (const g of [a, b, c, d]) await g.routing.refresh();
      proxyDir = mkdtempSync(join(tmpdir(), 'crosstalk-proxychains-'));
      ii = await startIi();
      bob = aim.driver('bob', (host, port) => socksConnect(a.socks, host, port));
      await bob.login();
    }, 60_000);

    afterAll(async () => {
      await ii?.stop();
      await bob?.disconnect().catch(() => {});
      for (const g of [a, b, c, d]) await g?.close();
      await aim?.stop();
      await server?.stop();
      if (proxyDir) rmSync(proxyDir, { recursive: true, force: true });
    });

    it('only D performs IRC; A composes oscar -> JSON (A) -> stanzas (B or C) -> IRC (D)', () => {
      for (const g of [a, b, c]) expect(g.routing.capabilities().some((e) => e.includes('irc'))).toBe(false);
      expect(d.routing.capabilities().sort()).toEqual([
        'canonical:xmpp-stanza>irc',
        'irc>canonical:xmpp-stanza',
      ]);
      const route = a.routing.route('oscar', 'irc', { gateway: d.id })!;
      expect(route.steps.map((s) => `${s.from}>${s.to}`)).toEqual([
        'oscar>canonical:json',
        'canonical:json>canonical:xmpp-stanza',
        'canonical:xmpp-stanza>irc',
      ]);
      expect([b.id, c.id]).toContain(route.steps[1]!.gateway);
      expect(route.transfers).toBe(2);
      // And back: D reaches AIM users, though it has no OSCAR codec, through a converter to A.
      expect(d.routing.route('irc', 'aol', { gateway: a.id })!.steps.map((s) => s.gateway)).toEqual([
        d.id,
        expect.stringMatching(new RegExp(`^(${b.id}|${c.id})$`)),
        a.id,
      ]);
    });

    it('bob (AIM) adds alice@irc; alice accepts in ii; each sees the other online', async () => {
      await bob.addBuddy(alice, 'hi alice, it is bob');
      const notice = await ii.waitFor(/wants to add you as a buddy.*/, bobNick);
      expect(notice).toContain('hi alice, it is bob');
      await ii.say(bobNick, '\x01ACCEPT\x01');
      expect(await bob.nextBuddyResponse(alice)).toEqual({ accepted: true });
      expect(await bob.nextPresence(alice, 'online')).toBe('online');
      // ISON (a client's notify list polls with it): ngIRCd answers for alice, the gateway adds bob.
      await ii.type(`/ISON ${bobNick} alice`);
      await ii.waitFor(new RegExp(`alice ${literal(bobNick)}`));
    });

    it('IMs both ways with non-ASCII text, hop by hop through a converter', async () => {
      const relayed =
        (await counter(b, 'routed', { role: 'relay' })) + (await counter(c, 'routed', { role: 'relay' }));
      await bob.sendIm(alice, TO_IRC);
      await ii.waitFor(new RegExp(`<${literal(bobNick)}> ${TO_IRC}`), bobNick);
      await ii.say(bobNick, TO_AIM);
      expect(await bob.nextIm(alice)).toBe(TO_AIM);
      const after =
        (await counter(b, 'routed', { role: 'relay' })) + (await counter(c, 'routed', { role: 'relay' }));
      expect(after - relayed).toBeGreaterThanOrEqual(2);
      expect(await counter(a, 'routed', { role: 'origin' })).toBeGreaterThan(0);
      expect(await counter(d, 'routed', { role: 'delivery' })).toBeGreaterThan(0);
    });

    it('feature loss: formatting and typing do not reach IRC; bob is told once each, D marks what was dropped', async () => {
      const delivered = nextEvent(d, (e) => e.type === 'delivered' && e.event.kind === 'im');
      await bob.sendIm(alice, '<b>bold</b> move');
      await ii.waitFor(new RegExp(`<${literal(bobNick)}> bold move`), bobNick);
      const event = await delivered;
      expect(event.type === 'delivered' && event.lost).toEqual(['im.html']);
      expect(await bob.nextIm(SYSTEM_ADDRESS)).toMatch(/^CrossTalk: formatting .* cannot reach alice@irc/);
      // Again: counted, not told again. Then typing: told once, about typing only (the next notice).
      await bob.sendIm(alice, '<i>again</i>');
      await ii.waitFor(new RegExp(`<${literal(bobNick)}> again`), bobNick);
      await bob.sendTyping(alice, 'composing');
      expect(await bob.nextIm(SYSTEM_ADDRESS)).toMatch(
        /^CrossTalk: typing notifications cannot reach alice@irc/,
      );
      expect(await counter(a, 'featureLoss', { from: 'oscar', to: 'irc', feature: 'im.html' })).toBe(2);
      expect(await counter(a, 'featureLoss', { from: 'oscar', to: 'irc', feature: 'typing' })).toBe(1);
    });

    it('presence: alice’s AWAY reaches bob through the chain', async () => {
      await ii.type('/a gone fishing');
      expect(await bob.nextPresence(alice, 'away')).toBe('away');
    });

    it('D stops: bob sees alice offline, and an IM to her gets "no route to irc" in his own client', async () => {
      await d.close();
      expect(await bob.nextPresence(alice, 'offline')).toBe('offline');
      await bob.sendIm(alice, 'are you there?');
      expect(await bob.nextIm(SYSTEM_ADDRESS)).toMatch(
        /could not deliver your message to alice@irc: no route to irc/,
      );
      await ii.stop();
    });

    it('D starts again: the route comes back at once (the next send reads the graph again)', async () => {
      d = await startD();
      ii = await startIi();
      await bob.sendIm(alice, 'welcome back');
      await ii.waitFor(new RegExp(`<${literal(bobNick)}> welcome back`), bobNick);
      await ii.say(bobNick, 'thanks');
      expect(await bob.nextIm(alice)).toBe('thanks');
    });
  },
);

function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
