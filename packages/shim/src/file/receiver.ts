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
  type DataChannelGrant,
  encodeFileFrame,
  FILE_PROTOCOL,
  type FileFrame,
  FileFramer,
  HASH_BYTES,
  MAX_CHUNK_SIZE,
  MAX_HASH_ENTRIES,
  MIN_CHUNK_SIZE,
} from './frames.js';
import { chunkEnd, hashEntries } from './hash-list.js';
import { checkFileOffer } from './offer.js';

const NO_BYTES = new Uint8Array(0);

/** Defaults of a transfer's receiving side (and of `createClient`'s `files`). */
export const FILE_RECEIVER_DEFAULTS = {
  /** Bytes in every chunk but the last. */
  chunkSize: 256 * 1024,
  /** Bytes the sender may send ahead of what the sink has written (four chunks). */
  window: 1024 * 1024,
  /** Copies of one chunk that may fail its check against the hash list before the transfer fails. */
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
  /** Copies of one chunk that may fail its check before the transfer fails (`ChunkCorruptedError`). */
  maxRefetches?: number;
  /** ms without a frame from the sender, while it owes one, before `check()` fails the transfer. */
  stallTimeout?: number;
  /** The clock, ms (tests inject one). Default `Date.now`. */
  now?: () => number;
  /** Offer to take the bytes on a data channel (the OPEN's flag); the sender may name one in its ACCEPT. */
  dataChannel?: boolean;
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
  /** The file is complete and its hash checked, once the writes above are done. */
  done?: FileTransferResult;
  /** The transfer failed (terminal); `send` holds the ERROR or CANCEL that tells the sender. */
  error?: CrossTalkError;
  /**
   * The sender's ACCEPT named a data channel: the frames after it come on that channel, and the
   * frames `send` holds from now on go there.
   */
  channel?: DataChannelGrant;
}

type State = 'new' | 'opening' | 'listing' | 'receiving' | 'cancelling' | 'done' | 'failed';

