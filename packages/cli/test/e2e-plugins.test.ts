import { addressToJid } from '@crosstalk/codec-xmpp';
import { type Address, addressKey, definePlugin, MemoryDht, SYSTEM_ADDRESS } from '@crosstalk/core';
import { type Gateway, type GatewayEvent, parseConfig } from '@crosstalk/gateway';
import { startMpd, type TestMpd } from '@crosstalk/plugins/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkFixture, UserDriver } from '../src/drivers/index.js';
import { pluginsFromConfig } from '../src/plugins.js';
import { NETWORKS, type Protocol } from './support/networks.js';
import { gatewayEvent, online, startGateway, through, until } from './support/walkthrough.js';
import { startSocksForwarder, type XmppJsElement, xml, xmppJs } from './support/xmpp-js.js';

// The plugin at Y, end to end: four networks (XMPP on a real prosody, the others on their mock
// servers), one gateway each on one DHT, every client reaching its server only through its
// gateway's SOCKS4 front. The gateways run the CLI's /location (the real DB-IP city database, the
// loopback client address mapped through the config to UCSD's 132.239.1.1) and /music (a real mpd
// started here, null audio output), plus three plugins that misbehave.

const UCSD = '132.239.1.1';
const SAN_DIEGO = 'San Diego (La Jolla), California, United States';

const boom = definePlugin({
  name: 'boom',
  commands: ['/boom'],
  description: 'throws',
  handle: async () => {
    throw new Error('plugin bug');
  },
});
const hang = definePlugin({
  name: 'hang',
  commands: ['/hang'],
  description: 'never answers',
  handle: () => new Promise(() => {}),
});
const huge = definePlugin({
  name: 'huge',
  commands: ['/huge'],
  description: 'answers 1 MB',
  handle: async () => ({ text: 'x'.repeat(1024 * 1024) }),
});

const NAMES: Record<Protocol, string[]> = {
  oscar: ['alice'],
  ymsg: ['bob'],
  msnp: ['carol@hotmail.com'],
  xmpp: ['dave', 'erin'],
};

const fixtures = new Map<Protocol, NetworkFixture>();
const gateways = new Map<Protocol, Gateway>();
/** The scripted users, logged in before the tests: alice (AIM), bob (Yahoo), carol (MSN), dave (XMPP). */
const users = new Map<Protocol, UserDriver>();
let mpd: TestMpd;

/** The gateway's report of one plugin command for `user`, from now on. */
const pluginEvent = (g: Gateway, plugin: string, who: Address) =>
  gatewayEvent(
    g,
    (e) => e.type === 'plugin' && e.plugin === plugin && addressKey(e.user) === addressKey(who),
    `${plugin} for ${addressKey(who)}`,
  ) as Promise<GatewayEvent & { type: 'plugin' }>;

beforeAll(async () => {
  mpd = await startMpd({
    tracks: [
      { artist: 'The Testers', title: 'Loopback Blues', album: '127.0.0.1' },
      { artist: 'Sine Wave Quartet', title: '440 Hz' },
    ],
  });
  // The config file's form, through the CLI's own parser and plugin factory.
  const config = parseConfig({
    plugins: [
      { name: 'location', enabledFor: ['*'], addressMap: { '127.0.0.1': UCSD } },
      { name: 'music', provider: 'mpd', mpd: { port: mpd.port }, enabledFor: ['carol@hotmail.com@msn'] },
    ],
    // The default deadline: /hang costs the test that long.
    pluginSettings: { timeout: 5000 },
  });
  const { plugins, enabledFor } = pluginsFromConfig(config.plugins);
  const dht = new MemoryDht();
  for (const protocol of Object.keys(NETWORKS) as Protocol[]) {
    fixtures.set(
      protocol,
      await NETWORKS[protocol](NAMES[protocol].map((name) => ({ name, password: `${name}-pw` }))),
    );
    gateways.set(
      protocol,
      await startGateway(dht, {
        plugins: [...plugins, boom, hang, huge],
        pluginSettings: {
          ...config.pluginSettings,
          enabledFor: { ...enabledFor, boom: ['*'], hang: ['*'], huge: ['*'] },
        },
      }),
    );
    const driver = fixtures.get(protocol)!.driver(NAMES[protocol][0]!, through(gateways.get(protocol)!));
    users.set(protocol, driver);
    await online(driver, gateways.get(protocol)!);
  }
}, 90_000);

