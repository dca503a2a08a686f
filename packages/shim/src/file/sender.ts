import { type CrossTalkError, isCrossTalkError, MalformedFrameError } from '@crosstalk/core';
import {
  FileSizeMismatchError,
  InvalidTransferRequestError,
  TransferRefusedError,
  TransferStalledError,
} from '../errors/errors.js';
import {
  type DataChannelGrant,
  encodeChunkHead,
  encodeFileFrame,
  FILE_PROTOCOL,
  type FileFrame,
  FileFramer,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
} from './frames.js';
import { chunkEnd, type FileDigests, hashesForChunks } from './hash-list.js';

/** Copies of one chunk a sender sends again before it takes the receiver for a faulty one. */
export const MAX_REFETCHES_SERVED = 8;

/** Options of a `FileSender`. */
export interface FileSenderOptions {
  /** The largest chunk size a receiver may ask for (at most `MAX_CHUNK_SIZE`). */
  maxChunkSize?: number;
  /** ms waiting for the OPEN, or for credit with chunks left to send, before `check()` fails the transfer. */
  stallTimeout?: number;
  /** The clock, ms (tests inject one). Default `Date.now`. */
  now?: () => number;
}

/** What the receiver asked for in its OPEN: the caller looks the offer up and calls `accept` or `refuse`. */
export interface FileRequest {
  /** The offer's id. */
  offerId: string;
  /** The first byte wanted. */
  offset: number;
  /** The length of every chunk but the last. */
  chunkSize: number;
  /** The bytes that may be sent before the receiver grants more. */
  window: number;
  /** The receiver can take the bytes on a data channel (`accept` may name one). */
  dataChannel: boolean;
}

/**
 * The file a `FileSender` sends, as its offer described it, with the prefix hashes computed in the
 * same pass as its SHA-256 (`digestSource`): the HASHES it sends come from them, and no chunk is
 * hashed while it is sent.
 */
export type OfferedFile = FileDigests;

/** A read the caller does for a `FileSender`: `length` bytes of the file at `offset`, handed to `chunk`. */
export interface ChunkRead {
  /** Where the chunk starts. */
  offset: number;
  /** Its length, bytes. */
  length: number;
  /** True for a chunk sent again because the receiver found it corrupted. */
  refetch: boolean;
}

/** What a `FileSender` asks of its caller after each input. */
export interface SenderStep {
  /** Bytes for the receiver, in order: frames, a CHUNK as two pieces (its head, then its data). */
  send: Uint8Array[];
  /** The receiver's OPEN: answer with `accept` or `refuse`. */
  request?: FileRequest;
  /** The transfer failed or was cancelled (terminal); `send` holds what tells the receiver, if anything. */
  error?: CrossTalkError;
  /** The receiver cancelled and was told the sender stopped (terminal). */
  cancelled?: boolean;
}

type State = 'awaiting-open' | 'deciding' | 'sending' | 'cancelled' | 'failed';

/**
 * The sending side of one file transfer, sans-IO. It answers the receiver's OPEN (after the caller
 * has looked the offer up), then hands out reads (`nextRead`) only while the receiver has granted
 * credit for them, one at a time, so a receiver that stops reading stops the reads within one
 * window and `check()` ends the transfer after the stall timeout. The ACCEPT is followed by the
 * chunk-hash list for the receiver's chunk size (taken from the offer's digests, not computed
 * here); a REFETCH puts that chunk first in line again.
 */
export class FileSender {
  readonly #framer = new FileFramer(0);
  readonly #maxChunkSize: number;
  readonly #stallTimeout: number;
  readonly #now: () => number;
  #state: State = 'awaiting-open';
  #request: FileRequest | undefined;
  #file: OfferedFile | undefined;
  /** The offset of the next new chunk. */
  #cursor = 0;
  #credit = 0;
  readonly #refetches: number[] = [];
  /** Times each chunk was asked for again, by offset. */
  readonly #refetched = new Map<number, number>();
  #reading: ChunkRead | undefined;
  #endSent = false;
  #sent = 0;
  #lastHeard: number;

  constructor(options: FileSenderOptions = {}) {
    this.#maxChunkSize = Math.min(options.maxChunkSize ?? MAX_CHUNK_SIZE, MAX_CHUNK_SIZE);
    this.#stallTimeout = options.stallTimeout ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#lastHeard = this.#now();
  }

  /** Bytes of file data sent in chunks so far, re-sent chunks included. */
  get sentBytes(): number {
    return this.#sent;
  }

