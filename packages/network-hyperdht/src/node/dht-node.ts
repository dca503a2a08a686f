import HyperDHT from 'hyperdht';
import { assertPrivateBootstrap } from './bootstrap.js';
import type { HyperDhtNode, NodeAddress } from './node.js';

/** Options of `startDhtNode`. */
export interface DhtNodeOptions {
  /** UDP port; an ephemeral one when 0 or absent. A taken port is an error, not another port. */
  port?: number;
  /** Address to bind and to be reached at; loopback unless told otherwise. */
  host?: string;
  /** Nodes to join through; none makes this the first node of a new network (never the public one). */
  bootstrap?: readonly NodeAddress[];
  /** How long this node keeps announcements and records, ms (hyperdht: 20 min and 48 h); for tests. */
  maxAge?: number;
}

/** A running DHT node (`startDhtNode`): others bootstrap through its `address`. */
export interface DhtNode {
  /** The hyperdht node. */
  readonly node: HyperDhtNode;
  /** Where other nodes and stores reach this one: put it in their bootstrap list. */
  readonly address: NodeAddress;
  /** Stops the node. */
  close(): Promise<void>;
}

/**
 * Starts a persistent DHT node (one that stores announcements and records for others), such as a
 * bootstrap node for a private CrossTalk DHT.
 */
export async function startDhtNode(options: DhtNodeOptions = {}): Promise<DhtNode> {
  const bootstrap = (options.bootstrap ?? []).map(({ host, port }) => ({ host, port }));
  assertPrivateBootstrap(bootstrap, true);
  const host = options.host ?? '127.0.0.1';
  const node = new HyperDHT({
    bootstrap,
    host,
    // hyperdht reads port 0 as its well-known 49737; the range [0, 0] makes dht-rpc take an ephemeral one.
    port: options.port || [0, 0],
    anyPort: !options.port,
    ephemeral: false,
    firewalled: false,
    ...(options.maxAge ? { maxAge: options.maxAge } : {}),
  });
  try {
    await node.fullyBootstrapped();
  } catch (error) {
    await node.destroy();
    throw error;
  }
  return {
    node,
    address: { host, port: node.address().port },
    close: () => node.destroy(),
  };
}
