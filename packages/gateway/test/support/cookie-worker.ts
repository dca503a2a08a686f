import { connect } from 'node:net';
import { joinGatewayCluster } from '../../src/index.js';

// A worker of a host for cluster-cookies.test.ts: no gateway, just the link to the primary. Worker
// 0 records a login cookie when the test says `record` on its control connection and says `acked`
// once the primary acknowledged it (when the bytes carrying it could go to the client).

const worker = await joinGatewayCluster();
worker.serve({
  connection: (client) => client.destroy(),
  socksHandOff: (client) => client.destroy(),
  sessionHandOff: (client, upstream) => {
    client.destroy();
    upstream?.destroy();
  },
  metrics: async () => [],
  shutdown: async () => {},
});
worker.ready({ id: `worker-${worker.index}`, contact: {} });
if (worker.index === 0) {
  const control = connect(Number(process.env.COOKIE_TEST_CONTROL), '127.0.0.1');
  control.on('data', (data) => {
    if (!data.toString().includes('record')) return;
    const mark = worker.cookies.mark();
    worker.cookies.record('msnp', 'cookie-1', { user: 'alice@hotmail.com', network: 'msn' });
    const wait = worker.cookies.after(mark);
    if (!wait) control.write('acked\n');
    else void wait.then(() => control.write('acked\n'));
  });
}
