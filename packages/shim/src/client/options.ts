import type { CreateClientOptions, Dht, G2gTransport } from '@crosstalk/core';
import type { CanonicalForm, GatewayIdentity } from '@crosstalk/gateway';
import type { Logger } from 'pino';

/** Where a client's node finds the rest of the CrossTalk network across processes: a hyperdht network. */
export interface HyperDhtNetworkOptions {
  /** DHT nodes to join through (`crosstalk dht-node`, or a testnet's); required, never the public ones. */
  bootstrap: readonly {
    /** The DHT node's address. */
    host: string;
    /** Its UDP port. */
    port: number;
  }[];
  /** What the client's own DHT node binds. Default 127.0.0.1, any port. */
  host?: string;
  /** Its UDP port. Default any. */
  port?: number;
}

/** Limits and tuning of file transfers, both ways. */
export interface FileTransferOptions {
  /** Largest file offered or fetched, bytes (`FileTooLargeError`). Default 4 GiB. */
  maxFileSize?: number;
  /** Bytes in each chunk this client asks for. Default 256 KiB. */
  chunkSize?: number;
  /** Bytes a sender may send ahead of this client's sink. Default 1 MiB. */
  window?: number;
  /** Bytes per second this client sends at most, over all it serves. Default no limit. */
  rate?: number;
  /** ms without progress from the peer before a transfer fails (`TransferStalledError`). Default 30 s. */
  stallTimeout?: number;
  /** Transfers at once, each way (`TooManyTransfersError`). Default 8. */
  maxTransfers?: number;
  /** Offers kept open at once (`TooManyTransfersError`). Default 64. */
  maxOffers?: number;
  /** How long an offer can be fetched, ms. Default 24 hours. */
  offerTtl?: number;
  /**
   * Move a file's bytes on a data channel (a TLS 1.2 PSK connection to the sender's host, AES-256-GCM)
   * instead of inside the G2G stream, when both nodes can: G2G over TCP, and the peer grants one.
   * Falls back to the G2G stream when the channel cannot be opened. Default true.
   */
  dataChannel?: boolean;
  /** Told how each transfer this client served ended (for progress bars and logs on the sending side). */
  onServed?(report: ServedReport): void;
}

/** How a transfer this client served (sent) ended. */
export interface ServedReport {
  /** The offer asked for (undefined when the peer never said). */
  offerId: string | undefined;
  /** The node that fetched it. */
  peer: string;
  /** `completed`, `cancelled` by the receiver, or `failed` (then `error` says why). */
  outcome: 'completed' | 'cancelled' | 'failed';
  /** Bytes of file data sent, re-fetched chunks included. */
  sent: number;
  /** Why it failed. */
  error?: Error;
}

/** Options of `createClient`: who the user is, where their node keeps its key, and how it reaches the network. */
export interface ClientOptions extends CreateClientOptions {
  /**
   * The node's state file: its ed25519 key (its id in the network) and the user's foreign buddies
   * and held requests, kept across runs. Default: memory only (a new key each run).
   */
  stateFile?: string;
  /**
   * The directory substrate, for nodes in one process: share one `MemoryDht` between the clients and
   * gateways that should find each other. Default: a new `MemoryDht` (alone). Not with `hyperdht`.
   */
  dht?: Dht;
  /** Join a hyperdht network instead (nodes in several processes or hosts): directory and G2G go through it. */
  hyperdht?: HyperDhtNetworkOptions;
  /** Where the default G2G transport (TCP with Noise) listens. Default 127.0.0.1, any port. */
  g2g?: {
    /** The address to listen on, and to publish. */
    host?: string;
    /** The TCP port (0: any). */
    port?: number;
  };
  /** A G2G transport of your own, made from the node's identity (advanced; not with `hyperdht`). */
  transport?: (identity: GatewayIdentity) => G2gTransport;
  /**
   * How events travel between nodes: the federation's choice (gateways started by the CLI use
   * codec-xmpp's `stanza`). Default JSON, as `createGateway`'s.
   */
  canonical?: CanonicalForm;
  /** When set, only directory records from these node ids are believed. */
  trustedGateways?: readonly string[];
  /** Lifetime of the user's location and presence records, ms. */
  softTtl?: number;
  /** File transfer limits. */
  files?: FileTransferOptions;
  /**
   * ms `createClient` waits for the user's location to be readable in the directory (so that others
   * can reach them when it resolves); it resolves anyway after that. Default 10 s; 0 not to wait.
   */
  findableTimeout?: number;
  /** A pino logger for the node; default none. */
  logger?: Logger | false;
}
