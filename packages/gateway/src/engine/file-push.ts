import {
  type CrossTalkError,
  type FileOfferEvent,
  type G2gContact,
  isCrossTalkError,
  type SessionEvent,
} from '@crosstalk/core';
import { FilePushStalledError } from '../errors/errors.js';
import type { NodeEngine } from '../node/create-node.js';
import type { ProxiedConnection } from './connection.js';

/**
 * Where a gateway gets the bytes of a file offered to one of its users: from the offering user's
 * node, over G2G (`@crosstalk/shim`'s `gatewayFileFetcher` on a file channel). The gateway never
 * fetches a file itself otherwise.
 */
export interface FileFetcher {
  /**
   * The bytes of `offer` in order, fetched from `peer` (the node serving its sender). Ends after
   * the last byte once the whole file's hash matched; throws (typed) when the transfer fails;
   * stops when `signal` aborts.
   */
  fetch(
    offer: FileOfferEvent,
    peer: { id: string; contact: G2gContact },
    signal: AbortSignal,
  ): AsyncIterable<Uint8Array>;
}

/** `GatewayOptions.files`: files offered to this gateway's users pushed into their client streams. */
export interface FilePushOptions {
  /** Where the bytes come from. */
  fetcher: FileFetcher;
  /** Bytes per block offered to the client (XMPP: the IBB block-size, at most 65535). Default 4096 (XEP-0047 §2.1). */
  blockSize?: number;
  /** ms the client may take to take the next block before the transfer fails. Default 30 s. */
  stallTimeout?: number;
}

/** One file on its way into one client stream. */
class Push {
  readonly controller = new AbortController();
  #iterator: AsyncIterator<Uint8Array> | undefined;
  #buffered: Uint8Array[] = [];
  #bufferedBytes = 0;
  #fetchDone = false;
  #lastSent = false;
  #pulling = false;
  #timer: NodeJS.Timeout | undefined;
  acknowledged = 0;
  #inFlight = 0;

  constructor(
    readonly connection: ProxiedConnection,
    readonly offer: FileOfferEvent,
    readonly pushes: FilePushes,
  ) {}

  start(source: AsyncIterable<Uint8Array>, blockSize: number): void {
    this.#iterator = source[Symbol.asyncIterator]();
    this.connection.inject(this.connection.session.files!.open(this.offer, blockSize));
    this.#arm();
  }

  /** The client takes the next block (of at most `max` bytes). */
  ready(max: number): void {
    this.acknowledged += this.#inFlight;
    this.#inFlight = 0;
    this.#arm();
    if (this.#pulling) return;
    this.#pulling = true;
    void this.#next(max)
      .catch((error: Error) => this.fail(error))
      .finally(() => {
        this.#pulling = false;
      });
  }

  async #next(max: number): Promise<void> {
    const files = this.connection.session.files!;
    if (this.#lastSent) {
      this.connection.inject(files.close(this.offer.id));
      return;
    }
    try {
      // One byte beyond the block, or the end: the last block waits for the whole file's hash.
      while (!this.#fetchDone && this.#bufferedBytes <= max) {
        const step = await this.#iterator!.next();
        if (step.done) this.#fetchDone = true;
        else if (step.value.length > 0) {
          this.#buffered.push(step.value);
          this.#bufferedBytes += step.value.length;
        }
      }
    } catch (error) {
      this.fail(isCrossTalkError(error) ? error : new Error(String(error)));
      return;
    }
    if (this.pushes.ended(this)) return;
    const block = this.#take(Math.min(max, this.#bufferedBytes));
    if (this.#fetchDone && this.#bufferedBytes === 0) this.#lastSent = true;
    if (block.length === 0) {
      this.connection.inject(files.close(this.offer.id));
      return;
    }
    this.#inFlight = block.length;
    this.connection.inject(files.block(this.offer.id, block));
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.#buffered[0]!;
      const part = Math.min(head.length, n - at);
      out.set(head.subarray(0, part), at);
      at += part;
      if (part === head.length) this.#buffered.shift();
      else this.#buffered[0] = head.subarray(part);
    }
    this.#bufferedBytes -= n;
    return out;
  }

