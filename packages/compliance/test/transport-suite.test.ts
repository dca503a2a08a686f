import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  DeliveryFailedError,
  G2gAuthError,
  type G2gContact,
  G2gContactError,
  type G2gListenOptions,
  type G2gStream,
  type G2gTransport,
} from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { runTransportChecks, transportChecks, transportSuite } from '../src/index.js';

/**
 * The suite's own tests: a plain-TCP toy transport where each side just states its id (no proof,
 * no encryption; never use it for anything else) passes the checks, and the same toy with one flaw
 * each fails the check about that flaw.
 */
interface Flaws {
  /** connect() hands out the stream whoever answered. */
  trusting?: boolean;
  /** write() always says there is room, so the writer never stops. */
  unbounded?: boolean;
}

/** Reads the peer's 32-byte id from the socket, leaving whatever follows in its buffer. */
async function peerId(socket: Socket): Promise<string> {
  for (;;) {
    const id = socket.read(32) as Buffer | null;
    if (id) return id.toString('hex');
    await Promise.race([
      once(socket, 'readable'),
      once(socket, 'close').then(() => Promise.reject(new DeliveryFailedError('closed'))),
    ]);
  }
}

class StatedIdTransport implements G2gTransport {
  readonly name = 'stated-id';
  readonly localId = randomBytes(32).toString('hex');
  readonly #open = new Set<Socket>();
  #server: Server | undefined;

  constructor(private readonly flaws: Flaws = {}) {}

  #stream(socket: Socket): G2gStream {
    if (this.flaws.unbounded) {
      const write = socket.write.bind(socket);
      socket.write = ((data: Uint8Array) => {
        write(data);
        return true;
      }) as typeof socket.write;
    }
    return socket;
  }

  #track(socket: Socket): void {
    socket.on('error', () => {});
    this.#open.add(socket);
    socket.on('close', () => this.#open.delete(socket));
    socket.write(Buffer.from(this.localId, 'hex'));
  }

  async listen(options: G2gListenOptions): Promise<G2gContact> {
    this.#server = createServer((socket) => {
      this.#track(socket);
      peerId(socket).then(
        (id) => options.onConnection(this.#stream(socket), id),
        () => socket.destroy(),
      );
    });
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return {
      transport: this.name,
      host: '127.0.0.1',
      port: (this.#server.address() as { port: number }).port,
    };
  }

  async connect(expected: string, contact: G2gContact): Promise<G2gStream> {
    if (contact.transport !== this.name || typeof contact.port !== 'number')
      throw new G2gContactError('not a stated-id contact');
    const socket = connect(contact.port, '127.0.0.1');
    this.#track(socket);
    try {
      await once(socket, 'connect');
    } catch (cause) {
      throw new DeliveryFailedError('nobody there', { cause });
    }
    const id = await peerId(socket);
    if (id !== expected && !this.flaws.trusting) {
      socket.destroy();
      throw new G2gAuthError(`${id} answered`);
    }
    return this.#stream(socket);
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy();
    if (this.#server?.listening) {
      this.#server.close();
      await once(this.#server, 'close');
    }
  }
}

transportSuite({ name: 'stated-id toy', create: async () => new StatedIdTransport() });

describe('the transport suite fails a transport with a flaw', () => {
  const failed = async (flaws: Flaws, about: RegExp) => {
    const options = {
      name: 'flawed',
      create: async () => new StatedIdTransport(flaws),
      maxBuffered: 16 * 1024 * 1024,
    };
    const names = transportChecks(options)
      .map((c) => c.name)
      .filter((n) => about.test(n));
    expect(names).toHaveLength(1);
    const failures = await runTransportChecks(options);
    return failures.map((f) => f.check);
  };

  it('one that hands out a stream to whatever key answered', async () => {
    const failures = await failed({ trusting: true }, /another key/);
    expect(failures).toEqual([expect.stringMatching(/another key/)]);
  });

  it('one whose write() never says the buffer is full', async () => {
    const failures = await failed({ unbounded: true }, /backpressure/);
    expect(failures).toEqual([expect.stringMatching(/backpressure/)]);
  });
});
