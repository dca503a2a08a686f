/**
 * A private hyperdht network of DHT nodes in a process of its own, for the multi-process tests:
 *
 *   node --import tsx --conditions=@crosstalk/source testnet-process.ts <size>
 *
 * Prints `{"nodes": [{host, port}, ...]}` once every node has joined, then takes one JSON command
 * per line on stdin and answers each with one line:
 *
 * - `{"stop": [i, ...]}`: stops those nodes (churn, or the DHT going away) -> `{"stopped": [...]}`;
 * - `{"start": [i, ...]}`: starts them again on the same ports (so with the same node ids), joining
 *   through whichever nodes run (node 0 first, on its own, when none does) -> `{"started": [...]}`.
 *
 * Ends when stdin closes (the test process ended) or on SIGTERM.
 */
import { createInterface } from 'node:readline';
import { type DhtNode, type NodeAddress, startDhtNode } from '@crosstalk/network-hyperdht';

const size = Number(process.argv[2] ?? 20);
const host = '127.0.0.1';
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const nodes: (DhtNode | undefined)[] = [];
const addresses: NodeAddress[] = [];

const first = await startDhtNode({ host });
nodes.push(first);
addresses.push(first.address);
while (nodes.length < size) {
  // A few at a time, each through the first node (as hyperdht's own testnet does).
  const batch = await Promise.all(
    Array.from({ length: Math.min(8, size - nodes.length) }, () =>
      startDhtNode({ host, bootstrap: [first.address] }),
    ),
  );
  for (const node of batch) {
    nodes.push(node);
    addresses.push(node.address);
  }
}
say({ nodes: addresses });

async function stop(indices: number[]): Promise<void> {
  await Promise.all(
    indices.map(async (i) => {
      const node = nodes[i];
      nodes[i] = undefined;
      await node?.close();
    }),
  );
}

async function start(indices: number[]): Promise<void> {
  const todo = indices.filter((i) => nodes[i] === undefined && addresses[i]);
  const running = () => addresses.filter((_, i) => nodes[i] !== undefined);
  if (running().length === 0 && todo.length > 0) {
    // Nothing runs: the first to come back starts a network of its own, the others join it.
    const i = todo.shift()!;
    nodes[i] = await startDhtNode({ host, port: addresses[i]!.port });
  }
  const through = running().slice(0, 3);
  await Promise.all(
    todo.map(async (i) => {
      nodes[i] = await startDhtNode({ host, port: addresses[i]!.port, bootstrap: through });
    }),
  );
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stop(nodes.map((_, i) => i));
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());

const lines = createInterface({ input: process.stdin });
lines.on('close', () => void shutdown());
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line) as { stop?: number[]; start?: number[] };
  if (command.stop) {
    await stop(command.stop);
    say({ stopped: command.stop });
  }
  if (command.start) {
    await start(command.start);
    say({ started: command.start });
  }
}
