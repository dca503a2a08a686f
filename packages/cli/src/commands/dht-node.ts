import { parseHostPort, parseHostPortList } from '@crosstalk/gateway';
import { startDhtNode } from '@crosstalk/network-hyperdht';
import { type CliIo, stopRequested, write } from '../io.js';

export interface DhtNodeCommandOptions {
  port?: string;
  host?: string;
  bootstrap?: string;
}

/** Exit code when the node cannot start (a port taken, an address not ours). */
export const EXIT_DHT_NODE_FAILED = 3;

/**
 * `crosstalk dht-node`: a persistent hyperdht node of a private CrossTalk network, such as the
 * bootstrap node gateways name in `--bootstrap`. Runs until SIGINT/SIGTERM.
 */
export async function dhtNode(o: DhtNodeCommandOptions, io: CliIo): Promise<number> {
  const host = o.host ?? '127.0.0.1';
  const port =
    o.port === undefined ? 0 : parseHostPort(`${host.includes(':') ? `[${host}]` : host}:${o.port}`).port;
  const bootstrap = o.bootstrap ? parseHostPortList(o.bootstrap).map((entry) => parseHostPort(entry)) : [];
  let node: Awaited<ReturnType<typeof startDhtNode>>;
  try {
    node = await startDhtNode({ host, ...(port ? { port } : {}), bootstrap });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? `port ${port} is already in use` : (e.message ?? String(error));
    await write(io.stderr, `crosstalk dht-node: cannot start on ${host}:${port}: ${why.split('\n')[0]}\n`);
    return EXIT_DHT_NODE_FAILED;
  }
  const address = `${node.address.host}:${node.address.port}`;
  await write(
    io.stdout,
    [
      `CrossTalk DHT node listening on ${address} (UDP).`,
      bootstrap.length
        ? `  joined through ${bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')}`
        : '  the first node of a new network: other nodes and gateways bootstrap from it',
      '',
      `Start gateways with: crosstalk gateway --dht hyperdht --bootstrap ${address}`,
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  await stopRequested();
  await node.close();
  return 0;
}
