/**
 * The benchmark's DHT process, for G2G over hyperdht: a private hyperdht network on loopback (the
 * nodes gateways bootstrap from, as `crosstalk dht-node` processes would be), apart from the
 * gateways so that its CPU is not theirs.
 */
import { startTestnet, type Testnet } from '@crosstalk/network-hyperdht';
import { exitWithParent } from './ipc.js';
import { loopWatch } from './loop-watch.js';

const watch = loopWatch();
let testnet: Testnet | undefined;

exitWithParent();
process.on('message', async (m: { type: string; size?: number }) => {
  try {
    if (m.type === 'start') {
      testnet = await startTestnet({ size: m.size ?? 20 });
      process.send!({ type: 'started', bootstrap: testnet.bootstrap, pid: process.pid });
    } else if (m.type === 'watch-start') {
      watch.start();
      process.send!({ type: 'watching' });
    } else if (m.type === 'watch-stop') {
      process.send!({ type: 'watched', loop: watch.stop() });
    } else if (m.type === 'stop') {
      await testnet?.destroy();
      process.send!({ type: 'stopped' });
      process.exit(0);
    }
  } catch (error) {
    process.send!({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
  }
});
