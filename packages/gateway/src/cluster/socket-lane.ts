import type { Socket } from 'node:net';

/** Sends one message over a Node IPC channel, with the socket it carries; `callback` once written. */
export type ChannelSend<M> = (message: M, handle?: Socket, callback?: (error: Error | null) => void) => void;

/** Messages that travel with sockets: they keep their order with them. */
const WITH_SOCKETS = new Set([
  'socks',
  'redistribute',
  'handoff-client',
  'handoff-socks',
  'handoff-session',
  'handoff-upstream',
]);

/**
 * The sockets a process passes to another, in a lane of their own. Node passes one handle at a time
 * and holds every later message on the channel, whatever it is, until the receiver acknowledges
 * that handle (`_handleQueue` in Node's lib/internal/child_process.js): a burst of new connections
 * would make a login cookie's acknowledgement wait behind all of them (an MSN `XFR SB` timed out so
 * at 2,080 clients). Here sockets, and the hand-off messages that go with them, wait in this lane and
 * are given to Node one at a time; every other message goes at once, behind at most the socket
 * being passed and the next.
 */
export class SocketLane<M extends { t: string }> {
  readonly #send: ChannelSend<M>;
  readonly #waiting: { message: M; handle: Socket | undefined; failed: (() => void) | undefined }[] = [];
  #passing = false;

  constructor(send: ChannelSend<M>) {
    this.#send = send;
  }

  /** Messages and sockets still waiting in the lane (not yet given to Node). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Sends `message`, with `handle` when it carries a socket; `failed` runs when that socket could
   * not be sent. Throws, as the channel's `send` does, for a message without a socket.
   */
  send(message: M, handle?: Socket, failed?: () => void): void {
    if (!handle && !WITH_SOCKETS.has(message.t)) {
      this.#send(message);
      return;
    }
    this.#waiting.push({ message, handle, failed });
    this.#next();
  }

  /** The channel closed: what waits is dropped, its sockets destroyed. */
  drop(): void {
    for (const w of this.#waiting.splice(0)) w.handle?.destroy();
    this.#passing = false;
  }

  #next(): void {
    while (!this.#passing && this.#waiting.length > 0) {
      const { message, handle, failed } = this.#waiting.shift()!;
      try {
        if (!handle) {
          this.#send(message);
          continue;
        }
        this.#passing = true;
        // Called once Node wrote it: the next waits in Node's own queue for this one's acknowledgement.
        this.#send(message, handle, (error) => {
          this.#passing = false;
          if (error) (failed ?? (() => handle.destroy()))();
          this.#next();
        });
      } catch {
        this.#passing = false;
        if (handle) (failed ?? (() => handle.destroy()))();
      }
    }
  }
}