  /** The engine gives up on this transfer: the client is told (a close), the fetch stops. */
  fail(error: Error): void {
    if (this.pushes.ended(this)) return;
    try {
      if (!this.connection.closed)
        this.connection.inject(this.connection.session.files!.close(this.offer.id, error as CrossTalkError));
    } catch {
      // The session can no longer inject (it left the verified state): nothing to tell the client.
    }
    this.pushes.finish(this, error);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const wait = this.pushes.stallTimeout;
    this.#timer = setTimeout(() => this.fail(new FilePushStalledError(wait)), wait);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.controller.abort();
    void this.#iterator?.return?.().catch(() => {});
  }
}

/**
 * The files a gateway pushes into its users' client streams: a file offered to a user whose
 * session can carry the bytes (`ProxySession.files`: XMPP, XEP-0047) is fetched from the sender's
 * node and handed to the session a block at a time, as the client asks for them. A transfer that
 * fails (the fetch, the client's refusal, a client that stops answering) ends alone, with a typed
 * error; the connection and every other transfer go on.
 */
export class FilePushes {
  readonly #node: NodeEngine;
  readonly #options: FilePushOptions;
  readonly #pushes = new Map<ProxiedConnection, Map<string, Push>>();

  constructor(node: NodeEngine, options: FilePushOptions) {
    this.#node = node;
    this.#options = options;
  }

  get stallTimeout(): number {
    return this.#options.stallTimeout ?? 30_000;
  }

  /** A file offer was delivered on `c`: push its bytes when the session can carry them. */
  offered(c: ProxiedConnection, offer: FileOfferEvent): void {
    if (!c.session.files || c.closed) return;
    let mine = this.#pushes.get(c);
    if (!mine) {
      mine = new Map();
      this.#pushes.set(c, mine);
    }
    if (mine.has(offer.id)) return;
    const push = new Push(c, offer, this);
    mine.set(offer.id, push);
    void (async () => {
      const location = await this.#node.directory.lookupLocation(offer.from).catch(() => undefined);
      if (!location) {
        push.fail(new Error(`${offer.from.user}@${offer.from.network} is not online to send the file`));
        return;
      }
      if (this.ended(push)) return;
      const source = this.#options.fetcher.fetch(
        offer,
        { id: location.gateway, contact: location.contact },
        push.controller.signal,
      );
      push.start(source, this.#options.blockSize ?? 4096);
    })().catch((error: Error) => push.fail(error));
  }

  /** A session event of `c`: the file transfers' own. */
  onEvent(c: ProxiedConnection, event: SessionEvent): void {
    if (event.type !== 'file-ready' && event.type !== 'file-closed') return;
    const push = this.#pushes.get(c)?.get(event.offerId);
    if (!push) return;
    if (event.type === 'file-ready') push.ready(event.max);
    else this.finish(push, event.error);
  }

  /** `c` closed: its transfers stop. */
  onClose(c: ProxiedConnection): void {
    const mine = this.#pushes.get(c);
    this.#pushes.delete(c);
    for (const push of mine?.values() ?? []) push.stop();
  }

  ended(push: Push): boolean {
    return this.#pushes.get(push.connection)?.get(push.offer.id) !== push;
  }

  finish(push: Push, error?: Error): void {
    const mine = this.#pushes.get(push.connection);
    if (mine?.get(push.offer.id) !== push) return;
    mine.delete(push.offer.id);
    push.stop();
    const outcome = error ? (isCrossTalkError(error) ? error.code : 'error') : 'done';
    this.#node.log.info(
      { connection: push.connection.id, offer: push.offer.id, bytes: push.acknowledged, outcome, err: error },
      'file push ended',
    );
    this.#node.emit({
      type: 'file-pushed',
      offerId: push.offer.id,
      connection: push.connection.id,
      bytes: push.acknowledged,
      outcome,
    });
  }
}
