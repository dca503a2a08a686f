import type { Socket } from 'node:net';
import type { Address, PresenceStatus, TypingState } from '@crosstalk/core';

/**
 * Scripted users of one IM network, driven through a gateway exactly as an unmodified client
 * configured with a SOCKS proxy would be: every TCP connection (login, BOS, switchboards, ...) is
 * opened with `dial`, which goes through the gateway's SOCKS4 front. The demo, the end-to-end
 * tests and the benchmark drive every protocol through this one interface.
 */
export type Dial = (host: string, port: number) => Promise<Socket>;

/** A scripted user of one network, driven as its IM client would be, every connection through `dial`. */
export interface UserDriver {
  /** The user's canonical address (`alice@aol`, `bob@yahoo`, `carol@hotmail.com@msn`, `dave@localhost`). */
  readonly address: Address;
  /** Logs in (every step, through `dial`); resolves once the client would show its buddy list. */
  login(): Promise<void>;
  /** Logs out cleanly (as the client's "sign off"). */
  logout(): Promise<void>;
  /** Drops the connection without logging out (a crash). */
  disconnect(): Promise<void>;

  /** Adds a buddy and asks for authorisation, as the client's "add buddy" does. */
  addBuddy(buddy: Address, message?: string): Promise<void>;
  /** Waits for `from` to ask to add this user. */
  nextBuddyRequest(from: Address, timeoutMs?: number): Promise<{ message?: string }>;
  /** Answers a request from `from`; accepting also adds them back where the protocol needs it. */
  answerBuddyRequest(from: Address, accept: boolean): Promise<void>;
  /** Waits until `from` answered this user's request. */
  nextBuddyResponse(from: Address, timeoutMs?: number): Promise<{ accepted: boolean }>;
  /** The buddies the client shows now (from the server's list, with the gateway's merged items). */
  buddies(): Address[];

  /** Sends an IM, as the client does when its user presses Enter. */
  sendIm(to: Address, text: string): Promise<void>;
  /**
   * Hands every IM received from now on to `listener` as it arrives, instead of keeping it for
   * `nextIm` (load generators: nothing piles up). Returns a function that restores queuing.
   */
  onIm(listener: (from: Address, text: string) => void): () => void;
  /** Waits for the next IM from `from` not yet returned, and returns its plain text. */
  nextIm(from: Address, timeoutMs?: number): Promise<string>;

  /** Starts (`composing`) or stops (`paused`) typing to `to`. */
  sendTyping(to: Address, state: 'composing' | 'paused'): Promise<void>;
  /** Waits for the next typing notice from `from` not yet returned. */
  nextTyping(from: Address, timeoutMs?: number): Promise<TypingState>;

  /** Changes this user's own status (`online` or `away`, with an optional message). */
  setPresence(status: 'online' | 'away', text?: string): Promise<void>;
  /** Waits for a presence of `from` (with `status` when given) not yet returned. */
  nextPresence(from: Address, status?: PresenceStatus, timeoutMs?: number): Promise<PresenceStatus>;
}

/** A user account on a network's server. */
export interface NetworkUser {
  /** The native name (screen name, Yahoo id, passport, JID localpart). */
  name: string;
  /** The account's password. */
  password: string;
}

/** One network's real or mock server, with its users, and drivers for them. */
export interface NetworkFixture {
  /** The network's protocol id. */
  readonly protocol: string;
  /** The network id users' addresses carry (`aol`, `yahoo`, `msn`, or the XMPP domain). */
  readonly network: string;
  /** Where clients connect (through the gateway). */
  readonly server: { host: string; port: number };
  /** The canonical address of one of the fixture's users. */
  address(name: string): Address;
  /** A driver for `name` whose connections all go through `dial`. */
  driver(name: string, dial: Dial): UserDriver;
  /** Stops the server. */
  stop(): Promise<void>;
}

/** Starts a network's server with these users, and returns the fixture that drives them. */
export type StartNetwork = (users: readonly NetworkUser[]) => Promise<NetworkFixture>;

/** Where a network's server is, for drivers created without starting it (the benchmark's load process). */
export interface ServerAddress {
  /** The server's address. */
  host: string;
  /** Its port. */
  port: number;
  /** The network id its users' addresses carry (XMPP: the server's domain). */
  network: string;
}

/** A driver for `user` of a server that runs elsewhere (another process), all connections via `dial`. */
export type ConnectUser = (server: ServerAddress, user: NetworkUser, dial: Dial) => UserDriver;
