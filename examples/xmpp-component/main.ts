// CrossTalk as an XMPP external component: an XMPP user (a real @xmpp/client, over TLS, which this
// prosody requires) and an AIM user (codec-oscar's mock server, behind a SOCKS gateway) add each
// other and talk. The XMPP user writes to `alice%aol@crosstalk.localhost`; no proxy on the XMPP side.
import { startOscarNetwork } from '@crosstalk/cli/drivers';
import { oscar } from '@crosstalk/codec-oscar';
import { xmpp } from '@crosstalk/codec-xmpp';
import { MemoryDht, parseAddress } from '@crosstalk/core';
import { createGateway, createNode } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { trustCertificate, xml, xmppUser } from '@crosstalk/shim/testing';
import { startXmppComponent } from './src/index.js';
import { newSecret, startTlsProsody } from './support/prosody.js';

// A plain prosody: clients must use TLS; CrossTalk is its component "crosstalk.localhost".
const secret = newSecret();
const prosody = await startTlsProsody({
  accounts: [{ user: 'carol', password: 'carol-pw' }],
  components: [{ domain: 'crosstalk.localhost', secret }],
});
const untrust = trustCertificate(prosody.hosts, prosody.certificate); // the self-signed test certificate

// The CrossTalk side: a node with the component as its way in, and an AIM user's SOCKS gateway.
const dht = new MemoryDht(); // the directory both share
const node = await createNode({ dht, logger: false });
const component = await startXmppComponent({
  node,
  service: `xmpp://127.0.0.1:${prosody.componentPort}`,
  domain: 'crosstalk.localhost',
  secret,
  userDomains: ['localhost'],
});
const gateway = await createGateway({ codecs: [oscar(), xmpp()], dht, socks: { port: 0 }, logger: false });
const aim = await startOscarNetwork([{ name: 'alice', password: 'alice-pw' }]);
const alice = aim.driver('alice', (host, port) => socksConnect(gateway.socks, host, port));
await alice.login();
while (!(await gateway.directory.lookupLocation(alice.address))) await new Promise((r) => setTimeout(r, 10));

const carol = xmppUser({ port: prosody.c2sPort, domain: 'localhost', user: 'carol', password: 'carol-pw' });
await carol.start();
console.log(`carol@localhost is online over TLS: ${carol.encrypted()}`);
await carol.send(xml('presence'));
const aliceJid = component.jidOf(alice.address); // alice%aol@crosstalk.localhost
const carolAddress = parseAddress('carol@localhost');
const from = (type?: string) => (el: { name: string; attrs: Record<string, string | undefined> }) =>
  el.attrs.from === aliceJid && el.name === 'presence' && el.attrs.type === type;

await carol.send(xml('presence', { to: aliceJid, type: 'subscribe' }, xml('status', {}, 'Hi, Carol here')));
console.log('alice@aol is asked:', await alice.nextBuddyRequest(carolAddress));
await alice.answerBuddyRequest(carolAddress, true);
await carol.receive(from('subscribed'), 'approval');
console.log(`carol@localhost: ${aliceJid} approved`);
await alice.addBuddy(carolAddress, 'Hi Carol, Alice from AIM');
const asked = await carol.receive(from('subscribe'), 'request');
console.log(`carol@localhost is asked by ${aliceJid}: ${asked.getChildText('status')}`);
await carol.send(xml('presence', { to: aliceJid, type: 'subscribed' }));
console.log('alice@aol hears back:', await alice.nextBuddyResponse(carolAddress));

await carol.send(
  xml('message', { to: aliceJid, type: 'chat' }, xml('body', {}, 'Grüße aus XMPP, ça va? 你好')),
);
console.log('alice@aol receives:', await alice.nextIm(carolAddress));
await alice.sendIm(carolAddress, 'Привет from AIM ✓');
const im = await carol.receive((el) => el.name === 'message' && el.attrs.from === aliceJid, 'IM');
console.log('carol@localhost receives:', im.getChildText('body'));
await alice.setPresence('away', 'out for lunch');
const away = await carol.receive((el) => from()(el) && el.getChildText('show') === 'away', 'away');
console.log(`carol@localhost sees ${aliceJid}: away (${away.getChildText('status')})`);
await carol.stop();
console.log('alice@aol sees carol@localhost:', await alice.nextPresence(carolAddress, 'offline'));

await alice.logout();
await component.stop();
await Promise.all([gateway.close(), node.close(), aim.stop()]);
untrust();
await prosody.stop();