afterAll(async () => {
  for (const d of users.values()) await d.disconnect().catch(() => {});
  for (const g of gateways.values()) await g.close();
  for (const f of fixtures.values()) await f.stop();
  await mpd?.stop();
});

describe('/location and /music across networks', () => {
  it('an AIM user asks a Yahoo user: the city from the database, the song mpd plays, as ordinary IMs', async () => {
    const alice = users.get('oscar')!;
    const bob = users.get('ymsg')!;
    // Music is on for carol only (the config); bob turns it on from his Yahoo client.
    await bob.sendIm(SYSTEM_ADDRESS, '/plugins on music');
    expect(await bob.nextIm(SYSTEM_ADDRESS)).toBe('music is on: buddies who send you /music get an answer.');
    await mpd.play(0);

    const answered = pluginEvent(gateways.get('ymsg')!, 'location', bob.address);
    await alice.sendIm(bob.address, '/location');
    // Bob sees what was asked; alice gets the answer from bob, in AIM, like any IM from him.
    expect(await bob.nextIm(alice.address)).toBe('/location');
    expect(await alice.nextIm(bob.address)).toBe(`bob is in ${SAN_DIEGO}.`);
    expect(await answered).toMatchObject({ origin: 'buddy', outcome: 'answered', from: alice.address });

    await alice.sendIm(bob.address, '/music');
    expect(await bob.nextIm(alice.address)).toBe('/music');
    expect(await alice.nextIm(bob.address)).toBe(
      'bob is listening to The Testers – Loopback Blues (127.0.0.1).',
    );

    // The conversation itself is untouched: ordinary IMs each way, unanswered by plugins.
    await alice.sendIm(bob.address, 'thanks!');
    expect(await bob.nextIm(alice.address)).toBe('thanks!');
    await bob.sendIm(alice.address, 'that /location trick is neat');
    expect(await alice.nextIm(bob.address)).toBe('that /location trick is neat');
  });

  it('an MSN user asks an XMPP user, whose /music is off until he turns it on from his client', async () => {
    const carol = users.get('msnp')!;
    const dave = users.get('xmpp')!;
    const reports: string[] = [];
    gateways.get('xmpp')!.on((e) => {
      if (e.type === 'plugin' && e.plugin === 'music') reports.push(e.outcome);
    });

    await carol.sendIm(dave.address, '/location');
    expect(await dave.nextIm(carol.address)).toBe('/location');
    expect(await carol.nextIm(dave.address)).toBe(`dave is in ${SAN_DIEGO}.`);

    // Music is off for dave: the question reaches him, no answer leaves.
    await mpd.play(0);
    await carol.sendIm(dave.address, '/music');
    expect(await dave.nextIm(carol.address)).toBe('/music');
    await dave.sendIm(SYSTEM_ADDRESS, '/plugins on music');
    expect(await dave.nextIm(SYSTEM_ADDRESS)).toBe('music is on: buddies who send you /music get an answer.');
    await mpd.play(1);
    await carol.sendIm(dave.address, '/music');
    expect(await dave.nextIm(carol.address)).toBe('/music');
    // Had the first been answered, carol's next IM from dave would name the first track.
    expect(await carol.nextIm(dave.address)).toBe('dave is listening to Sine Wave Quartet – 440 Hz.');
    // Reported once the answer is on its way back (after carol's gateway took it).
    await until(() => reports.length > 0, 'the music report');
    expect(reports).toEqual(['answered']);
  });

  it('an XMPP user (a real @xmpp/client) asks an AIM user, who sets a place, hides it, turns /music on', async () => {
    const alice = users.get('oscar')!;
    const forwarder = await startSocksForwarder(gateways.get('xmpp')!.socks, fixtures.get('xmpp')!.server);
    const erin = xmppJs(forwarder.port, 'erin', 'erin-pw');
    const aliceJid = addressToJid(alice.address);
    const erinAddress = fixtures.get('xmpp')!.address('erin');
    // What erin's client shows from alice: ordinary chat messages, in order.
    const bodies: (string | null)[] = [];
    erin.entity.on('stanza', (el: XmppJsElement) => {
      if (el.name === 'message' && el.attrs.from?.split('/')[0] === aliceJid)
        bodies.push(el.getChildText('body'));
    });
    let read = 0;
    const answers = async () => {
      await until(() => bodies.length > read, `answer ${read + 1} from ${aliceJid} in @xmpp/client`);
      return bodies[read++];
    };
    try {
      await erin.entity.start();
      await erin.entity.send(xml('presence'));
      const ask = (text: string) =>
        erin.entity.send(
          xml('message', { to: aliceJid, type: 'chat', id: `q${text}` }, xml('body', {}, text)),
        );

      await ask('/location');
      expect(await alice.nextIm(erinAddress)).toBe('/location');
      expect(await answers()).toBe(`alice is in ${SAN_DIEGO}.`);

      // Alice sets a place from her AIM client, through the gateway's system address.
      await alice.sendIm(SYSTEM_ADDRESS, '/location set Boston, MA');
      expect(await alice.nextIm(SYSTEM_ADDRESS)).toBe(
        'Buddies who send you /location are now told you are in Boston, MA.',
      );
      await ask('/location');
      expect(await answers()).toBe('alice is in Boston, MA.');
      await alice.sendIm(SYSTEM_ADDRESS, '/location off');
      expect(await alice.nextIm(SYSTEM_ADDRESS)).toMatch(/hidden/);
      await ask('/location');
      expect(await answers()).toBe('alice does not share their location.');

      // And /music, once alice has it on.
      await alice.sendIm(SYSTEM_ADDRESS, '/plugins on /music');
      expect(await alice.nextIm(SYSTEM_ADDRESS)).toBe(
        'music is on: buddies who send you /music get an answer.',
      );
      await mpd.play(0);
      await ask('/music');
      expect(await answers()).toBe('alice is listening to The Testers – Loopback Blues (127.0.0.1).');
    } finally {
      await erin.entity.stop().catch(() => {});
      await forwarder.close();
    }
  });

  it('/help and /plugins answer inside each of the four clients', async () => {
    for (const u of users.values()) {
      await u.sendIm(SYSTEM_ADDRESS, '/plugins');
      const list = await u.nextIm(SYSTEM_ADDRESS);
      expect(list.split('\n')[0]).toBe('Plugins on this gateway:');
      expect(list).toMatch(/^location \(\/location\): on\. /m);
      await u.sendIm(SYSTEM_ADDRESS, '/help');
      expect((await u.nextIm(SYSTEM_ADDRESS)).split('\n')[0]).toBe(
        'CrossTalk gateway commands (send them to this address):',
      );
    }
  });
});

