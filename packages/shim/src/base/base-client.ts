import type {
  Address,
  BuddyRequestEvent,
  BuddyResponseEvent,
  CanonicalEvent,
  FileOfferEvent,
  FileSink,
  FileSource,
  FileTransferResult,
  GetFileOptions,
  ImEvent,
  PresenceStatus,
  RosterItem,
  SendFileOptions,
  TypingEvent,
} from '@crosstalk/core';

/**
 * The base client (issue 18, "the shim for an encrypted base client"): the user's own client of
 * their own network, whose traffic no gateway can read (it is encrypted end to end with the
 * server). `createShim` drives one through this interface: what the user sends to users that the
 * base network reaches goes through it untouched; everything else goes over G2G. docs/shim.md
 * "Writing a base-client adapter" walks through an implementation.
 */

/** What the shim hands a base client when it connects: where to report what its network says. */
export interface BaseClientEvents {
  /**
   * An event from the base network for the user: `im`, `typing`, `presence`, `buddy-request`,
   * `buddy-response` (or `file-offer`). `from` must be a user the base client `reaches`: the shim
   * checks each event against the canonical model and drops (and logs) any other, so that a base
   * network can never speak for users of another network.
   */
  receive(event: CanonicalEvent): void;
  /**
   * The connection to the base server ended without `close()` (the server closed it, a stream error,
   * the network). Call it once; the shim then logs the user out of CrossTalk too.
   */
  lost(error: Error): void;
}

/** What the shim asks a base client to send: an event from the user, to a user it `reaches`. */
export type BaseOutgoingEvent = ImEvent | TypingEvent | BuddyRequestEvent | BuddyResponseEvent;

/**
 * A base-client adapter: a small interface over an existing client library of an encrypted IM
 * protocol (`xmppBase` from `@crosstalk/shim/xmpp` is one, XMPP over TLS). Every method may reject
 * with a typed error (`CrossTalkError`); the shim passes them on unchanged.
 */
export interface BaseClient {
  /** The user, as the base network names them: also their CrossTalk address (`alice@jabber.example`). */
  readonly address: Address;
  /** The base protocol's name, for logs and the node's metrics (`xmpp`). */
  readonly protocol: string;
  /**
   * Whether the base network itself reaches `to`. Events to those users go through the base client,
   * untouched; events to everyone else go over G2G. A user of the base network must never be sent
   * over G2G, and a user of another network must never be handed to the base client.
   */
  reaches(to: Address): boolean;
  /**
   * Logs in, encrypted as the base protocol requires, and resolves once the user is online with the
   * roster loaded (so `roster()` answers). Events from then on go to `events`. Called once.
   */
  connect(events: BaseClientEvents): Promise<void>;
  /**
   * Sends an event from the user (`from` is `address`) to a user it `reaches`, in its own protocol:
   * an IM, a typing notification, a buddy request or an answer to one. Resolves once the base
   * server has it (a base network keeps requests for offline users itself).
   */
  send(event: BaseOutgoingEvent): Promise<void>;
  /** Sets the user's status on the base network, with a status message. */
  presence(status: PresenceStatus, text?: string): Promise<void>;
  /** The user's buddies on the base network, as last known (the roster loaded at login and its changes since). */
  roster(): RosterItem[];
  /** Offers a file to a user it reaches (optional: without it, files go to users on other networks only). */
  sendFile?(to: Address, file: FileSource, options?: SendFileOptions): Promise<FileOfferEvent>;
  /** Fetches a file a user it reaches offered (optional, with `sendFile`). */
  getFile?(offer: FileOfferEvent, sink: FileSink, options?: GetFileOptions): Promise<FileTransferResult>;
  /** Logs out and closes the connection. Idempotent; `lost` is not called for it. */
  close(): Promise<void>;
}
