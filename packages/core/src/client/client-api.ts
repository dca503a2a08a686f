import type { Address } from '../address/address.js';
import type {
  CallInviteEvent,
  CanonicalEvent,
  FileOfferEvent,
  ImEvent,
  PresenceStatus,
} from '../model/events.js';

/**
 * The abstract client API (docs/DESIGN.md "Client API"): what a new client, or the shim in front of an
 * encrypted base client, offers its application. Implemented in `@crosstalk/shim`; only the
 * contract lives here.
 */
export interface ClientIdentity {
  address: Address;
  /** Display name shown to buddies. */
  name?: string;
}

export interface SendImOptions {
  html?: string;
  signal?: AbortSignal;
}

/** SIP-style offer/answer signalling, routed through the capability graph to a SIP exit. */
export interface CallSession {
  readonly id: string;
  readonly peer: Address;
  /** Resolves with the callee's SDP answer. */
  readonly answered: Promise<{ sdp: string }>;
  hangup(reason?: string): Promise<void>;
}

export interface DialCallOptions {
  /** The caller's SDP offer. */
  sdp: string;
  media?: readonly ('audio' | 'video')[];
  signal?: AbortSignal;
}

export interface FileSink {
  /** Bytes already held from an earlier attempt; the transfer resumes there. */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
}

export interface GetFileOptions {
  signal?: AbortSignal;
  onProgress?: (received: number, total: number) => void;
}

export interface FileTransferResult {
  bytes: number;
  /** Lower-case hex SHA-256 of the whole file, checked against the offer when it named one. */
  sha256: string;
  resumedFrom: number;
}

export type ClientEventMap = {
  event: CanonicalEvent;
  im: ImEvent;
  'file-offer': FileOfferEvent;
  'call-invite': CallInviteEvent;
};

export interface CrossTalkClient {
  readonly identity: ClientIdentity;
  sendIM(to: Address, text: string, options?: SendImOptions): Promise<ImEvent>;
  dialCall(to: Address, options: DialCallOptions): Promise<CallSession>;
  /** Fetches an offered file in chunks, verifying its hash; resumes from `sink.offset`. */
  getFile(offer: FileOfferEvent, sink: FileSink, options?: GetFileOptions): Promise<FileTransferResult>;
  setPresence(status: PresenceStatus, text?: string): Promise<void>;
  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void;
  close(): Promise<void>;
}

export interface CreateClientOptions {
  identity: ClientIdentity;
  /** The network the client's base protocol belongs to. */
  network: string;
}

export type CreateClient = (options: CreateClientOptions) => Promise<CrossTalkClient>;
