import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { MsnpCommand, MsnpErrorReply, MsnpFrame } from '../../command/command.js';
import { decodeFrame } from '../../command/frame-codec.js';
import { CommandFramer } from '../../command/framer.js';

const encoder = new TextEncoder();

/** What a request gets back: a command, or a numeric error. */
export type Reply = MsnpCommand | MsnpErrorReply;

/**
 * Opens one TCP connection of the client to `host:port` (an address the server named, or the first
 * one). A client configured with a SOCKS proxy opens every connection through it: pass a function
 * that connects through the proxy (`socksConnect(proxy, host, port)` from `@crosstalk/gateway/testing`).
 */
export type DialFunction = (host: string, port: number) => Promise<Socket>;

/** Options of one scripted client connection. */
export interface ConnectionOptions {
  /** Opens the TCP connection. Default `directDial`. */
  dial?: DialFunction;
  /** Sees every frame the server sends, after the connection's own `onFrame`, before any wait takes it. */
  observe?: (frame: MsnpFrame, connection: ClientConnection) => void;
  /**
   * Which frames are kept in `frames` (for a later `take`, and as the record). Default: all. A
   * long-running client whose `observe` consumes messages and presence keeps only what its waits
   * may still want; a frame a wait is already waiting for reaches it either way.
   */
  retain?: (frame: MsnpFrame) => boolean;
  /** Keep every chunk written and received in `written`/`received`. Default true. */
  record?: boolean;
}

/** Connects straight to `host:port` (no proxy): the default `DialFunction`. */
export const directDial: DialFunction = async (host, port) => {
  const socket = connect(port, host);
  await once(socket, 'connect');
  return socket;
};

interface Waiter {
  predicate: (frame: MsnpFrame) => boolean;
  resolve: (frame: MsnpFrame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One TCP connection of the scripted client: writes command lines, frames what the server sends,
 * and lets the script wait for a frame. Each received frame is taken at most once, so two waits for
 * `RNG` get two different rings.
 */
export class ClientConnection {
  readonly written: Uint8Array[] = [];
  readonly received: Uint8Array[] = [];
  /** Every frame the server sent, in order. */
  readonly frames: MsnpFrame[] = [];
  readonly #taken = new Set<MsnpFrame>();
  readonly #waiters = new Set<Waiter>();
  readonly #arrivals = new Set<(error?: Error) => void>();
  readonly #socket: Socket;
  readonly #framer = new CommandFramer('server');
  readonly #timeout: number;
  #closed = false;
  /** Called for each frame before anyone waits for it (automatic answers, such as CHL). */
  onFrame: ((frame: MsnpFrame) => void) | undefined;
  readonly #options: ConnectionOptions;

  private constructor(socket: Socket, timeout: number, options: ConnectionOptions) {
    this.#socket = socket;
    this.#timeout = timeout;
    this.#options = options;
    // Each command is one write; commands written in a row (a message and a typing notice, `QRY`)
    // must not wait for the server's delayed ACK (Nagle's algorithm), as a real client's do not.
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (options.record !== false) this.received.push(Uint8Array.from(chunk));
      let raws: Uint8Array[];
      try {
        raws = this.#framer.push(chunk);
      } catch (error) {
        this.#fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      for (const raw of raws) this.#arrive(decodeFrame(raw, 'server'));
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#fail(new Error('connection closed'));
    });
    socket.on('error', () => {});
  }

  /** Opens a connection to `host:port` (with `options.dial`, default `directDial`). */
  static async open(
    host: string,
    port: number,
    timeout: number,
    options: ConnectionOptions = {},
  ): Promise<ClientConnection> {
    return new ClientConnection(await (options.dial ?? directDial)(host, port), timeout, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #arrive(frame: MsnpFrame): void {
    const kept = this.#options.retain?.(frame) ?? true;
    if (kept) this.frames.push(frame);
    this.onFrame?.(frame);
    this.#options.observe?.(frame, this);
    for (const check of [...this.#arrivals]) check();
    for (const w of this.#waiters) {
      if (w.predicate(frame)) {
        if (kept) this.#taken.add(frame);
        this.#waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(frame);
        return;
      }
    }
  }

  #fail(error: Error): void {
    for (const check of [...this.#arrivals]) check(error);
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.#waiters.clear();
  }

  /** Writes a command line (and payload, its length appended to the line). */
  send(line: string, payload?: Uint8Array | string): void {
    const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
    const head = encoder.encode(body === undefined ? `${line}\r\n` : `${line} ${body.length}\r\n`);
    const bytes = body === undefined ? head : Buffer.concat([head, body]);
    if (this.#options.record !== false) this.written.push(Uint8Array.from(bytes));
    this.#socket.write(bytes);
  }

  /** The first frame, received already or later, that matches and was not taken before. */
  take(predicate: (frame: MsnpFrame) => boolean, what = 'a frame'): Promise<MsnpFrame> {
    const past = this.frames.find((f) => !this.#taken.has(f) && predicate(f));
    if (past) {
      this.#taken.add(past);
      return Promise.resolve(past);
    }
    if (this.#closed) return Promise.reject(new Error(`connection closed while waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject: (e) => reject(new Error(`${e.message} while waiting for ${what}`)),
        timer: setTimeout(() => {
          if (this.#waiters.delete(waiter)) reject(new Error(`no ${what} within ${this.#timeout} ms`));
        }, this.#timeout),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Resolves once more than `count` frames have arrived, without taking any. */
  whenMore(count: number, what = 'more frames'): Promise<void> {
    if (this.frames.length > count) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error(`connection closed while waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#arrivals.delete(check);
        reject(new Error(`no ${what} within ${this.#timeout} ms`));
      }, this.#timeout);
      const check = (error?: Error) => {
        if (!error && this.frames.length <= count) return;
        this.#arrivals.delete(check);
        clearTimeout(timer);
        if (error) reject(new Error(`${error.message} while waiting for ${what}`));
        else resolve();
      };
      this.#arrivals.add(check);
    });
  }

  /** The reply (a command or an error) carrying transaction id `trid`. */
  async reply(trid: number, what: string): Promise<Reply> {
    const frame = await this.take((f) => f.type !== 'raw' && f.trid === trid, `the reply to ${what}`);
    return frame as Reply;
  }

  /** The next unread command with this verb. */
  async command(verb: string, predicate: (cmd: MsnpCommand) => boolean = () => true): Promise<MsnpCommand> {
    return (await this.take(
      (f) => f.type === 'command' && f.verb === verb && predicate(f),
      verb,
    )) as MsnpCommand;
  }

  /** Drops the connection at once, without a word to the server (a crash). */
  destroy(): void {
    this.#socket.destroy();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#socket.end();
    await Promise.race([once(this.#socket, 'close'), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.#socket.destroy();
  }
}
