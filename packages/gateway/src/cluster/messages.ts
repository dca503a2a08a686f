import type { Address, DhtLimits } from '@crosstalk/core';
import type { Socks4Request } from '../socks/socks4.js';

/**
 * Messages between the primary of a `--workers N` host and its workers, over Node's IPC channel
 * (`serialization: 'advanced'`: byte arrays travel as they are). A socket travels as the handle of
 * a small message of its own: a large message sent with a handle never arrives (Node 20, found by
 * cluster.test.ts), so a hand-off's transcript goes in a message between its two sockets'.
 */

/** Cookie table operations every worker applies (a login's next connection may reach any worker). */
export type CookieOp =
  | {
      t: 'cookie';
      op: 'record';
      /** The recording worker's sequence number (acknowledged to it by the primary). */
      seq?: number;
      /** Set by the primary on a record it passes on: the number the receiving worker confirms. */
      relay?: number;
      protocol: string;
      cookie: string;
      owner: Address;
      data: unknown;
    }
  | { t: 'cookie'; op: 'forget'; protocol: string; cookie: string };

/** What a worker hands on with a connection whose session named another worker's user. */
export interface SessionHandOff {
  /** The codec's protocol name. */
  protocol: string;
  /** Where the client asked to connect. */
  target: {
    /** The server's address. */
    host: string;
    /** The server's port. */
    port: number;
  };
  /** Every chunk so far, in order, for the next worker's session to replay. */
  transcript: {
    /** The side that sent it. */
    from: 'client' | 'server';
    /** The bytes. */
    chunk: Uint8Array;
  }[];
  /** How many of the replayed session's events this worker already acted on. */
  eventsHandled: number;
  /** Chunks read after the hand-off began, not yet given to the session. */
  held: {
    /** The side that sent it. */
    from: 'client' | 'server';
    /** The bytes. */
    chunk: Uint8Array;
  }[];
}

/** Primary to worker. */
export type ToWorker =
  | {
      t: 'init';
      index: number;
      count: number;
      socks: { host: string; port: number };
      /** The worker's key (PKCS#8 PEM), the same on every restart of this index. */
      identity: string;
      /** The shared directory's limits, when the primary holds it (embedded mode). */
      dht?: DhtLimits;
      /** The live cookies of the other workers. */
      cookies: CookieOp[];
    }
  /** Carries the host's listening socket (`SharedListener`): the worker accepts on it once ready. */
  | { t: 'listen' }
  /** Carries a client connection another worker accepted with no descriptors to spare. */
  | { t: 'socks' }
  | { t: 'handoff-socks'; hid: string; request: Socks4Request; early: Uint8Array }
  | { t: 'handoff-client'; hid: string }
  | { t: 'handoff-session'; hid: string; info: SessionHandOff; upstream: boolean }
  | { t: 'handoff-upstream'; hid: string }
  | CookieOp
  | { t: 'cookie-ack'; seq: number }
  | { t: 'dht-reply'; seq: number; ok: true; values?: Uint8Array[]; removed?: boolean }
  | { t: 'dht-reply'; seq: number; ok: false; error: RemoteError }
  | { t: 'metrics'; seq: number }
  | { t: 'shutdown' };

/** Worker to primary. */
export type FromWorker =
  /** The worker listens on its channel: the primary sends `init`. */
  | { t: 'hello' }
  | { t: 'ready'; id: string; contact: unknown; g2g?: { host: string; port: number } }
  | { t: 'failed'; message: string }
  | CookieOp
  /** Carries a connection this worker accepted near its descriptor limit, for a worker with room. */
  | { t: 'redistribute' }
  /** A connection this worker accepted near its descriptor limit and closed at once (too many waiting). */
  | { t: 'refused'; reason: 'descriptors' }
  | { t: 'handoff-socks'; to: number; hid: string; request: Socks4Request; early: Uint8Array }
  | { t: 'handoff-client'; to: number; hid: string }
  | { t: 'handoff-session'; to: number; hid: string; info: SessionHandOff; upstream: boolean }
  | { t: 'handoff-upstream'; to: number; hid: string }
  | {
      t: 'dht';
      seq: number;
      op: 'put' | 'get' | 'remove';
      key: string;
      value?: Uint8Array;
      ttl?: number;
      secret?: string;
      slot?: string;
      urgent?: boolean;
    }
  /** A cookie record the primary passed on (its `relay` number) is in this worker's table. */
  | { t: 'cookie-applied'; relay: number }
  | { t: 'metrics-reply'; seq: number; metrics: unknown }
  /**
   * The worker's open descriptors and its limit, every second (every 5 s while it holds under half
   * its limit and the limit is unchanged; see `descriptorCount`), and how many the sockets it
   * received so far take (`descriptorsOf`).
   */
  | { t: 'descriptors'; open: number; limit: number; received: number };

/** An error thrown in another process, as it crosses the channel. */
export interface RemoteError {
  code?: string;
  message: string;
  /** The fields the error class is made from (`size`, `limit`, `ttl`, `max`). */
  fields?: Record<string, number>;
}

/** Environment variables a worker process is started with. */
export const WORKER_INDEX_ENV = 'CROSSTALK_WORKER_INDEX';
