/**
 * What this package needs of a hyperdht node, by shape, so that the published declarations do not
 * depend on hyperdht's (it ships none). A `new HyperDHT(...)` of hyperdht 6 is one.
 */

export interface NodeAddress {
  /** The node's IP address. */
  host: string;
  /** Its UDP port. */
  port: number;
}

/** An ed25519 key pair in the form hyperdht takes. */
export interface NodeKeyPair {
  /** The ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** The secret key in libsodium form, 64 bytes (seed and public key). */
  secretKey: Uint8Array;
}

/** A running DHT query: its replies as they come, then what it found. */
export interface NodeQuery<T> extends AsyncIterable<T> {
  /** Nodes that answered (dht-rpc's count). */
  successes: number;
  /** Nodes that failed to answer. */
  errors: number;
  /** The nodes nearest the target, once the query has finished. */
  closestNodes: NodeAddress[];
  /** Resolves when the query has finished. */
  finished(): Promise<void>;
}

/** Where a query starts: nodes known to be near its target (dht-rpc's `nodes` option). */
export interface QueryOptions {
  /** Nodes to start the query from (those nearest the target, from an earlier query). */
  nodes?: NodeAddress[] | undefined;
}

/** A node's answer to a lookup: the peers it knows under the target. */
export interface LookupReply {
  /** The node that answered. */
  from: NodeAddress;
  /** The peers announced under the target there. */
  peers: { publicKey: Uint8Array }[];
}

/** A node's answer to `findPeer`: the announcement of the server it holds for that key. */
export interface FindPeerReply {
  /** The node that answered. */
  from: NodeAddress;
  /** The announced server. */
  peer: { publicKey: Uint8Array };
}

/** A mutable value read from the DHT, with its sequence number. */
export interface MutableReply {
  /** The value's sequence number (higher replaces lower). */
  seq: number;
  /** The value. */
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

/** Options of a hyperdht server. */
export interface NodeServerOptions {
  /** Called with the dialler's proven key before the handshake is answered: true rejects. */
  firewall?: (remotePublicKey: Uint8Array) => boolean;
}

/** A hyperdht server: accepts Noise streams on a key pair. */
export interface NodeServer {
  listen(keyPair: NodeKeyPair): Promise<void>;
  close(): Promise<void>;
  on(event: 'connection', listener: (socket: NodeSocket) => void): unknown;
  /** Announces the server again at once (hyperdht otherwise re-announces every few minutes). */
  refresh(): unknown;
  /**
   * Where dialers can reach it: the DHT nodes holding its announcement, with this node's own
   * address first when it is not firewalled (hyperdht's announcer; empty before `listen`).
   */
  readonly relayAddresses?: readonly NodeAddress[];
}

/** The part of a hyperdht node this package uses (typed here: hyperdht ships no types). */
export interface HyperDhtNode {
  /** The nodes this one joined through. */
  readonly bootstrapNodes: readonly NodeAddress[];
  /** Resolves once the node has joined the network. */
  fullyBootstrapped(): Promise<void>;
  /** Where this node listens. */
  address(): { host: string; port: number };
  /** Where others reach this node, once it knows it is not firewalled; else null. */
  remoteAddress?(): NodeAddress | null;
  /** Finds the peers announced under a 32-byte target. */
  lookup(target: Uint8Array): NodeQuery<LookupReply>;
  /** Finds the announcement of the server listening on a public key (as a dial does first). */
  findPeer?(publicKey: Uint8Array): NodeQuery<FindPeerReply> & {
    /** Stops the query (its answer is known). */
    destroy(): void;
  };
  /** Announces a key pair under a target (the announcement expires unless repeated). */
  announce(
    target: Uint8Array,
    keyPair: NodeKeyPair,
    relayAddresses?: NodeAddress[],
    options?: QueryOptions,
  ): NodeQuery<unknown>;
  /** Withdraws an announcement. */
  unannounce(target: Uint8Array, keyPair: NodeKeyPair, options?: QueryOptions): Promise<void>;
  /** Stores a value signed by a key pair, under that key pair's public key. */
  mutablePut(
    keyPair: NodeKeyPair,
    value: Uint8Array,
    options?: QueryOptions & { seq?: number },
  ): Promise<{ closestNodes: NodeAddress[] }>;
  /** Reads the value stored under a public key (the latest, when asked), or null. */
  mutableGet(
    publicKey: Uint8Array,
    options?: { seq?: number; latest?: boolean; concurrency?: number },
  ): Promise<MutableReply | null>;
  /** For the G2G transport: a server on a key pair, and a Noise stream to a public key. */
  /** Starts a server that accepts Noise streams (the G2G transport's listener). */
  createServer(options?: NodeServerOptions): NodeServer;
  /** Dials the server listening on a public key (Noise). */
  connect(remotePublicKey: Uint8Array, options?: { keyPair?: NodeKeyPair }): NodeSocket;
  /** Stops the node. */
  destroy(): Promise<void>;
}
