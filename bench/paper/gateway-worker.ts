/**
 * A worker of the benchmark's gateway host (`gateway-process.ts` with `workers`): the same
 * gateway as the embedded one there (every codec, the XMPP stanza form on G2G), taking its
 * connections from the host's primary and the directory from it, as `crosstalk gateway --workers N`
 * runs each worker.
 *
 * With `CROSSTALK_BENCH_CONTROL=<dir>` (gateway-process.ts sets it) it also answers the bench on a
 * Unix socket `<dir>/<pid>.sock`: a line `memory` is answered with one JSON line, this process's
 * memory after a full collection, its open descriptors and its users (the primary's IPC channel is
 * the cluster's own, so the bench asks here); `profile-start` starts a CPU profile, `profile-stop`
 * answers with it.
 */
import { readdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { createGateway, joinGatewayCluster } from '@crosstalk/gateway';

const worker = await joinGatewayCluster();
const gateway = await createGateway({
  codecs: builtInCodecs(),
  canonical: canonicalForm(),
  worker,
  logger: false,
  maxBacklog: 8 * 1024 * 1024,
  // The load process's thousands of users all connect from 127.0.0.1.
  limits: { socksConnections: Number.POSITIVE_INFINITY, socksConnectionsPerSource: Number.POSITIVE_INFINITY },
});

const control = process.env.CROSSTALK_BENCH_CONTROL;
if (control) {
  const inspector = new Session();
  inspector.connect();
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) =>
      inspector.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const collect = () => post('HeapProfiler.collectGarbage');
  const server = createServer((socket) => {
    let line = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', async (chunk: string) => {
      line += chunk;
      if (!line.includes('\n')) return;
      const command = line.trim();
      if (command === 'profile-start') {
        // The bench's profiled re-run: the window only, as gateway-process.ts profiles itself.
        await post('Profiler.enable');
        await post('Profiler.start');
        socket.end('{}\n');
        return;
      }
      if (command === 'profile-stop') {
        const { profile } = (await post('Profiler.stop')) as { profile: unknown };
        socket.end(`${JSON.stringify(profile)}\n`);
        return;
      }
      if (command !== 'memory') {
        socket.destroy();
        return;
      }
      // After a full collection: what is live, not what the collector has yet to free.
      await collect();
      const usage = process.memoryUsage();
      socket.end(
        `${JSON.stringify({
          heapUsed: usage.heapUsed,
          external: usage.external,
          arrayBuffers: usage.arrayBuffers,
          rss: usage.rss,
          descriptors: readdirSync('/proc/self/fd').length,
          users: gateway.users().length,
        })}\n`,
      );
    });
  });
  server.listen(join(control, `${process.pid}.sock`));
  server.unref(); // the worker ends when its gateway closes, as without the bench
  await new Promise((resolve) => server.once('listening', resolve));
}
worker.ready({ id: gateway.id, contact: gateway.contact, g2g: gateway.g2g });
