import { EventEmitter } from 'node:events';
import type { G2gContact, G2gListenOptions, G2gStream, G2gTransport } from '@crosstalk/core';
import { FILE_STREAM_PREAMBLE } from '../file/frames.js';

/**
 * File streams beside the event links, on the node's own G2G transport: a transport that wraps the
 * node's (TCP with Noise, hyperdht) and hands it to `createNode`. A file stream is a connection of
 * its own, dialled to the same peer id and proven the same way, whose dialler writes
 * `FILE_STREAM_PREAMBLE` first; an incoming connection is told apart by its first bytes. A G2G link
 * starts with a frame length of at most 1 MiB, so its first byte is 0 and it is handed to the node
 * as soon as that byte arrives; the preamble, read as such a length, is far over any frame a link
 * takes, so a node without file streams refuses one instead of misreading it.
 */
export class FileChannelTransport implements G2gTransport {
  readonly #inner: G2gTransport;
  readonly #onFileStream: (stream: G2gStream, remoteId: string) => void;

  constructor(
    inner: G2gTransport,
    /** Called with each incoming file stream (its preamble read) and the peer's proven id. */
    onFileStream: (stream: G2gStream, remoteId: string) => void,
  ) {
    this.#inner = inner;
    this.#onFileStream = onFileStream;
  }

  get name(): string {
    return this.#inner.name;
  }

  get localId(): string {
    return this.#inner.localId;
  }

  listen(options: G2gListenOptions): Promise<G2gContact> {
    return this.#inner.listen({
      ...options,
      onConnection: (stream, remoteId) =>
        sniff(stream, (kind, replay) => {
          if (kind === 'file') this.#onFileStream(replay, remoteId);
          else options.onConnection(replay, remoteId);
        }),
    });
  }

  connect(peerId: string, contact: G2gContact): Promise<G2gStream> {
    return this.#inner.connect(peerId, contact);
  }

  /** Dials a file stream to `peerId` (proven as `connect` proves it) and writes the preamble. */
  async openFileStream(peerId: string, contact: G2gContact): Promise<G2gStream> {
    const stream = await this.#inner.connect(peerId, contact);
    stream.write(FILE_STREAM_PREAMBLE);
    return stream;
  }

  boundAddress():
    | {
        /** The address the inner transport listens on (a wildcard stays a wildcard). */
        address: string;
        /** Its TCP port. */
        port: number;
      }
    | undefined {
    return this.#inner.boundAddress?.();
  }

  reannounce(): void {
    this.#inner.reannounce?.();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * Reads an incoming stream's first bytes until they match the preamble or cannot: then hands the
 * stream on, with the bytes read so far replayed (after the preamble, for a file stream).
 */
function sniff(stream: G2gStream, decided: (kind: 'file' | 'link', replay: G2gStream) => void): void {
  let head = new Uint8Array(0);
  const onData = (chunk: Uint8Array) => {
    const joined = new Uint8Array(head.length + chunk.length);
    joined.set(head);
    joined.set(chunk, head.length);
    head = joined;
    const n = Math.min(head.length, FILE_STREAM_PREAMBLE.length);
    let matches = true;
    for (let i = 0; i < n; i++) if (head[i] !== FILE_STREAM_PREAMBLE[i]) matches = false;
    if (matches && head.length < FILE_STREAM_PREAMBLE.length) return;
    stream.off('data', onData);
    stream.off('close', onGone);
    stream.off('error', onError);
    const kind = matches ? 'file' : 'link';
    const rest = kind === 'file' ? head.subarray(FILE_STREAM_PREAMBLE.length) : head;
    decided(kind, new ReplayStream(stream, rest));
  };
  // Closed before it said anything: nothing to hand on.
  const onGone = () => {
    stream.off('data', onData);
    stream.off('error', onError);
  };
  // An error before it said anything ends it (its 'close' follows).
  const onError = () => stream.destroy();
  stream.on('data', onData);
  stream.on('close', onGone);
  stream.on('error', onError);
}

/**
 * A stream whose first 'data' is bytes already read from it, then whatever it reads next. Called
 * from within the inner stream's 'data' event, so nothing can arrive in between; the replayed
 * bytes wait for the first 'data' listener.
 */
class ReplayStream extends EventEmitter implements G2gStream {
  readonly #inner: G2gStream;
  #pending: Uint8Array | undefined;

  constructor(inner: G2gStream, first: Uint8Array) {
    super();
    this.#inner = inner;
    this.#pending = first.length > 0 ? first : undefined;
    inner.on('drain', () => this.emit('drain'));
    inner.on('end', () => this.emit('end'));
    inner.on('close', () => this.emit('close'));
    // Always listened to on the inner stream (an unheard 'error' would throw); passed on when heard here.
    inner.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    // Until someone reads, the inner stream holds what arrives.
    inner.pause();
    this.on('newListener', (event: string) => {
      if (event !== 'data') return;
      queueMicrotask(() => this.#start());
    });
  }

  #started = false;

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    const first = this.#pending;
    this.#pending = undefined;
    if (first) this.emit('data', first);
    this.#inner.on('data', (chunk) => this.emit('data', chunk));
    this.#inner.resume();
  }

  get destroyed(): boolean {
    return this.#inner.destroyed;
  }

  write(data: Uint8Array): boolean {
    return this.#inner.write(data);
  }

  end(): unknown {
    return this.#inner.end();
  }

  destroy(error?: Error): unknown {
    return this.#inner.destroy(error);
  }

  pause(): unknown {
    return this.#inner.pause();
  }

  resume(): unknown {
    return this.#inner.resume();
  }
}
