import type { Address } from '../address/address.js';
import type {
  BuddyRequestEvent,
  BuddyResponseEvent,
  CallInviteEvent,
  CallSignalEvent,
  CanonicalEvent,
  FileOfferEvent,
  ImEvent,
  PresenceEvent,
  PresenceStatus,
  RosterItem,
  TypingEvent,
  TypingState,
} from '../model/events.js';

/**
 * The abstract client API (docs/DESIGN.md "Client API"): what a new client, or the shim in front of an
 * encrypted base client, offers its application. Implemented in `@crosstalk/shim`; only the
 * contract lives here.
 */
export interface ClientIdentity {
  /** The user's address. */
  address: Address;
  /** Display name shown to buddies. */
  name?: string;
}

/** Options of `CrossTalkClient.sendIM`. */
export interface SendImOptions {
  /** The same message with formatting, as XHTML-IM-style markup. */
  html?: string;
  /** Aborts the operation. */
  signal?: AbortSignal;
}

/** How a call ended. */
export interface CallEnd {
  /** Who ended it: this side (`hangup`), the other party, or neither (no answer, a failure). */
  by: 'local' | 'remote' | 'none';
  /** Why, for people (`hangup`, `cancel`, `BYE`, `487 Request Terminated`, ...). */
  reason: string;
}

/**
 * SIP-style offer/answer signalling between the two parties (to a phone through a SIP exit, or to
 * another client over G2G); media flows between the endpoints, CrossTalk carries only signalling.
 */
export interface CallSession {
  /** The call's id. */
  readonly id: string;
  /** The other party. */
  readonly peer: Address;
  /** Resolves with the callee's SDP answer; rejects when the call is declined, busy, unanswered or cancelled. */
  readonly answered: Promise<{ sdp: string }>;
  /** Resolves when the call is over, answered or not. */
  readonly ended?: Promise<CallEnd>;
  /** Ends the call (a cancel while it rings, a hangup once answered). */
  hangup(reason?: string): Promise<void>;
}

/** Options of `CrossTalkClient.dialCall`. */
export interface DialCallOptions {
  /** The caller's SDP offer. */
  sdp: string;
  /** What the call carries. */
  media?: readonly ('audio' | 'video')[];
  /** Aborts the dial (and cancels the call while it rings). */
  signal?: AbortSignal;
  /** ms to wait for an answer before cancelling the call (`answered` rejects). */
  ringTimeout?: number;
  /** Told when the callee's phone or client rings. */
  onRinging?: () => void;
}

/** Why `CrossTalkClient.declineCall` turns a call down: not wanted, or busy with another. */
export type CallDeclineReason = 'decline' | 'busy';

/** Where `CrossTalkClient.getFile` writes a file, chunk by chunk. */
export interface FileSink {
  /** Bytes already held from an earlier attempt; the transfer resumes there. */
  readonly offset: number;
  /** Stores the next chunk, after those already held. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * The bytes already held (`offset` of them), from the first. A resumed transfer hashes them, so
   * that the final check covers every byte the sink ends up with; required when `offset` is above 0.
   */
  read?(): AsyncIterable<Uint8Array>;
}

/** Options of `CrossTalkClient.getFile`. */
export interface GetFileOptions {
  /** Aborts the transfer (what was written stays, for a resume). */
  signal?: AbortSignal;
  /** Told the bytes held so far and the file's size, as chunks arrive. */
  onProgress?: (received: number, total: number) => void;
}

/** What a completed `getFile` fetched. */
export interface FileTransferResult {
  /** The file's size in bytes. */
  bytes: number;
  /** Lower-case hex SHA-256 of the whole file, checked against the offer when it named one. */
  sha256: string;
  /** The offset the transfer resumed from (0 for a whole transfer). */
  resumedFrom: number;
}

/** A file to offer (`CrossTalkClient.sendFile`): its name and size, and its bytes read on demand. */
export interface FileSource {
  /** The name the receiver sees (a name, not a path). */
  readonly name: string;
  /** Its size, bytes. */
  readonly size: number;
  /** Its media type, when known (`image/jpeg`). */
  readonly mediaType?: string;
  /** `length` bytes from `offset` (fewer only past the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases what the source holds open (a file handle); called when the offer is withdrawn. */
  close?(): Promise<void>;
}

