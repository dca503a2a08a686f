// The parts of hyperdht 6 and sodium-universal 5 this package uses (neither ships type declarations).

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events';

  export interface HyperDhtKeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }

  export interface HyperDhtNodeAddress {
    host: string;
    port: number;
  }

  export interface HyperDhtQueryOptions {
    nodes?: HyperDhtNodeAddress[] | undefined;
  }

  export interface HyperDhtQuery<T = unknown> extends AsyncIterable<T> {
    closestNodes: HyperDhtNodeAddress[];
    successes: number;
    errors: number;
    finished(): Promise<void>;
    destroy(error?: Error): void;
  }

  export interface HyperDhtLookupReply {
    from: HyperDhtNodeAddress;
    peers: { publicKey: Buffer; relayAddresses: HyperDhtNodeAddress[] }[];
  }

  export type HyperDhtLookupQuery = HyperDhtQuery<HyperDhtLookupReply>;

  export interface HyperDhtMutableReply {
    seq: number;
    value: Buffer;
    signature: Buffer;
    from: HyperDhtNodeAddress;
  }

  export interface HyperDhtOptions {
    bootstrap?: (HyperDhtNodeAddress | string)[] | false;
    host?: string;
    port?: number | [number, number];
    ephemeral?: boolean;
    firewalled?: boolean;
    anyPort?: boolean;
    /** Lifetime of announcements and mutable/immutable records in this node's caches, ms. */
    maxAge?: number;
  }

  /** A NoiseSecretStream (streamx Duplex) between two key pairs, both proven in the handshake. */
  export interface HyperDhtSocket extends EventEmitter {
    readonly remotePublicKey: Buffer | null;
    readonly publicKey: Buffer;
    readonly destroyed: boolean;
    write(data: Uint8Array): boolean;
    end(): unknown;
    destroy(error?: Error): void;
    pause(): unknown;
    resume(): unknown;
  }

  export interface HyperDhtServer extends EventEmitter {
    listen(keyPair: HyperDhtKeyPair): Promise<void>;
    /** Announce again at the announcer's next turn (within about 3 s). */
    refresh(): void;
    close(): Promise<void>;
    address(): { host: string; port: number; publicKey: Buffer } | null;
    /** Nodes holding the announcement, this node's own address first when not firewalled. */
    readonly relayAddresses: HyperDhtNodeAddress[];
  }

  export interface HyperDhtServerOptions {
    /** Called with the dialler's proven key before the handshake is answered: true rejects. */
    firewall?: (
      remotePublicKey: Buffer,
      remotePayload: unknown,
      clientAddress: unknown,
    ) => boolean | Promise<boolean>;
  }

  export default class HyperDHT extends EventEmitter {
    createServer(
      options?: HyperDhtServerOptions,
      onConnection?: (socket: HyperDhtSocket) => void,
    ): HyperDhtServer;
    connect(remotePublicKey: Uint8Array, options?: { keyPair?: HyperDhtKeyPair }): HyperDhtSocket;
    constructor(options?: HyperDhtOptions);
    static BOOTSTRAP: string[];
    static keyPair(seed?: Uint8Array): HyperDhtKeyPair;
    static hash(data: Uint8Array): Buffer;
    readonly destroyed: boolean;
    readonly bootstrapNodes: HyperDhtNodeAddress[];
    readonly stats: { queries: { active: number; total: number } };
    ready(): Promise<void>;
    fullyBootstrapped(): Promise<void>;
    address(): { host: string; family: number; port: number };
    /** Where others reach this node, or null while it is (or may be) firewalled. */
    remoteAddress(): HyperDhtNodeAddress | null;
    lookup(target: Uint8Array): HyperDhtLookupQuery;
    findPeer(publicKey: Uint8Array): HyperDhtQuery<{
      from: HyperDhtNodeAddress;
      peer: { publicKey: Buffer; relayAddresses: HyperDhtNodeAddress[] };
    }>;
    announce(
      target: Uint8Array,
      keyPair: HyperDhtKeyPair,
      relayAddresses?: HyperDhtNodeAddress[],
      options?: HyperDhtQueryOptions,
    ): HyperDhtQuery;
    unannounce(target: Uint8Array, keyPair: HyperDhtKeyPair, options?: HyperDhtQueryOptions): Promise<void>;
    mutablePut(
      keyPair: HyperDhtKeyPair,
      value: Uint8Array,
      options?: HyperDhtQueryOptions & { seq?: number },
    ): Promise<{ publicKey: Buffer; seq: number; signature: Buffer; closestNodes: HyperDhtNodeAddress[] }>;
    mutableGet(
      publicKey: Uint8Array,
      options?: { seq?: number; latest?: boolean; concurrency?: number },
    ): Promise<HyperDhtMutableReply | null>;
    destroy(options?: { force?: boolean }): Promise<void>;
  }
}

declare module 'sodium-universal' {
  export const crypto_generichash_BYTES: number;
  export const crypto_sign_BYTES: number;
  export const crypto_sign_PUBLICKEYBYTES: number;
  export function crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  export function crypto_sign_detached(
    signature: Uint8Array,
    message: Uint8Array,
    secretKey: Uint8Array,
  ): void;
  export function crypto_sign_verify_detached(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
  ): boolean;
  export function randombytes_buf(buffer: Uint8Array): void;
}