  /** True once every chunk and the END were sent (re-fetches may still come). */
  get ended(): boolean {
    return this.#endSent;
  }

  /** True once the transfer failed or was cancelled. */
  get finished(): boolean {
    return this.#state === 'failed' || this.#state === 'cancelled';
  }

  /** Bytes from the receiver. */
  receive(bytes: Uint8Array): SenderStep {
    const step: SenderStep = { send: [] };
    if (this.finished) return step;
    this.#lastHeard = this.#now();
    try {
      for (const frame of this.#framer.push(bytes)) {
        this.#frame(frame, step);
        if (this.finished) break;
      }
    } catch (error) {
      this.#fail(step, error);
    }
    return step;
  }

  /**
   * Sends the file the OPEN asked for: checks the request against it (an offset past its end, a
   * chunk size or window out of bounds: `InvalidTransferRequestError`, told to the receiver).
   * With `channel` (only when the OPEN offered to take one), the ACCEPT names it, and every frame
   * after the ACCEPT is for the data channel.
   */
  accept(file: OfferedFile, channel?: DataChannelGrant): SenderStep {
    const step: SenderStep = { send: [] };
    const request = this.#request;
    if (this.#state !== 'deciding' || !request) return step;
    try {
      if (request.offset > file.size)
        throw new InvalidTransferRequestError(
          `offset ${request.offset} is past the end (${file.size} bytes)`,
        );
      if (request.chunkSize < MIN_CHUNK_SIZE || request.chunkSize > this.#maxChunkSize)
        throw new InvalidTransferRequestError(
          `a chunk size of ${request.chunkSize} (${MIN_CHUNK_SIZE} to ${this.#maxChunkSize} bytes)`,
        );
      if (request.window < request.chunkSize)
        throw new InvalidTransferRequestError(`a window of ${request.window}, under one chunk`);
      if (channel && !request.dataChannel)
        throw new InvalidTransferRequestError('a data channel the receiver did not offer to take');
    } catch (error) {
      this.#fail(step, error);
      return step;
    }
    const hashes = hashesForChunks(file, request.chunkSize);
    if (!hashes) {
      this.#fail(
        step,
        new InvalidTransferRequestError(
          `a chunk size of ${request.chunkSize}, not a multiple of the offer's hash block of ${file.block}`,
        ),
      );
      return step;
    }
    this.#file = file;
    this.#cursor = request.offset;
    this.#credit = request.window;
    this.#state = 'sending';
    this.#lastHeard = this.#now();
    step.send.push(
      encodeFileFrame(
        channel ? { type: 'accept', size: file.size, channel } : { type: 'accept', size: file.size },
      ),
      encodeFileFrame({ type: 'hashes', hashes }),
    );
    this.#maybeEnd(step);
    return step;
  }

  /** Refuses the OPEN (an unknown offer, a peer it is not for): tells the receiver `error`'s code. */
  refuse(error: CrossTalkError): SenderStep {
    const step: SenderStep = { send: [] };
    if (this.#state === 'deciding') this.#fail(step, error);
    return step;
  }

  /**
   * The next read to do, or undefined: none while one is outstanding, a re-fetched chunk first,
   * then the next new chunk only when the receiver granted credit for all of it.
   */
  nextRead(): ChunkRead | undefined {
    if (this.#state !== 'sending' || this.#reading || !this.#file) return undefined;
    const refetch = this.#refetches.shift();
    if (refetch !== undefined) {
      this.#reading = { offset: refetch, length: this.#chunkLength(refetch), refetch: true };
      return this.#reading;
    }
    if (this.#cursor >= this.#file.size) return undefined;
    const length = this.#chunkLength(this.#cursor);
    if (this.#credit < length) return undefined;
    this.#reading = { offset: this.#cursor, length, refetch: false };
    return this.#reading;
  }

  /** The bytes of the read `nextRead` asked for: returns the CHUNK (and the END after the last one). */
  chunk(read: ChunkRead, data: Uint8Array): SenderStep {
    const step: SenderStep = { send: [] };
    if (this.#reading !== read) return step;
    this.#reading = undefined;
    if (this.#state === 'cancelled') {
      // Asked to stop while reading: the chunk stays unsent, and the receiver hears that nothing follows.
      step.send.push(encodeFileFrame({ type: 'cancelled' }));
      step.cancelled = true;
      return step;
    }
    if (this.#state !== 'sending') return step;
    if (data.length !== read.length) {
      this.#fail(
        step,
        new FileSizeMismatchError(this.#file!.size, read.offset + data.length, 'the source gave up at'),
      );
      return step;
    }
    // The head and the data as two pieces: the data goes out as the source gave it, not copied.
    step.send.push(encodeChunkHead(read.offset, data.length), data);
    this.#sent += data.length;
    if (!read.refetch) {
      this.#cursor += data.length;
      this.#credit -= data.length;
    }
    this.#maybeEnd(step);
    return step;
  }

  /** Ends the transfer with `error` (the source failed): the receiver is told its code. */
  fail(error: CrossTalkError): SenderStep {
    const step: SenderStep = { send: [] };
    if (!this.finished) this.#fail(step, error);
    return step;
  }

  /** Fails the transfer (`TransferStalledError`) when it waited for the OPEN or for credit for the stall timeout. */
  check(): SenderStep {
    const step: SenderStep = { send: [] };
    const file = this.#file;
    const waiting =
      this.#state === 'awaiting-open' ||
      (this.#state === 'sending' &&
        !this.#reading &&
        this.#refetches.length === 0 &&
        file !== undefined &&
        this.#cursor < file.size &&
        this.#credit < this.#chunkLength(this.#cursor));
    const idle = this.#now() - this.#lastHeard;
    if (waiting && idle >= this.#stallTimeout)
      this.#fail(step, new TransferStalledError(this.#state === 'sending' ? 'credit' : 'request', idle));
    return step;
  }

  #frame(frame: FileFrame, step: SenderStep): void {
    switch (frame.type) {
      case 'open':
        if (this.#state !== 'awaiting-open') throw this.#unexpected(frame.type);
        this.#request = {
          offerId: frame.offerId,
          offset: frame.offset,
          chunkSize: frame.chunkSize,
          window: frame.window,
          dataChannel: frame.dataChannel === true,
        };
        this.#state = 'deciding';
        step.request = this.#request;
        return;
      case 'credit':
        if (this.#state !== 'sending') throw this.#unexpected(frame.type);
        this.#credit += frame.bytes;
        return;
      case 'refetch': {
        if (this.#state !== 'sending') throw this.#unexpected(frame.type);
        const start = this.#request!.offset;
        // Only a chunk already sent, where one starts (the first, or on the grid), not asked for twice at once.
        if (
          frame.offset < start ||
          frame.offset >= this.#cursor ||
          (frame.offset !== start && frame.offset % this.#request!.chunkSize !== 0) ||
          this.#refetches.includes(frame.offset) ||
          this.#reading?.offset === frame.offset
        )
          throw new InvalidTransferRequestError(`a REFETCH of offset ${frame.offset}`);
        // A receiver re-fetching without end would make this side send the file over and over.
        const times = (this.#refetched.get(frame.offset) ?? 0) + 1;
        if (times > MAX_REFETCHES_SERVED)
          throw new InvalidTransferRequestError(`chunk ${frame.offset} asked for again ${times} times`);
        this.#refetched.set(frame.offset, times);
        this.#refetches.push(frame.offset);
        return;
      }
      case 'cancel':
        if (this.#state === 'awaiting-open') throw this.#unexpected(frame.type);
        this.#state = 'cancelled';
        if (!this.#reading) {
          step.send.push(encodeFileFrame({ type: 'cancelled' }));
          step.cancelled = true;
        }
        return;
      case 'error':
        this.#state = 'failed';
        step.error = new TransferRefusedError(frame.code, frame.message);
        return;
      default:
        throw this.#unexpected(frame.type);
    }
  }

  #maybeEnd(step: SenderStep): void {
    const file = this.#file!;
    if (this.#endSent || this.#cursor < file.size) return;
    this.#endSent = true;
    step.send.push(encodeFileFrame({ type: 'end' }));
  }

  #chunkLength(offset: number): number {
    return chunkEnd(offset, this.#request!.chunkSize, this.#file!.size) - offset;
  }

  #unexpected(type: string): MalformedFrameError {
    return new MalformedFrameError(FILE_PROTOCOL, `a ${type.toUpperCase()} in state ${this.#state}`);
  }

  #fail(step: SenderStep, error: unknown): void {
    const typed = isCrossTalkError(error)
      ? error
      : new MalformedFrameError(FILE_PROTOCOL, String(error), { cause: error });
    this.#state = 'failed';
    this.#reading = undefined;
    step.error = typed;
    step.send.push(encodeFileFrame({ type: 'error', code: typed.code, message: typed.message }));
  }
}
