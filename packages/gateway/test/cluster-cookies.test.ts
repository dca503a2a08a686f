import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type GatewayCluster, startGatewayCluster } from '../src/index.js';

// Every worker of a host accepts on its listener, so the connection that presents a login cookie
// (an OSCAR BOS connection, an MSN switchboard) may reach a worker other than the one that recorded
// it. The recording worker's barrier (which holds the bytes telling the client the cookie) must
// open only once every other worker has it. Before, the primary acknowledged a record as soon as
// it had passed it on, and a busy worker accepted the next connection before it read the cookie
// (the bench's MSN switchboards then went to the server untranslated: `CAL` answered 208).

const RUN_FROM_SOURCE = ['--import', 'tsx', '--conditions=@crosstalk/source'];
const workerProgram = fileURLToPath(new URL('./support/cookie-worker.ts', import.meta.url));

describe('a host of workers: a login cookie', () => {
  let host: GatewayCluster | undefined;
  const control = createServer();

  afterAll(async () => {
    await host?.close();
    control.close();
  });

  it('is acknowledged to the worker that recorded it only once every other worker has it', async () => {
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
    const connected = once(control, 'connection') as Promise<[Socket]>;
    host = await startGatewayCluster({
      workers: 2,
      exec: workerProgram,
      execArgv: RUN_FROM_SOURCE,
      env: { ...process.env, COOKIE_TEST_CONTROL: String((control.address() as AddressInfo).port) },
      socks: { host: '127.0.0.1', port: 0 },
      logger: false,
    });
    const [worker0] = await connected;
    let acked = false;
    const ack = new Promise<void>((resolve) =>
      worker0.on('data', (d) => {
        if (d.toString().includes('acked')) {
          acked = true;
          resolve();
        }
      }),
    );
    // Worker 1 busy (stopped): it cannot take the cookie, so worker 0's client must not hear of it.
    const other = host.workers().find((w) => w.index === 1)!.pid!;
    process.kill(other, 'SIGSTOP');
    try {
      worker0.write('record\n');
      // Absence over a second (this can only wrongly pass, never wrongly fail).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(acked).toBe(false);
    } finally {
      process.kill(other, 'SIGCONT');
    }
    await ack;
    expect(acked).toBe(true);
  }, 60_000);
});