describe('plugins that misbehave', () => {
  it('throws, hangs, answers 1 MB: short error replies, and every session carries on', async () => {
    const alice = users.get('oscar')!;
    const bob = users.get('ymsg')!;
    const carol = users.get('msnp')!;
    const dave = users.get('xmpp')!;

    const cases = [
      ['/boom', '/boom could not answer (the plugin failed).', 'failed'],
      ['/hang', '/hang could not answer in time.', 'timeout'],
      ['/huge', '/huge could not answer (its answer was too long).', 'reply-too-long'],
    ] as const;
    for (const [command, reply, outcome] of cases) {
      const reported = pluginEvent(gateways.get('ymsg')!, command.slice(1), bob.address);
      await alice.sendIm(bob.address, command);
      expect(await bob.nextIm(alice.address)).toBe(command);
      expect(await alice.nextIm(bob.address)).toBe(reply);
      expect((await reported).outcome).toBe(outcome);
    }

    // Bob's session, alice's, and another pair's, all carry on.
    await bob.sendIm(alice.address, 'still here');
    expect(await alice.nextIm(bob.address)).toBe('still here');
    await carol.sendIm(dave.address, 'and us');
    expect(await dave.nextIm(carol.address)).toBe('and us');
    await dave.sendIm(carol.address, 'yes');
    expect(await carol.nextIm(dave.address)).toBe('yes');
    await alice.sendIm(bob.address, '/location');
    expect(await bob.nextIm(alice.address)).toBe('/location');
    expect(await alice.nextIm(bob.address)).toBe(`bob is in ${SAN_DIEGO}.`);
    for (const g of gateways.values())
      expect(
        (await g.metrics.registry.getSingleMetricAsString('crosstalk_plugin_requests_total')).length,
      ).toBeGreaterThan(0);
  });
});
