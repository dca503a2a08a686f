import { MemoryDht } from '@crosstalk/core';
import { generateIdentity } from '@crosstalk/gateway';
import { createSipExit } from '@crosstalk/sip-exit';

const dht = new MemoryDht();
const exit = await createSipExit({
  identity: generateIdentity(),
  dht,
  domain: 'sip.test',
  udpPort: 46193,
  tcpPort: 0,
  users: { alice: 'alicepw', bob: 'bobpw', service: 'servicepw' },
  onEvent: (e) =>
    console.log(
      'event',
      JSON.stringify(e, (k, v) => (k === 'error' ? String(v) : v)),
    ),
});
console.log('listening', exit.addresses);
process.on('SIGTERM', async () => {
  await exit.close();
  process.exit(0);
});
