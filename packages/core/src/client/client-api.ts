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

/** Options of `CrossTalkClient.sendIM`. */
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

/** Options of `CrossTalkClient.dialCall`. */
export interface DialCallOptions {
  /** The caller's SDP offer. */
  sdp: string;
  media?: readonly ('audio' | 'video')[];
  signal?: AbortSignal;
}

/** Where `CrossTalkClient.getFile` writes a file, chunk by chunk. */
export interface FileSink {
  /** Bytes already held from an earlier attempt; the transfer resumes there. */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
}

/** Options of `CrossTalkClient.getFile`. */
export interface GetFileOptions {
  signal?: AbortSignal;
  onProgress?: (received: number, total: number) => void;
}

/** What a completed `getFile` fetched. */
export interface FileTransferResult {
  bytes: number;
  /** Lower-case hex SHA-256 of the whole file, checked against the offer when it named one. */
  sha256: string;
  resumedFrom: number;
}

/** The events a `CrossTalkClient` reports through `on`, by name: every event, or only one kind. */
export type ClientEventMap = {
  event: CanonicalEvent;
  im: ImEvent;
  'file-offer': FileOfferEvent;
  'call-invite': CallInviteEvent;
};

/** A client of the abstract client API: send IMs, place calls, fetch files, set presence, hear events. */
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

/** Options of a `CreateClient` function. */
export interface CreateClientOptions {
  identity: ClientIdentity;
  /** The network the client's base protocol belongs to. */
  network: string;
}

/** Makes a `CrossTalkClient` for one identity on one network (what an implementation exports). */
export type CreateClient = (options: CreateClientOptions) => Promise<CrossTalkClient>;
