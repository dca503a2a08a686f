import type { Address, Direction } from '@crosstalk/core';

/** One write of a recorded login: the bytes one side wrote, on one connection. */
export interface LoginWrite {
  /**
   * Connection label, when the login spans connections (OSCAR: auth, then BOS with the cookie;
   * MSNP: notification server, then a switchboard). Each label gets its own session; the sessions
   * of one script share a cookie table, as one gateway's do.
   */
  conn?: string;
  /** Which side writes. */
  direction: Direction;
  /** What it writes. */
  bytes: Uint8Array;
}

/**
 * A real login that reaches `verified`, as the writes of both sides in the order they happened
 * (a recorded transcript, or what a test's mock server and scripted client exchange). The session
 * checks replay it through the codec's proxy sessions.
 */
export interface LoginScript {
  /** The script's name, for failure messages. */
  name: string;
  /** The login, write by write, as captured. */
  writes: readonly LoginWrite[];
  /** The user the server confirms: `verified.address` must equal it. */
  user: Address;
  /**
   * Index in `writes` of the server write that confirms the login. No session may be verified
   * before it is fed, and none may ever be when it and every later server write are withheld
   * (the server that never answers). XMPP: the bind result; MSNP: `USR t OK`; OSCAR: the auth
   * server's reply carrying the BOS cookie.
   */
  confirmedAt: number;
  /**
   * The connection whose verified session the outbound, `self` and `deliver` checks use. Default:
   * the connection of the last write.
   */
  conn?: string;
  /**
   * The connection on which the client sets its own status, for the `self` check. Default: `conn`
   * (MSNP: the notification connection, not the switchboard).
   */
  statusConn?: string;
  /**
   * Client writes that make `to` addressable on that connection before the suite sends it a
   * message or delivers one from it (an MSNP switchboard's `CAL t bob@yahoo`). Default: none.
   */
  address?(to: Address): readonly Uint8Array[];
}

/** A login the server refuses (or never answers): no session may ever be verified. */
export interface RefusedLogin {
  /** The script's name, for failure messages. */
  name: string;
  /** The refused login, write by write. */
  writes: readonly LoginWrite[];
}

/** The connection label of a write (writes without one are one connection). */
export function connOf(w: LoginWrite): string {
  return w.conn ?? '';
}