/** Options of `CrossTalkClient.sendFile`. */
export interface SendFileOptions {
  /** Lower-case hex SHA-256 of the file, when the caller knows it already (else it is computed). */
  sha256?: string;
  /** Aborts the offer (while hashing or sending it). */
  signal?: AbortSignal;
  /**
   * Where the file can also be fetched (a URL the sender serves): named in the notice IM sent
   * instead of the offer to a user whose protocol cannot receive files through CrossTalk.
   */
  link?: string;
}

/**
 * What became of a buddy request or answer: `delivered` to the other user now, or `held` in the
 * directory for an offline user's next login.
 */
export type BuddyOutcome = 'delivered' | 'held';

/** The events a `CrossTalkClient` reports through `on`, by name: every event, or only one kind. */
export type ClientEventMap = {
  /** Every event the client receives. */
  event: CanonicalEvent;
  /** IMs only. */
  im: ImEvent;
  /** Typing notifications only. */
  typing: TypingEvent;
  /** Buddies' presence changes only. */
  presence: PresenceEvent;
  /** Buddy requests only (including those held while the user was offline). */
  'buddy-request': BuddyRequestEvent;
  /** Answers to the user's buddy requests only. */
  'buddy-response': BuddyResponseEvent;
  /** File offers only. */
  'file-offer': FileOfferEvent;
  /** Call invitations only (answer with `answerCall`, or `declineCall`). */
  'call-invite': CallInviteEvent;
  /** Calls' progress only (ringing, answers, cancels, hangups), after the client checked who may say it. */
  'call-signal': CallSignalEvent;
};

/** A client of the abstract client API: send IMs, place calls, fetch files, set presence, hear events. */
export interface CrossTalkClient {
  /** Who the client is logged in as. */
  readonly identity: ClientIdentity;
  /** Sends an IM; resolves with the event as sent. */
  sendIM(to: Address, text: string, options?: SendImOptions): Promise<ImEvent>;
  /** Tells a buddy the user is typing (or stopped). */
  sendTyping(to: Address, state: TypingState): Promise<void>;
  /** Places a call; resolves with its session (whose `answered` resolves with the answer). */
  dialCall(to: Address, options: DialCallOptions): Promise<CallSession>;
  /** Answers a call invitation with an SDP answer; resolves with the session (already `answered`). */
  answerCall(invite: CallInviteEvent, options: { sdp: string }): Promise<CallSession>;
  /** Turns a call invitation down: declined or busy. */
  declineCall(invite: CallInviteEvent, reason?: CallDeclineReason): Promise<void>;
  /**
   * Offers a file to a buddy; resolves with the offer as sent (name, size, SHA-256). To a user whose
   * protocol cannot receive files this way, a notice IM goes instead (what the file is, `link`).
   */
  sendFile(to: Address, file: FileSource, options?: SendFileOptions): Promise<FileOfferEvent>;
  /** Fetches an offered file in chunks, verifying its hash; resumes from `sink.offset`. */
  getFile(offer: FileOfferEvent, sink: FileSink, options?: GetFileOptions): Promise<FileTransferResult>;
  /** Sets the user's status, with a status message. */
  setPresence(status: PresenceStatus, text?: string): Promise<void>;
  /** Asks a user to become a buddy (held for them while they are offline). */
  addBuddy(to: Address, message?: string): Promise<BuddyOutcome>;
  /** Answers a user's buddy request: accepted or denied (held for them while they are offline). */
  answerBuddy(to: Address, accepted: boolean, message?: string): Promise<BuddyOutcome>;
  /** The user's buddies on other networks, with their subscription and whether a request is pending. */
  roster(): RosterItem[];
  /** Buddy requests received and not answered yet. */
  buddyRequests(): BuddyRequestEvent[];
  /** Listens for events; returns a function that stops listening. */
  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void;
  /** Logs out and closes the client. */
  close(): Promise<void>;
}

/** Options of a `CreateClient` function. */
export interface CreateClientOptions {
  /** Who to log in as. */
  identity: ClientIdentity;
  /** The network the client's base protocol belongs to. */
  network: string;
}

/** Makes a `CrossTalkClient` for one identity on one network (what an implementation exports). */
export type CreateClient = (options: CreateClientOptions) => Promise<CrossTalkClient>;
