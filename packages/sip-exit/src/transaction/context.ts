import type { SipMessage } from '../message/message.js';

/** Where a message goes or came from: a transport and an address, and for TCP the connection if one is known. */
export interface SipDestination {
  /** `udp` or `tcp`. */
  transport: 'udp' | 'tcp';
  /** The IP address. */
  host: string;
  /** The port. */
  port: number;
  /** A TCP connection's id in the transport's table (the one a request came in on). */
  connection?: number;
}

/** RFC 3261 §17.1.1.1 timer values, ms. */
export interface SipTimerValues {
  /** Round-trip estimate: the first retransmission interval (500 ms). */
  T1: number;
  /** Longest retransmission interval for non-INVITE requests and INVITE responses (4 s). */
  T2: number;
  /** Longest time a message stays in the network (5 s). */
  T4: number;
}

/** The values RFC 3261 §17.1.1.1 recommends. */
export const RFC3261_TIMERS: SipTimerValues = Object.freeze({ T1: 500, T2: 4000, T4: 5000 });

/** Timers as a port, so transactions run on a fake clock in tests. */
export interface SipScheduler {
  /** Calls `fn` once after `ms`; returns a handle for `clear`. */
  set(ms: number, fn: () => void): unknown;
  /** Cancels a timer (a handle already fired or cleared is ignored). */
  clear(handle: unknown): void;
}

/** Node's timers, unref'd so that a pending retransmission never keeps a process alive. */
export const nodeScheduler: SipScheduler = {
  set(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** What a transaction needs from the layer below and around it. */
export interface TransactionContext {
  /** Sends a message; a failure is reported through the transaction's `transportError`. */
  send(message: SipMessage, to: SipDestination): void;
  /** The clock. */
  scheduler: SipScheduler;
  /** T1, T2, T4. */
  timers: SipTimerValues;
}

/** A set of named timers of one transaction, all cleared when it ends. */
export class TimerSet {
  readonly #scheduler: SipScheduler;
  readonly #handles = new Map<string, unknown>();

  constructor(scheduler: SipScheduler) {
    this.#scheduler = scheduler;
  }

  /** (Re)starts timer `name`. */
  start(name: string, ms: number, fn: () => void): void {
    this.stop(name);
    this.#handles.set(
      name,
      this.#scheduler.set(ms, () => {
        this.#handles.delete(name);
        fn();
      }),
    );
  }

  /** Stops timer `name` if it runs. */
  stop(name: string): void {
    const handle = this.#handles.get(name);
    if (handle === undefined) return;
    this.#scheduler.clear(handle);
    this.#handles.delete(name);
  }

  /** Stops every timer. */
  clear(): void {
    for (const handle of this.#handles.values()) this.#scheduler.clear(handle);
    this.#handles.clear();
  }
}
