// /location, the plugin at Y: Bob (Yahoo) turns it on from inside his client, by IM to the gateway's
// system address crosstalk@crosstalk; Alice (AIM) asks where he is, and Bob's gateway answers on his
// behalf from an offline city database (DB-IP's, read with maxmind: no network). Both clients
// connect from 127.0.0.1, which no database places, so the gateway maps it to 132.239.1.1 (UC San
// Diego, where the CrossTalk paper was written), as an operator behind a NAT maps a private address.
import { startOscarNetwork, startYmsgNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { oscar } from '@crosstalk/codec-oscar';
import { ymsg } from '@crosstalk/codec-ymsg';
import { MemoryDht, SYSTEM_ADDRESS } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { locationPlugin } from '@crosstalk/plugins';

const dht = new MemoryDht();
const plugins = [locationPlugin({ addressMap: { '127.0.0.1': '132.239.1.1' } })];
const gateway = () =>
  createGateway({ codecs: [oscar(), ymsg()], dht, socks: { port: 0 }, logger: false, plugins });
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

/** Bob tells his gateway something; its answer comes back as an IM from crosstalk@crosstalk. */
async function bobTellsGateway(text: string) {
  await bob.sendIm(SYSTEM_ADDRESS, text);
  console.log(
    `bob -> crosstalk@crosstalk: ${text}\n  ${(await bob.nextIm(SYSTEM_ADDRESS)).replace(/\n/g, '\n  ')}`,
  );
}
async function aliceAsksBob() {
  await alice.sendIm(bob.address, '/location');
  await bob.nextIm(alice.address); // Bob sees what was asked
  console.log(`alice asks bob /location, and gets: ${await alice.nextIm(bob.address)}`);
}

await bobTellsGateway('/plugins');
await bobTellsGateway('/plugins on location');
await aliceAsksBob();
await bobTellsGateway('/location set Santa Monica');
await aliceAsksBob();
await bobTellsGateway('/location off');
await aliceAsksBob();

await alice.logout();
await bob.logout();
await Promise.all([aimGateway.close(), yahooGateway.close(), aim.stop(), yahoo.stop()]);
