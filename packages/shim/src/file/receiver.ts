import { createHash, type Hash } from 'node:crypto';
import {
  type CrossTalkError,
  type FileOfferEvent,
  type FileTransferResult,
  isCrossTalkError,
  MalformedFrameError,
  toHex,
} from '@crosstalk/core';
import {
  ChunkCorruptedError,
  ChunkOutOfBoundsError,
  CreditExceededError,
  FileHashMismatchError,
  FileSizeMismatchError,
  FileTooLargeError,
  InvalidSinkError,
  InvalidTransferRequestError,
  TransferAbortedError,
  TransferInterruptedError,
  TransferRefusedError,
  TransferStalledError,
} from '../errors/errors.js';
import {
  encodeFileFrame,
  FILE_PROTOCOL,
  type FileFrame,
  FileFramer,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
} from './frames.js';
import { checkFileOffer } from './offer.js';

/** Defaults of a transfer's receiving side (and of `createClient`'s `files`). */
export const FILE_RECEIVER_DEFAULTS = {
  /** Bytes in every chunk but the last. */
  chunkSize: 256 * 1024,
  /** Bytes the sender may send ahead of what the sink has written (four chunks). */
  window: 1024 * 1024,
  /** Copies of one chunk that may fail their hash before the transfer fails. */
  maxRefetches: 3,
  /** ms without a frame from the sender, while it owes one, before the transfer fails. */
  stallTimeout: 30_000,
} as const;

/** Options of a `FileReceiver`. */
export interface FileReceiverOptions {
  /** The offer to fetch (checked: `InvalidFileOfferError`). */
  offer: FileOfferEvent;
  /** The bytes the sink holds already: the transfer resumes there. */
  offset: number;
  /** Bytes in every chunk but the last (`MIN_CHUNK_SIZE` to `MAX_CHUNK_SIZE`). */
  chunkSize?: number;
  /**
   * Bytes the sender may send ahead of the sink (at least one chunk): what this side holds at most
   * for a sink that is slower than the network, and what a transfer cut off loses in flight.
   */
  window?: number;
  /** Larger offers are refused before anything is sent (`FileTooLargeError`). Default: no limit. */
  maxFileSize?: number;
  /** Copies of one chunk that may fail their hash before the transfer fails (`ChunkCorruptedError`). */
  maxRefetches?: number;
  /** ms without a frame from the sender, while it owes one, before `check()` fails the transfer. */
  stallTimeout?: number;
  /**
   * True: chunks are not hashed here but handed out in `ReceiverStep.check`, for the caller to hash
   * (off the main thread, as `fetchFile` does) and return with `checked`. Default false.
   */
  deferChunkCheck?: boolean;
  /** The clock, ms (tests inject one). Default `Date.now`. */
  now?: () => number;
}

/** A chunk within bounds whose SHA-256 the caller computes (`deferChunkCheck`), then passes to `checked`. */
export interface ChunkCheck {
  /** Where it starts in the file. */
  readonly offset: number;
  /** Its bytes. */
  readonly data: Uint8Array;
  /** SHA-256 of `data` as the sender computed it. */
  readonly hash: Uint8Array;
}

/**
 * What a `FileReceiver` asks of its caller after each input: frames to send to the sender, verified
 * chunks to write to the sink in this order, and, at most once, the outcome.
 */
export interface ReceiverStep {
  /** Frames for the sender, in order. */
  send: Uint8Array[];
  /** Verified chunks for the sink, in file order, following what it holds. */
  write: Uint8Array[];
  /** Chunks to hash and return with `checked` (only with `deferChunkCheck`), in any order. */
  check?: ChunkCheck[];
  /** The file is complete and its hash checked, once the writes above are done. */
  done?: FileTransferResult;
  /** The transfer failed (terminal); `send` holds the ERROR or CANCEL that tells the sender. */
  error?: CrossTalkError;
}

type State = 'new' | 'opening' | 'receiving' | 'cancelling' | 'done' | 'failed';

/**
 * The receiving side of one file transfer, sans-IO: bytes from the sender in, frames to send and
 * chunks to write out. It checks every chunk's bounds (the offset it asked for, the length that
 * offset must have) and hash, re-fetches a chunk that fails its hash (and holds the chunks after
 * it, at most one window, so the sink still gets them in order), grants credit only as the sink
 * writes, and hashes the whole file as it goes, starting with what the sink held
 * (`hashHeld`): resuming re-hashes the held bytes rather than trusting a hash state from the
 * sender, so the final check covers every byte the sink ends up with.
 */
