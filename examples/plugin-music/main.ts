// /music, the plugin at Y: Alice (AIM) asks Bob (Yahoo) what he is listening to, and Bob's gateway
// asks his Music Player Daemon. The MPD here is a real one (Debian's `mpd`, null audio output)
// started by @crosstalk/plugins/testing with a few tagged files made by `sox`.
import { startOscarNetwork, startYmsgNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { oscar } from '@crosstalk/codec-oscar';
import { ymsg } from '@crosstalk/codec-ymsg';
import { MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { mpdProvider, musicPlugin } from '@crosstalk/plugins';
import { startMpd } from '@crosstalk/plugins/testing';

const mpd = await startMpd({
  tracks: [
    { artist: 'The Testers', title: 'Loopback Blues', album: '127.0.0.1' },
    { artist: 'Sine Wave Quartet', title: '440 Hz' },
  ],
});
const dht = new MemoryDht();
const gateway = () =>
  createGateway({
    codecs: [oscar(), ymsg()],
    dht,
    socks: { port: 0 },
    logger: false,
    // Bob's MPD; with `users: { 'bob@yahoo': { host, port } }` each user has their own.
    plugins: [musicPlugin({ provider: mpdProvider({ host: mpd.host, port: mpd.port }) })],
    pluginSettings: { enabledFor: { music: ['bob@yahoo'] } }, // the config's list: on for Bob
  });
const [aimGateway, yahooGateway] = [await gateway(), await gateway()];
const aim = await startOscarNetwork([{ name: 'alice', password: 'alice-pw' }]);
const yahoo = await startYmsgNetwork([{ name: 'bob', password: 'bob-pw' }]);
const alice = aim.driver('alice', (host, port) => socksConnect(aimGateway.socks, host, port));
const bob = yahoo.driver('bob', (host, port) => socksConnect(yahooGateway.socks, host, port));
async function online(user: UserDriver, g: Gateway) {
  await user.login(); // then wait until the user's gateway has told the directory where they are
  while (!(await g.directory.lookupLocation(user.address))) await new Promise((r) => setTimeout(r, 10));
}
await online(alice, aimGateway);
await online(bob, yahooGateway);

async function aliceAsksBob() {
  await alice.sendIm(bob.address, '/music');
  await bob.nextIm(alice.address); // Bob sees what was asked
  console.log(`alice asks bob /music, and gets: ${await alice.nextIm(bob.address)}`);
}
await mpd.play(0);
await aliceAsksBob();
await mpd.play(1);
await aliceAsksBob();
await mpd.stopPlayback();
await aliceAsksBob();

await alice.logout();
await bob.logout();
await Promise.all([aimGateway.close(), yahooGateway.close(), aim.stop(), yahoo.stop(), mpd.stop()]);
