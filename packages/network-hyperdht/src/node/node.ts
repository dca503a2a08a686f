/**
 * What this package needs of a hyperdht node, by shape, so that the published declarations do not
 * depend on hyperdht's (it ships none). A `new HyperDHT(...)` of hyperdht 6 is one.
 */

export interface NodeAddress {
  host: string;
  port: number;
}

export interface NodeKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

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

export interface LookupReply {
  from: NodeAddress;
  peers: { publicKey: Uint8Array }[];
}

export interface MutableReply {
  seq: number;
  value: Uint8Array;
}

/** A Noise stream between two key pairs (hyperdht's NoiseSecretStream), as the G2G transport uses it. */
export interface NodeSocket {
  readonly remotePublicKey: Uint8Array | null;
  readonly destroyed: boolean;
  write(data: Uint8Array): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  pause(): unknown;
  resume(): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: listeners of several events, as EventEmitter types them
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  once(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: string, listener: (...args: any[]) => void): unknown;
}

export interface NodeServerOptions {
  /** Called with the dialler's proven key before the handshake is answered: true rejects. */
  firewall?: (remotePublicKey: Uint8Array) => boolean;
}

/** A hyperdht server: accepts Noise streams on a key pair. */
export interface NodeServer {
  listen(keyPair: NodeKeyPair): Promise<void>;
  close(): Promise<void>;
  on(event: 'connection', listener: (socket: NodeSocket) => void): unknown;
}

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
  createServer(options?: NodeServerOptions): NodeServer;
  connect(remotePublicKey: Uint8Array, options?: { keyPair?: NodeKeyPair }): NodeSocket;
  destroy(): Promise<void>;
}
