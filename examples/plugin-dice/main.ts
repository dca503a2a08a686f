// A plugin of your own on a gateway: /dice (dice.ts, the template). Alice (AIM) asks Bob (Yahoo)
// to roll; Bob's gateway answers on his behalf, whatever network the asker is on.
import { startOscarNetwork, startYmsgNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { oscar } from '@crosstalk/codec-oscar';
import { ymsg } from '@crosstalk/codec-ymsg';
import { MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { dicePlugin } from './dice.js';

const dht = new MemoryDht();
const gateway = () =>
  createGateway({
    codecs: [oscar(), ymsg()],
    dht,
    socks: { port: 0 },
    logger: false,
    plugins: [dicePlugin],
    pluginSettings: { enabledFor: { dice: ['*'] } }, // on for everyone until they say /plugins off dice
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

for (const roll of ['/dice 2d6', '/roll d20']) {
  await alice.sendIm(bob.address, roll);
  console.log(`bob@yahoo sees alice ask: ${await bob.nextIm(alice.address)}`);
  console.log(`alice@aol gets, from bob: ${await alice.nextIm(bob.address)}`);
}

await alice.logout();
await bob.logout();
await Promise.all([aimGateway.close(), yahooGateway.close(), aim.stop(), yahoo.stop()]);