export class FileReceiver {
  /** The offer being fetched (checked). */
  readonly offer: FileOfferEvent;
  /** The offset the transfer resumes from: what the sink held. */
  readonly resumedFrom: number;
  /** Bytes in every chunk but the last. */
  readonly chunkSize: number;
  /** Bytes the sender may send ahead of the sink. */
  readonly window: number;
  readonly #maxRefetches: number;
  readonly #stallTimeout: number;
  readonly #now: () => number;
  readonly #deferCheck: boolean;
  readonly #framer: FileFramer;
  readonly #hash: Hash = createHash('sha256');
  #state: State = 'new';
  /** Bytes of the held prefix hashed so far (must reach `resumedFrom` before `start`). */
  #heldHashed = 0;
  /** The next offset handed to the sink. */
  #expected: number;
  /** The offset the sender's next new chunk must have. */
  #sendCursor: number;
  /** Bytes of new chunks the sender may still send. */
  #allowed: number;
  /** Verified chunks waiting for an earlier one (being re-fetched). */
  readonly #ready = new Map<number, Uint8Array>();
  /** Chunks asked for again, by offset. */
  readonly #refetching = new Set<number>();
  /** Copies of a chunk that failed their hash, by offset. */
  readonly #failures = new Map<number, number>();
  #endHash: string | undefined;
  /** Chunks handed out in `check` and not yet `checked`. */
  #checking = 0;
  /** How the transfer ends (the sender confirmed a cancel, the stream closed) once the checks are in. */
  #ending: (() => CrossTalkError) | undefined;
  #written = 0;
  #lastHeard: number;

