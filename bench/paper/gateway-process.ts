/**
 * The benchmark's gateway process: two gateways sharing one in-memory DHT, with every codec and
 * the XMPP stanza form on G2G, as `crosstalk gateway` runs them. Reports its own CPU and memory,
 * and how many events the gateways translated, when asked.
 */

import { Session } from 'node:inspector';
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway } from '@crosstalk/gateway';
import { exitWithParent } from './ipc.js';
import { loopWatch } from './loop-watch.js';

const watch = loopWatch();

const gateways: Gateway[] = [];
// CPU profile of the measurement window only (not start-up), via the inspector's Profiler.
const inspector = new Session();
inspector.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    inspector.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
  );

/** A counter's total over both gateways, all labels. */
async function total(counter: (g: Gateway) => { get(): Promise<{ values: { value: number }[] }> }) {
  let sum = 0;
  for (const g of gateways) for (const v of (await counter(g).get()).values) sum += v.value;
  return sum;
}

exitWithParent();
process.on('message', async (m: { type: string; count?: number; file?: string }) => {
  try {
    if (m.type === 'start') {
      const dht = new MemoryDht();
      for (let i = 0; i < (m.count ?? 2); i++) {
        gateways.push(
          await createGateway({
            codecs: builtInCodecs(),
            canonical: canonicalForm(),
            dht,
            socks: { host: '127.0.0.1', port: 0 },
            logger: false,
            maxBacklog: 8 * 1024 * 1024,
            // The load process's thousands of users all connect from 127.0.0.1.
            limits: {
              socksConnections: Number.POSITIVE_INFINITY,
              socksConnectionsPerSource: Number.POSITIVE_INFINITY,
            },
          }),
        );
      }
      process.send!({ type: 'started', socks: gateways.map((g) => g.socks), pid: process.pid });
    } else if (m.type === 'stats') {
      const cpu = process.cpuUsage();
      process.send!({
        type: 'stats',
        cpuMicros: cpu.user + cpu.system,
        translated: await total((g) => g.metrics.translated),
        verified: await total((g) => g.metrics.verifiedRecords),
        acceptErrors: await total((g) => g.metrics.acceptErrors),
        users: gateways.reduce((n, g) => n + g.users().length, 0),
      });
    } else if (m.type === 'watch-start') {
      watch.start();
      process.send!({ type: 'watching' });
    } else if (m.type === 'watch-stop') {
      process.send!({ type: 'watched', loop: watch.stop() });
    } else if (m.type === 'profile-start') {
      await post('Profiler.enable');
      await post('Profiler.start');
      process.send!({ type: 'profiling' });
    } else if (m.type === 'profile-stop') {
      // Sent to run.ts to write: a saturated gateway may have no file descriptor left to open one.
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      process.send!({ type: 'profiled', profile: JSON.stringify(profile) });
    } else if (m.type === 'stop') {
      for (const g of gateways.splice(0)) await g.close();
      process.send!({ type: 'stopped' });
      process.exit(0);
    }
  } catch (error) {
    process.send!({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
  }
});
