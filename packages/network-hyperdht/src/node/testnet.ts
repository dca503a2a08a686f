import { type DhtNode, startDhtNode } from './dht-node.js';
import type { NodeAddress } from './node.js';

/** Options of `startTestnet`. */
export interface TestnetOptions {
  /** DHT nodes (default 10). */
  size?: number;
  /** The address the nodes bind (default 127.0.0.1). */
  host?: string;
  /** Announcement and record lifetime in every node, ms (hyperdht's defaults when absent). */
  maxAge?: number;
}

/** A private DHT of a few nodes on loopback, for tests and benchmarks. */
export interface Testnet {
  /** Give this to stores and further nodes. */
  readonly bootstrap: NodeAddress[];
  /** The testnet's nodes. */
  readonly nodes: readonly DhtNode[];
  /** Stops every node. */
  destroy(): Promise<void>;
}

/**
 * A private hyperdht network on one host, for tests and benchmarks (like hyperdht's
 * `testnet.js`, but on ephemeral ports, loopback by default, with the cache lifetime settable).
 */
export async function startTestnet(options: TestnetOptions = {}): Promise<Testnet> {
  const size = options.size ?? 10;
  const host = options.host ?? '127.0.0.1';
  const nodes: DhtNode[] = [];
  try {
    const first = await startDhtNode({ host, maxAge: options.maxAge });
    nodes.push(first);
    const bootstrap = [first.address];
    while (nodes.length < size) {
      // A few at a time: each joins through the first node, and the table fills as they arrive.
      const batch = Math.min(8, size - nodes.length);
      nodes.push(
        ...(await Promise.all(
          Array.from({ length: batch }, () => startDhtNode({ host, bootstrap, maxAge: options.maxAge })),
        )),
      );
    }
    return {
      bootstrap,
      nodes,
      destroy: async () => {
        for (const n of [...nodes].reverse()) await n.close();
      },
    };
  } catch (error) {
    for (const n of nodes.reverse()) await n.close();
    throw error;
  }
}
