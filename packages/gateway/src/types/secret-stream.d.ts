// @hyperswarm/secret-stream ships no TypeScript declarations: the part of its API the G2G
// transport uses (README "API"; a streamx Duplex over a raw stream, Noise with ed25519 keys).
declare module '@hyperswarm/secret-stream' {
  import type { EventEmitter } from 'node:events';

  namespace NoiseSecretStream {
    interface KeyPair {
      publicKey: Uint8Array;
      /** libsodium's 64-byte form: the 32-byte seed, then the public key. */
      secretKey: Uint8Array;
    }
    interface Options {
      pattern?: string;
      remotePublicKey?: Uint8Array;
      keyPair?: KeyPair;
    }
  }

  class NoiseSecretStream extends EventEmitter {
    constructor(isInitiator: boolean, rawStream?: unknown, options?: NoiseSecretStream.Options);
    readonly isInitiator: boolean;
    readonly publicKey: Uint8Array | null;
    /** Set once the handshake has shown the remote static key ('handshake' event). */
    readonly remotePublicKey: Uint8Array | null;
    readonly connected: boolean;
    readonly destroyed: boolean;
    readonly destroying: boolean;
    readonly rawBytesRead: number;
    readonly rawBytesWritten: number;
    write(data: Uint8Array): boolean;
    end(): this;
    destroy(error?: Error): void;
    pause(): this;
    resume(): this;
  }

  export = NoiseSecretStream;
}