  constructor(options: FileReceiverOptions) {
    this.offer = checkFileOffer(options.offer);
    const size = this.offer.size;
    if (options.maxFileSize !== undefined && size > options.maxFileSize)
      throw new FileTooLargeError(size, options.maxFileSize);
    const offset = options.offset;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size)
      throw new InvalidSinkError(`a sink offset of ${offset} for a file of ${size} bytes`);
    this.chunkSize = options.chunkSize ?? FILE_RECEIVER_DEFAULTS.chunkSize;
    if (
      !Number.isInteger(this.chunkSize) ||
      this.chunkSize < MIN_CHUNK_SIZE ||
      this.chunkSize > MAX_CHUNK_SIZE
    )
      throw new InvalidTransferRequestError(
        `a chunk size of ${this.chunkSize} (${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes)`,
      );
    this.window = options.window ?? Math.max(FILE_RECEIVER_DEFAULTS.window, this.chunkSize);
    if (!Number.isInteger(this.window) || this.window < this.chunkSize || this.window > 0xffff_ffff)
      throw new InvalidTransferRequestError(`a window of ${this.window} (one chunk to 4 GiB)`);
    this.#maxRefetches = options.maxRefetches ?? FILE_RECEIVER_DEFAULTS.maxRefetches;
    this.#stallTimeout = options.stallTimeout ?? FILE_RECEIVER_DEFAULTS.stallTimeout;
    this.#now = options.now ?? Date.now;
    this.#deferCheck = options.deferChunkCheck ?? false;
    this.#framer = new FileFramer(this.chunkSize);
    this.resumedFrom = offset;
    this.#expected = offset;
    this.#sendCursor = offset;
    this.#allowed = this.window;
    this.#lastHeard = this.#now();
  }

  /** The bytes handed to the sink so far (held before, plus received). */
  get received(): number {
    return this.#expected;
  }

  /** The bytes the sink reported written (`written`), held bytes included. */
  get written(): number {
    return this.resumedFrom + this.#written;
  }

  /** True once the transfer completed or failed. */
  get finished(): boolean {
    return this.#state === 'done' || this.#state === 'failed';
  }

  /** Feeds the bytes the sink held before this transfer, in order, so the whole-file hash covers them. */
  hashHeld(bytes: Uint8Array): void {
    if (this.#state !== 'new') throw new InvalidSinkError('held bytes after the transfer started');
    if (this.#heldHashed + bytes.length > this.resumedFrom)
      throw new InvalidSinkError(`the sink holds more than its offset of ${this.resumedFrom} bytes`);
    this.#hash.update(bytes);
    this.#heldHashed += bytes.length;
  }

  /** The OPEN frame that starts the transfer; throws `InvalidSinkError` unless every held byte was hashed. */
  start(): Uint8Array {
    if (this.#state !== 'new') throw new InvalidSinkError('the transfer started already');
    if (this.#heldHashed !== this.resumedFrom)
      throw new InvalidSinkError(
        `the sink says it holds ${this.resumedFrom} bytes but gave ${this.#heldHashed} to hash`,
      );
    this.#state = 'opening';
    this.#lastHeard = this.#now();
    return encodeFileFrame({
      type: 'open',
      offerId: this.offer.id,
      offset: this.resumedFrom,
      chunkSize: this.chunkSize,
      window: this.window,
    });
  }

  /** Bytes from the sender. */
  receive(bytes: Uint8Array): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished || this.#ending) return step;
    this.#lastHeard = this.#now();
    try {
      for (const frame of this.#framer.push(bytes)) {
        this.#frame(frame, step);
        if (this.finished || this.#ending) break;
      }
    } catch (error) {
      this.#fail(step, error);
    }
    return step;
  }

  /**
   * The SHA-256 the caller computed of a chunk `receive` handed out in `check`: a match is handed to
   * the sink in file order; a mismatch re-fetches the chunk (or fails the transfer, as `receive` does).
   */
  checked(check: ChunkCheck, sha256: Uint8Array): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished) return step;
    this.#checking--;
    try {
      this.#verified(check.offset, check.data, Buffer.from(sha256).equals(check.hash), step);
      this.#complete(step);
    } catch (error) {
      this.#fail(step, error);
    }
    this.#end(step);
    return step;
  }

  /**
   * The sink wrote `bytes` (of the chunks handed out): the sender may send as many more. Returns
   * the CREDIT to send, unless the sender needs no more.
   */
  wrote(bytes: number): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    this.#written += bytes;
    if (this.#state !== 'receiving' || this.#sendCursor >= this.offer.size) return step;
    this.#allowed += bytes;
    step.send.push(encodeFileFrame({ type: 'credit', bytes }));
    return step;
  }

  /**
   * Cancels: the sender is told to stop, and the chunks already on their way are still taken (and
   * handed to the sink) until it confirms, so a resume finds them held and nothing is sent twice.
   * The step's `error` (`TransferAbortedError`) comes when the sender confirms, or at once before
   * it accepted.
   */
  cancel(reason: string): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished || this.#ending || this.#state === 'cancelling') return step;
    step.send.push(encodeFileFrame({ type: 'cancel', reason }));
    if (this.#state === 'receiving') this.#state = 'cancelling';
    else {
      this.#state = 'failed';
      step.error = new TransferAbortedError(this.#expected);
    }
    return step;
  }

  /** The stream closed: a transfer not finished fails (`TransferInterruptedError`, or aborted when cancelling). */
  closed(): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished) return step;
    const cancelling = this.#state === 'cancelling';
    this.#ending ??= () =>
      cancelling
        ? new TransferAbortedError(this.#expected)
        : new TransferInterruptedError(
            `the stream closed with ${this.#expected} of ${this.offer.size} bytes`,
          );
    this.#end(step);
    return step;
  }

  /** Ends the transfer with `error` (the sink failed): the sender is told its code. */
  fail(error: CrossTalkError): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (!this.finished) this.#fail(step, error);
    return step;
  }

  /**
   * Fails the transfer (`TransferStalledError`) when the sender owes a frame (an ACCEPT, chunks it
   * has credit for, a re-fetched chunk, the END) and sent nothing for the stall timeout.
   */
  check(): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished || this.#ending || this.#state === 'new') return step;
    const owed =
      this.#state !== 'receiving' ||
      this.#refetching.size > 0 ||
      (this.#sendCursor < this.offer.size && this.#allowed >= this.#chunkLength(this.#sendCursor)) ||
      (this.#sendCursor >= this.offer.size && this.#endHash === undefined);
    const idle = this.#now() - this.#lastHeard;
    if (owed && idle >= this.#stallTimeout)
      this.#fail(step, new TransferStalledError('frame from the sender', idle));
    return step;
  }

  #frame(frame: FileFrame, step: ReceiverStep): void {
    switch (frame.type) {
      case 'accept':
        if (this.#state !== 'opening') throw this.#unexpected(frame.type);
        if (frame.size !== this.offer.size)
          throw new FileSizeMismatchError(this.offer.size, frame.size, 'the sender says');
        this.#state = 'receiving';
        return;
      case 'chunk':
        if (this.#state !== 'receiving' && this.#state !== 'cancelling') throw this.#unexpected(frame.type);
        this.#chunk(frame.offset, frame.hash, frame.data, step);
        this.#complete(step);
        return;
      case 'end':
        if (this.#state !== 'receiving' && this.#state !== 'cancelling') throw this.#unexpected(frame.type);
        if (this.#endHash !== undefined) throw this.#unexpected(frame.type);
        if (this.#sendCursor !== this.offer.size)
          throw new FileSizeMismatchError(this.offer.size, this.#sendCursor, 'the sender ended after');
        this.#endHash = toHex(frame.sha256);
        this.#complete(step);
        return;
      case 'cancelled':
        if (this.#state !== 'cancelling') throw this.#unexpected(frame.type);
        this.#ending = () => new TransferAbortedError(this.#expected);
        this.#end(step);
        return;
      case 'error':
        this.#state = 'failed';
        step.error = new TransferRefusedError(frame.code, frame.message);
        return;
      default:
        throw this.#unexpected(frame.type);
    }
  }

  #chunk(offset: number, hash: Uint8Array, data: Uint8Array, step: ReceiverStep): void {
    const size = this.offer.size;
    const length = this.#chunkLength(offset);
    if (offset === this.#sendCursor && offset < size) {
      if (data.length !== length)
        throw new ChunkOutOfBoundsError(offset, data.length, `${length} bytes at that offset`);
      if (data.length > this.#allowed) throw new CreditExceededError(this.#allowed, data.length);
      this.#allowed -= data.length;
      this.#sendCursor += data.length;
    } else if (this.#refetching.has(offset)) {
      if (data.length !== length)
        throw new ChunkOutOfBoundsError(offset, data.length, `${length} bytes at that offset`);
      this.#refetching.delete(offset);
    } else {
      throw new ChunkOutOfBoundsError(
        offset,
        data.length,
        `offset ${this.#sendCursor} or a re-fetched chunk`,
      );
    }
    if (this.#deferCheck) {
      step.check ??= [];
      step.check.push({ offset, data, hash });
      this.#checking++;
      return;
    }
    this.#verified(offset, data, createHash('sha256').update(data).digest().equals(hash), step);
  }

  /** A chunk's hash was checked: hands it to the sink in file order, or re-fetches it. */
  #verified(offset: number, data: Uint8Array, matches: boolean, step: ReceiverStep): void {
    if (!matches) {
      const attempts = (this.#failures.get(offset) ?? 0) + 1;
      this.#failures.set(offset, attempts);
      if (attempts > this.#maxRefetches) throw new ChunkCorruptedError(offset, attempts);
      // Cancelling: the gap stays, and what the sink holds ends before it.
      if (this.#state === 'cancelling') return;
      this.#refetching.add(offset);
      step.send.push(encodeFileFrame({ type: 'refetch', offset }));
      return;
    }
    this.#ready.set(offset, data);
    for (let next = this.#ready.get(this.#expected); next; next = this.#ready.get(this.#expected)) {
      this.#ready.delete(this.#expected);
      this.#hash.update(next);
      step.write.push(next);
      this.#expected += next.length;
    }
  }

  /**
   * Ends the transfer as `#ending` says once no chunk check is outstanding: the chunks that arrived
   * before the end are still verified and handed to the sink, so a resume does not fetch them again.
   */
  #end(step: ReceiverStep): void {
    if (!this.#ending || this.#checking > 0 || this.finished) return;
    this.#state = 'failed';
    step.error = this.#ending();
  }

  #complete(step: ReceiverStep): void {
    if (this.#state !== 'receiving' || this.#endHash === undefined || this.#expected !== this.offer.size)
      return;
    const actual = this.#hash.digest('hex');
    const expected = this.offer.sha256 ?? this.#endHash;
    this.#state = 'done';
    if (actual !== expected || this.#endHash !== expected) {
      // The offer's hash is what the receiver was promised; a sender whose END differs sent another file.
      this.#fail(step, new FileHashMismatchError(expected, actual === expected ? this.#endHash : actual));
      return;
    }
    step.done = { bytes: this.offer.size, sha256: actual, resumedFrom: this.resumedFrom };
  }

  /** The length a chunk at `offset` must have: a whole chunk, or what is left of the file. */
  #chunkLength(offset: number): number {
    return Math.min(this.chunkSize, this.offer.size - offset);
  }

  #unexpected(type: string): MalformedFrameError {
    return new MalformedFrameError(FILE_PROTOCOL, `a ${type.toUpperCase()} in state ${this.#state}`);
  }

  #fail(step: ReceiverStep, error: unknown): void {
    const typed = isCrossTalkError(error)
      ? error
      : new MalformedFrameError(FILE_PROTOCOL, String(error), { cause: error });
    this.#state = 'failed';
    step.error = typed;
    step.send.push(encodeFileFrame({ type: 'error', code: typed.code, message: typed.message }));
  }
}