/**
 * The receiving side of one file transfer, sans-IO: bytes from the sender in, frames to send and
 * chunks to write out. After the ACCEPT comes the chunk-hash list (its length known here before a
 * byte of it arrives, its last entry the offer's SHA-256). The file is hashed once, in order,
 * starting with what the sink held (`hashHeld`, checked against the list at every chunk boundary
 * it crosses): each chunk in bounds (the offset it asked for, the length that offset must have)
 * is added to the running hash, and the digest at its end must be the list's entry, else it is
 * re-fetched (the chunks after it, at most one window, wait for it so the sink still gets them in
 * order). Credit is granted only as the sink writes. The running hash at the file's end is the
 * whole file's SHA-256, so no other pass checks it.
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
  readonly #dataChannel: boolean;
  readonly #framer: FileFramer;
  /** SHA-256 of the bytes handed to the sink so far (held ones first). */
  #hash: Hash = createHash('sha256');
  #state: State = 'new';
  /** Bytes of the held prefix hashed so far (must reach `resumedFrom` before `start`). */
  #heldHashed = 0;
  /** Digests of the held prefix at each chunk boundary it crosses, to check against the list. */
  readonly #heldDigests: Uint8Array[] = [];
  /** The chunk-hash list, once it arrived. */
  #hashes: Uint8Array | undefined;
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
  /** Copies of a chunk that failed their check, by offset. */
  readonly #failures = new Map<number, number>();
  #endSeen = false;
  /** How the transfer ended (the sender confirmed a cancel, the stream closed). */
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
    // The list's length follows from the size and the chunk size: capped before anything is sent.
    if (hashEntries(size, this.chunkSize) > MAX_HASH_ENTRIES)
      throw new InvalidTransferRequestError(
        `a chunk size of ${this.chunkSize} for ${size} bytes: over ${MAX_HASH_ENTRIES} chunk hashes`,
      );
    this.#maxRefetches = options.maxRefetches ?? FILE_RECEIVER_DEFAULTS.maxRefetches;
    this.#stallTimeout = options.stallTimeout ?? FILE_RECEIVER_DEFAULTS.stallTimeout;
    this.#now = options.now ?? Date.now;
    this.#dataChannel = options.dataChannel === true;
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

  /**
   * Feeds the bytes the sink held before this transfer, in order: the running hash starts with
   * them, and its digest at each chunk boundary is checked against the list when it comes.
   */
  hashHeld(bytes: Uint8Array): void {
    if (this.#state !== 'new') throw new InvalidSinkError('held bytes after the transfer started');
    if (this.#heldHashed + bytes.length > this.resumedFrom)
      throw new InvalidSinkError(`the sink holds more than its offset of ${this.resumedFrom} bytes`);
    for (let from = 0; from < bytes.length; ) {
      const at = this.#heldHashed;
      const end = Math.min(bytes.length, from + chunkEnd(at, this.chunkSize, this.offer.size) - at);
      this.#hash.update(bytes.subarray(from, end));
      this.#heldHashed += end - from;
      if (this.#heldHashed % this.chunkSize === 0 || this.#heldHashed === this.offer.size)
        this.#heldDigests.push(this.#hash.copy().digest());
      from = end;
    }
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
      ...(this.#dataChannel ? { dataChannel: true } : {}),
    });
  }

  /** Bytes from the sender. */
  receive(bytes: Uint8Array): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished || this.#ending) return step;
    this.#lastHeard = this.#now();
    try {
      // The framer stops after an ACCEPT: the frames after it are framed once it is handled.
      for (let frames = this.#framer.push(bytes); frames.length > 0; frames = this.#framer.push(NO_BYTES))
        for (const frame of frames) {
          this.#frame(frame, step);
          if (this.finished || this.#ending) return step;
        }
    } catch (error) {
      this.#fail(step, error);
    }
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
   * Fails the transfer (`TransferStalledError`) when the sender owes a frame (an ACCEPT, the hash
   * list, chunks it has credit for, a re-fetched chunk, the END) and sent nothing for the stall timeout.
   */
  check(): ReceiverStep {
    const step: ReceiverStep = { send: [], write: [] };
    if (this.finished || this.#ending || this.#state === 'new') return step;
    const owed =
      this.#state !== 'receiving' ||
      this.#refetching.size > 0 ||
      (this.#sendCursor < this.offer.size && this.#allowed >= this.#chunkLength(this.#sendCursor)) ||
      (this.#sendCursor >= this.offer.size && !this.#endSeen);
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
        if (frame.channel) {
          if (!this.#dataChannel)
            throw new MalformedFrameError(FILE_PROTOCOL, 'an ACCEPT naming a data channel not offered');
          step.channel = frame.channel;
        }
        this.#state = 'listing';
        this.#framer.expectHashes(hashEntries(this.offer.size, this.chunkSize) * HASH_BYTES);
        return;
      case 'hashes':
        if (this.#state !== 'listing') throw this.#unexpected(frame.type);
        this.#list(frame.hashes);
        this.#state = 'receiving';
        this.#complete(step);
        return;
      case 'chunk':
        if (this.#state !== 'receiving' && this.#state !== 'cancelling') throw this.#unexpected(frame.type);
        this.#chunk(frame.offset, frame.data, step);
        this.#complete(step);
        return;
      case 'end':
        if (this.#state !== 'receiving' && this.#state !== 'cancelling') throw this.#unexpected(frame.type);
        if (this.#endSeen) throw this.#unexpected(frame.type);
        if (this.#sendCursor !== this.offer.size)
          throw new FileSizeMismatchError(this.offer.size, this.#sendCursor, 'the sender ended after');
        this.#endSeen = true;
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

  /**
   * The hash list arrived (its length checked by the framer): its last entry must be the offer's
   * SHA-256, and the held bytes' digests its first entries.
   */
  #list(hashes: Uint8Array): void {
    const entries = hashes.length / HASH_BYTES;
    const root = entries > 0 ? toHex(hashes.subarray(hashes.length - HASH_BYTES)) : undefined;
    // The list is the sender's word; the offer's hash is what the receiver was promised.
    if (root !== undefined && this.offer.sha256 !== undefined && root !== this.offer.sha256)
      throw new FileHashMismatchError(this.offer.sha256, root);
    this.#heldDigests.forEach((digest, i) => {
      if (!Buffer.from(digest).equals(hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)))
        throw new InvalidSinkError(
          `the sink's bytes before ${Math.min((i + 1) * this.chunkSize, this.offer.size)} are not the offered file's`,
        );
    });
    this.#hashes = hashes;
  }

  #chunk(offset: number, data: Uint8Array, step: ReceiverStep): void {
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
    this.#ready.set(offset, data);
    this.#drain(step);
  }

  /**
   * Hands the chunks that follow what the sink got to it, in file order, each checked on the way:
   * the running hash over it must end at the list's entry for its end. A chunk that does not is
   * dropped and re-fetched (the running hash stays before it), and the ones after it wait.
   */
  #drain(step: ReceiverStep): void {
    const hashes = this.#hashes!;
    for (let next = this.#ready.get(this.#expected); next; next = this.#ready.get(this.#expected)) {
      const offset = this.#expected;
      this.#ready.delete(offset);
      const trial = this.#hash.copy().update(next);
      const end = offset + next.length;
      const entry = Math.ceil(end / this.chunkSize) - 1;
      const digest = trial.copy().digest();
      if (!digest.equals(hashes.subarray(entry * HASH_BYTES, (entry + 1) * HASH_BYTES))) {
        this.#corrupted(offset, step);
        return;
      }
      this.#hash = trial;
      step.write.push(next);
      this.#expected = end;
    }
  }

  /** A chunk failed its check: re-fetched, unless it failed too often. */
  #corrupted(offset: number, step: ReceiverStep): void {
    const attempts = (this.#failures.get(offset) ?? 0) + 1;
    this.#failures.set(offset, attempts);
    if (attempts > this.#maxRefetches) throw new ChunkCorruptedError(offset, attempts);
    // Cancelling: the gap stays, and what the sink holds ends before it.
    if (this.#state === 'cancelling') return;
    this.#refetching.add(offset);
    step.send.push(encodeFileFrame({ type: 'refetch', offset }));
  }

  /** Ends the transfer as `#ending` says (the chunks that arrived before were checked and handed out). */
  #end(step: ReceiverStep): void {
    if (!this.#ending || this.finished) return;
    this.#state = 'failed';
    step.error = this.#ending();
  }

  #complete(step: ReceiverStep): void {
    if (this.#state !== 'receiving' || !this.#endSeen || this.#expected !== this.offer.size) return;
    // The running hash now covers every byte the sink holds, and matched the list's last entry,
    // the offer's hash (checked when the list came): its digest is the whole file's, at no extra pass.
    const actual = this.#hash.digest('hex');
    const hashes = this.#hashes!;
    const expected =
      this.offer.sha256 ?? (hashes.length > 0 ? toHex(hashes.subarray(hashes.length - HASH_BYTES)) : actual);
    this.#state = 'done';
    if (actual !== expected) {
      this.#fail(step, new FileHashMismatchError(expected, actual));
      return;
    }
    step.done = { bytes: this.offer.size, sha256: actual, resumedFrom: this.resumedFrom };
  }

  /** The length a chunk at `offset` must have: up to the next chunk boundary, or the file's end. */
  #chunkLength(offset: number): number {
    return chunkEnd(offset, this.chunkSize, this.offer.size) - offset;
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
