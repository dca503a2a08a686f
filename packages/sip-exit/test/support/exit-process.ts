/**
 * A SIP exit in a process of its own, on a hyperdht network (the distributed directory):
 *   node --import tsx --conditions=@crosstalk/source exit-process.ts <bootstrap json> <namespace> <key pem file> <port>
 * Prints `{ id, udpPort, tcpPort }` on one line once listening; closes when stdin ends.
 */
import { readFileSync } from 'node:fs';
import { identityFromPem } from '@crosstalk/gateway';
import { HyperDhtStore } from '@crosstalk/network-hyperdht';
import { createSipExit } from '../../src/index.js';
import { DOMAIN, USERS } from './exits.js';

const [bootstrap, namespace, keyFile, port] = process.argv.slice(2);
const dht = new HyperDhtStore({ bootstrap: JSON.parse(bootstrap as string), namespace: namespace as string });
await dht.ready();
const exit = await createSipExit({
  identity: identityFromPem(readFileSync(keyFile as string, 'utf8')),
  dht,
  domain: DOMAIN,
  host: '127.0.0.1',
  udpPort: Number(port),
  tcpPort: Number(port),
  users: USERS,
  allowTarget: (d) => d.host === '127.0.0.1',
});
process.stdout.write(
  `${JSON.stringify({ id: exit.id, udpPort: exit.addresses.udpPort, tcpPort: exit.addresses.tcpPort })}\n`,
);
process.stdin.resume();
process.stdin.on('end', async () => {
  await exit.close();
  await dht.close();
  process.exit(0);
});
