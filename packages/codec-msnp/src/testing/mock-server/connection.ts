import type { Socket } from 'node:net';
import type { MsnpCommand } from '../../command/command.js';
import { decodeFrame } from '../../command/frame-codec.js';
import { CommandFramer } from '../../command/framer.js';

const encoder = new TextEncoder();

/** What the mock saw on one connection, for tests that check bytes arrive untouched. */
export interface MockConnectionRecord {
  readonly id: number;
  kind: 'notification' | 'switchboard' | 'unknown';
  /** The user, once logged in. */
  user: string | undefined;
  /** Every chunk the client wrote, in order. */
  readonly received: Uint8Array[];
  /** Every byte the mock wrote. */
  readonly sent: Uint8Array[];
}

/** One client socket: frames what the client writes and writes lines back. */
export class MockConnection {
  readonly record: MockConnectionRecord;
  readonly #socket: Socket;
  readonly #framer = new CommandFramer('client');
  #closed = false;

  constructor(
    id: number,
    socket: Socket,
    onCommand: (conn: MockConnection, cmd: MsnpCommand) => void,
    onClose: (conn: MockConnection) => void,
    first?: Uint8Array,
  ) {
    this.#socket = socket;
    this.record = { id, kind: 'unknown', user: undefined, received: [], sent: [] };
    const onData = (chunk: Uint8Array) => {
      if (this.#closed) return;
      this.record.received.push(Uint8Array.from(chunk));
      let frames: Uint8Array[];
      try {
        frames = this.#framer.push(chunk);
      } catch {
        this.close();
        return;
      }
      for (const raw of frames) {
        const frame = decodeFrame(raw, 'client');
        try {
          if (frame.type === 'command') onCommand(this, frame);
        } catch {
          // A command the mock cannot handle ends the connection, as a server would.
          this.close();
        }
        if (this.#closed) return;
      }
      if (this.#framer.error) this.close();
    };
    socket.on('data', onData);
    socket.on('error', () => this.close());
    socket.on('close', () => {
      this.#closed = true;
      onClose(this);
    });
    if (first) onData(first);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes `line` + CRLF and, for a payload command, the payload after it (its length last on the line). */
  send(line: string, payload?: Uint8Array | string): void {
    if (this.#closed) return;
    const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
    const head = encoder.encode(body === undefined ? `${line}\r\n` : `${line} ${body.length}\r\n`);
    const bytes = body === undefined ? head : Buffer.concat([head, body]);
    this.record.sent.push(bytes);
    this.#socket.write(bytes);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
    this.#socket.destroySoon?.();
  }

  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }
}
