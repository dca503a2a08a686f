import type { HyperDhtServer, HyperDhtServerOptions, HyperDhtSocket } from 'hyperdht';
/**
 * What this package needs of a hyperdht node, by shape, so that the published declarations do not
 * depend on hyperdht's (it ships none). A `new HyperDHT(...)` of hyperdht 6 is one.
 */

export interface NodeAddress {
  host: string;
  port: number;
}

/** An ed25519 key pair in the form hyperdht takes. */
export interface NodeKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A running DHT query: its replies as they come, then what it found. */
export interface NodeQuery<T> extends AsyncIterable<T> {
  /** Nodes that answered (dht-rpc's count). */
  successes: number;
  errors: number;
  /** The nodes nearest the target, once the query has finished. */
  closestNodes: NodeAddress[];
  finished(): Promise<void>;
}

/** Where a query starts: nodes known to be near its target (dht-rpc's `nodes` option). */
export interface QueryOptions {
  nodes?: NodeAddress[] | undefined;
}

/** A node's answer to a lookup: the peers it knows under the target. */
export interface LookupReply {
  from: NodeAddress;
  peers: { publicKey: Uint8Array }[];
}

/** A mutable value read from the DHT, with its sequence number. */
export interface MutableReply {
  seq: number;
  value: Uint8Array;
}

/** The part of a hyperdht node this package uses (typed here: hyperdht ships no types). */
export interface HyperDhtNode {
  readonly bootstrapNodes: readonly NodeAddress[];
  fullyBootstrapped(): Promise<void>;
  address(): { host: string; port: number };
  lookup(target: Uint8Array): NodeQuery<LookupReply>;
  announce(
    target: Uint8Array,
    keyPair: NodeKeyPair,
    relayAddresses?: NodeAddress[],
    options?: QueryOptions,
  ): NodeQuery<unknown>;
  unannounce(target: Uint8Array, keyPair: NodeKeyPair, options?: QueryOptions): Promise<void>;
  mutablePut(
    keyPair: NodeKeyPair,
    value: Uint8Array,
    options?: QueryOptions & { seq?: number },
  ): Promise<{ closestNodes: NodeAddress[] }>;
  mutableGet(
    publicKey: Uint8Array,
    options?: { seq?: number; latest?: boolean; concurrency?: number },
  ): Promise<MutableReply | null>;
  /** For the G2G transport: a server on a key pair, and a Noise stream to a public key. */
  createServer(options?: HyperDhtServerOptions): HyperDhtServer;
  connect(remotePublicKey: Uint8Array, options?: { keyPair?: NodeKeyPair }): HyperDhtSocket;
  destroy(): Promise<void>;
}
