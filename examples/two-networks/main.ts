// An AIM user and a Yahoo user talking through two CrossTalk gateways embedded in this program. The
// servers are mock servers on 127.0.0.1; the users are scripted clients whose every connection goes
// through their gateway's SOCKS4 proxy, as an unmodified client's would.
import { startOscarNetwork, startYmsgNetwork, type UserDriver } from '@crosstalk/cli/drivers';
import { oscar } from '@crosstalk/codec-oscar';
import { ymsg } from '@crosstalk/codec-ymsg';
import { MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';

const dht = new MemoryDht(); // the directory both gateways share
const gateway = () => createGateway({ codecs: [oscar(), ymsg()], dht, socks: { port: 0 }, logger: false });
const [aimGateway, yahooGateway] = [await gateway(), await gateway()];
yahooGateway.on((e) => e.type === 'delivered' && console.log(`  [Bob's gateway delivers: ${e.event.kind}]`));

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

await alice.addBuddy(bob.address, 'Hi Bob, it is Alice from AIM');
console.log('bob@yahoo is asked:', await bob.nextBuddyRequest(alice.address));
await bob.answerBuddyRequest(alice.address, true);
console.log('alice@aol hears back:', await alice.nextBuddyResponse(bob.address));
await alice.sendIm(bob.address, 'Hello from AIM!');
console.log('bob@yahoo receives:', await bob.nextIm(alice.address));
await bob.sendIm(alice.address, 'Hello from Yahoo!');
console.log('alice@aol receives:', await alice.nextIm(bob.address));

await alice.logout();
await bob.logout();
await Promise.all([aimGateway.close(), yahooGateway.close(), aim.stop(), yahoo.stop()]);
