import {
  FrameTooLargeError,
  InvalidEncodingError,
  MalformedFrameError,
  StreamClosedError,
} from '@crosstalk/core';

/**
 * The file-transfer protocol's frames (docs/client-api.md "How a file moves"), on a G2G stream of
 * its own between the receiver's node and the sender's node: `u32 length | u8 type | body`, length
 * counting type + body, integers big-endian, offsets as u64 (at most 2^53 - 1).
 *
 * receiver -> sender: OPEN (offer id, offset, chunk size, window), CREDIT (more bytes it may send),
 * REFETCH (send the chunk at this offset again), CANCEL.
 * sender -> receiver: ACCEPT (the file's size), HASHES (the chunk-hash list: the SHA-256 of the
 * file's prefix up to the end of each chunk, every chunk from 0, the last one the whole file's),
 * CHUNK (offset, data), END (every chunk was sent), CANCELLED (the answer to CANCEL).
 * Either way: ERROR (an error code and a message), which ends the transfer.
 *
 * Chunks lie on a grid from byte 0: the chunk at `offset` ends at the next multiple of the chunk
 * size (or the file's end), so a resume from a sink offset off the grid starts with a shorter one.
 */

/** The protocol's name in its errors. */
export const FILE_PROTOCOL = 'crosstalk-file';

/**
 * What the dialler of a file stream writes first. Read as a G2G link's u32 length it is far over any
 * frame a link takes, so a node without file transfers refuses the stream instead of misreading it.
 */
export const FILE_STREAM_PREAMBLE: Uint8Array = new Uint8Array([0x43, 0x54, 0x46, 0x4c, 0x02]); // "CTFL" v2

/** The smallest chunk size a receiver may ask for, bytes. */
export const MIN_CHUNK_SIZE = 1024;
/** The largest chunk size this implementation takes, bytes: a CHUNK frame's cap derives from it. */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
/** Characters in an offer id (core's `LIMITS.id`). */
export const MAX_OFFER_ID = 256;
/** Bytes of an ERROR's code, and of an ERROR's message or a CANCEL's reason. */
export const MAX_CODE_BYTES = 64;
/** Bytes of an ERROR's message or a CANCEL's reason. */
export const MAX_REASON_BYTES = 512;
/** Entries of a HASHES list at most (8 MiB of it): a receiver refuses a chunk size giving more. */
export const MAX_HASH_ENTRIES = 2 ** 18;
/** Bytes of one HASHES entry (a SHA-256). */
export const HASH_BYTES = 32;
/** Bytes of a control frame's body (everything but CHUNK): the longest is ERROR's. */
export const MAX_CONTROL_FRAME = 1 + 1 + MAX_CODE_BYTES + MAX_REASON_BYTES;

const TYPE = {
  open: 1,
  accept: 2,
  chunk: 3,
  credit: 4,
  refetch: 5,
  end: 6,
  cancel: 7,
  cancelled: 8,
  error: 9,
  hashes: 10,
} as const;

/** A frame of the file-transfer protocol, decoded. */
export type FileFrame =
  | {
      /** The receiver asks for an offered file from `offset`. */
      type: 'open';
      /** The offer's id (`FileOfferEvent.id`). */
      offerId: string;
      /** The first byte wanted: what the receiver's sink already holds. */
      offset: number;
      /** The length of every chunk but the last, bytes. */
      chunkSize: number;
      /** The bytes the sender may send before it is granted more. */
      window: number;
      /** The receiver can take the file's bytes on a data channel (a trailing flags byte, bit 0). */
      dataChannel?: boolean;
    }
  | {
      /** The sender will send the file. */
      type: 'accept';
      /** The file's size as the sender knows it. */
      size: number;
      /**
       * Where the frames after this one travel, when the OPEN offered a data channel and the sender
       * opened one: a TLS-PSK connection to the sender's host (a trailing part of 50 bytes).
       */
      channel?: DataChannelGrant;
    }
  | {
      /** The chunk-hash list, after the ACCEPT: what every chunk is checked against. */
      type: 'hashes';
      /**
       * For each chunk from byte 0, the SHA-256 of the file up to its end (32 bytes each, the
       * last one the whole file's): `ceil(size / chunkSize)` entries.
       */
      hashes: Uint8Array;
    }
  | {
      /** A piece of the file. */
      type: 'chunk';
      /** Where it starts in the file. */
      offset: number;
      /** The bytes. */
      data: Uint8Array;
    }
  | {
      /** The receiver grants the sender more bytes. */
      type: 'credit';
      /** How many. */
      bytes: number;
    }
  | {
      /** The receiver asks again for a chunk that failed its hash. */
      type: 'refetch';
      /** Where the chunk starts. */
      offset: number;
    }
  | {
      /** The sender sent every chunk. */
      type: 'end';
    }
  | {
      /** The receiver cancels; it still takes the chunks already on their way. */
      type: 'cancel';
      /** Why, for logs. */
      reason: string;
    }
  | {
      /** The sender stopped after a CANCEL: nothing more follows. */
      type: 'cancelled';
    }
  | {
      /** The transfer failed on the sending side of this frame. */
      type: 'error';
      /** An error code (`ERR_UNKNOWN_FILE_OFFER`). */
      code: string;
      /** What went wrong, for people. */
      message: string;
    };

/** Bytes of a data channel's one-time PSK identity. */
export const CHANNEL_IDENTITY_BYTES = 16;
/** Bytes of a data channel's pre-shared key. */
export const CHANNEL_KEY_BYTES = 32;

/**
 * A data channel the sender opened for one transfer, sent in its ACCEPT (inside the authenticated
 * G2G stream, so only the two peers learn it): the port on the sender's host, and the one-time
 * TLS-PSK identity and key the receiver must connect with.
 */
export interface DataChannelGrant {
  /** The TCP port on the sender's host (the host the receiver dialled the file stream to). */
  port: number;
  /** The one-time PSK identity (`CHANNEL_IDENTITY_BYTES` random bytes). */
  identity: Uint8Array;
  /** The pre-shared key (`CHANNEL_KEY_BYTES` random bytes). */
  key: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The frame's bytes, length header included. */
export function encodeFileFrame(frame: FileFrame): Uint8Array {
  switch (frame.type) {
    case 'open': {
      const id = utf8.encode(frame.offerId);
      const flags = frame.dataChannel ? 1 : 0;
      const w = new FrameWriter(TYPE.open, 2 + id.length + 8 + 4 + 4 + (flags ? 1 : 0));
      w.u16(id.length).bytes(id).u64(frame.offset).u32(frame.chunkSize).u32(frame.window);
      // The flags byte only when a flag is set: an OPEN without one is the older frame, byte for byte.
      if (flags) w.u8(flags);
      return w.done();
    }
    case 'accept': {
      const channel = frame.channel;
      if (!channel) return new FrameWriter(TYPE.accept, 8).u64(frame.size).done();
      return new FrameWriter(TYPE.accept, 8 + 2 + CHANNEL_IDENTITY_BYTES + CHANNEL_KEY_BYTES)
        .u64(frame.size)
        .u16(channel.port)
        .bytes(channel.identity)
        .bytes(channel.key)
        .done();
    }
    case 'hashes':
      return new FrameWriter(TYPE.hashes, frame.hashes.length).bytes(frame.hashes).done();
    case 'chunk':
      return new FrameWriter(TYPE.chunk, 8 + frame.data.length).u64(frame.offset).bytes(frame.data).done();
    case 'credit':
      return new FrameWriter(TYPE.credit, 4).u32(frame.bytes).done();
    case 'refetch':
      return new FrameWriter(TYPE.refetch, 8).u64(frame.offset).done();
    case 'end':
      return new FrameWriter(TYPE.end, 0).done();
    case 'cancel': {
      const reason = truncateUtf8(frame.reason, MAX_REASON_BYTES);
      return new FrameWriter(TYPE.cancel, reason.length).bytes(reason).done();
    }
    case 'cancelled':
      return new FrameWriter(TYPE.cancelled, 0).done();
    case 'error': {
      const code = truncateUtf8(frame.code, MAX_CODE_BYTES);
      const message = truncateUtf8(frame.message, MAX_REASON_BYTES);
      return new FrameWriter(TYPE.error, 1 + code.length + message.length)
        .u8(code.length)
        .bytes(code)
        .bytes(message)
        .done();
    }
  }
}

/** Bytes of a CHUNK frame before its data: length, type, offset. */
export const CHUNK_HEAD_BYTES = 4 + 1 + 8;

/**
 * A CHUNK frame's bytes before its data (`length` bytes of it): written before the data as a piece
 * of its own, the data is not copied into one frame (the transport encrypts it into its own buffer).
 */
export function encodeChunkHead(offset: number, length: number): Uint8Array {
  const head = new Uint8Array(CHUNK_HEAD_BYTES);
  const view = new DataView(head.buffer);
  view.setUint32(0, 1 + 8 + length);
  head[4] = TYPE.chunk;
  view.setBigUint64(5, BigInt(offset));
  return head;
}

/**
 * Splits a file stream into frames and decodes them. `maxChunk` caps a CHUNK's data: a header
 * announcing more is refused before anything is buffered for it (`FrameTooLargeError`); control
 * frames are capped at `MAX_CONTROL_FRAME`; a HASHES is taken only once `expectHashes` named its
 * exact length, and refused by its header otherwise; so an ACCEPT ends what one `push` returns (the
 * receiver names the list's length, then pushes no bytes for the frames after it). Terminal after
 * an error: it throws that error again.
 */
export class FileFramer {
  /** Bytes received and not yet framed, in the pieces they arrived in (joined once a frame is whole). */
  #parts: Uint8Array[] = [];
  #size = 0;
  #consumed = 0;
  #error: Error | undefined;
  readonly #maxChunk: number;
  /** The bytes the next HASHES must have, when one is expected. */
  #hashesLength: number | undefined;

  constructor(
    /** The largest CHUNK data this side takes (0: no CHUNK at all, the sender's side). */
    maxChunk: number,
  ) {
    this.#maxChunk = maxChunk;
  }

  /** Appends bytes; returns every frame they complete. */
  push(chunk: Uint8Array): FileFrame[] {
    if (this.#error) throw this.#error;
    try {
      return this.#push(chunk);
    } catch (error) {
      this.#error = error as Error;
      throw error;
    }
  }

  /**
   * The next frame may be a HASHES of exactly `bytes` bytes (the receiver knows the file's size and
   * the chunk size, so the list's length): any other length is refused by its header.
   */
  expectHashes(bytes: number): void {
    this.#hashesLength = bytes;
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.#size;
  }

  /** The stream ended: throws when a frame was cut short. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#size > 0) {
      this.#error = new MalformedFrameError(FILE_PROTOCOL, 'the stream ended inside a frame', {
        offset: this.#consumed,
      });
      throw this.#error;
    }
    this.#error = new StreamClosedError(FILE_PROTOCOL, 'the stream ended');
  }

  #push(chunk: Uint8Array): FileFrame[] {
    if (chunk.length > 0) {
      this.#parts.push(chunk);
      this.#size += chunk.length;
    }
    const frames: FileFrame[] = [];
    while (this.#size >= 5) {
      const head = this.#peek(5);
      const length = new DataView(head.buffer, head.byteOffset, 5).getUint32(0);
      const type = head[4]!;
      // Checked before waiting for (and so buffering) the body: `length` comes from the peer.
      if (type === TYPE.chunk && this.#maxChunk === 0)
        throw new MalformedFrameError(FILE_PROTOCOL, 'a CHUNK sent to the sending side', {
          offset: this.#consumed,
        });
      if (type === TYPE.hashes) {
        // Exactly the list the receiver expects, or nothing buffered for it.
        if (this.#hashesLength === undefined)
          throw new MalformedFrameError(FILE_PROTOCOL, 'a HASHES not expected', { offset: this.#consumed });
        if (length !== 1 + this.#hashesLength)
          throw new MalformedFrameError(
            FILE_PROTOCOL,
            `a HASHES of ${length - 1} bytes, not the ${this.#hashesLength} of the file's chunk hashes`,
            { offset: this.#consumed },
          );
        if (this.#size < 4 + length) break;
        this.#hashesLength = undefined;
        // A copy, as one array: the list outlives the pieces it arrived in.
        frames.push({ type: 'hashes', hashes: new Uint8Array(this.#take(4 + length).subarray(5)) });
        this.#consumed += 4 + length;
        continue;
      }
      const limit = type === TYPE.chunk ? 1 + 8 + this.#maxChunk : 1 + MAX_CONTROL_FRAME;
      if (length === 0 || length > limit)
        throw new FrameTooLargeError(FILE_PROTOCOL, length, limit, { offset: this.#consumed });
      if (this.#size < 4 + length) break;
      const data = length - (CHUNK_HEAD_BYTES - 4);
      if (
        type === TYPE.chunk &&
        this.#parts.length > 1 &&
        this.#parts[0]!.length === CHUNK_HEAD_BYTES &&
        this.#parts[1]!.length >= data
      ) {
        // The head as a piece of its own and the data in the next (as `encodeChunkHead` is written):
        // the data is taken as a view, not copied into one frame.
        const head = this.#take(CHUNK_HEAD_BYTES);
        const r = new FrameReader(head.subarray(5), this.#consumed);
        frames.push({ type: 'chunk', offset: r.u64(), data: plainView(this.#take(data)) });
        this.#consumed += 4 + length;
        continue;
      }
      const frame = this.#take(4 + length);
      frames.push(decodeBody(type, frame.subarray(5), this.#consumed));
      this.#consumed += 4 + length;
      // What may follow an ACCEPT (its HASHES' length) is for the receiver to say first.
      if (type === TYPE.accept) break;
    }
    return frames;
  }

  /** A copy of the first `n` buffered bytes when they are split over pieces (a header is 5 bytes). */
  #peek(n: number): Uint8Array {
    const first = this.#parts[0]!;
    if (first.length >= n) return first;
    const out = new Uint8Array(n);
    let at = 0;
    for (const part of this.#parts) {
      const take = Math.min(part.length, n - at);
      out.set(part.subarray(0, take), at);
      at += take;
      if (at === n) break;
    }
    return out;
  }

  /** Removes the first `n` buffered bytes and returns them as one array. */
  #take(n: number): Uint8Array {
    const first = this.#parts[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#parts.shift();
      else this.#parts[0] = first.subarray(n);
      this.#size -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const part = this.#parts[0]!;
      const take = Math.min(part.length, n - at);
      out.set(part.subarray(0, take), at);
      at += take;
      if (take === part.length) this.#parts.shift();
      else this.#parts[0] = part.subarray(take);
    }
    this.#size -= n;
    return out;
  }
}

function decodeBody(type: number, body: Uint8Array, at: number): FileFrame {
  const r = new FrameReader(body, at);
  let frame: FileFrame;
  switch (type) {
    case TYPE.open: {
      const idLength = r.u16();
      if (idLength === 0 || idLength > MAX_OFFER_ID * 4) r.fail(`an offer id of ${idLength} bytes`);
      const offerId = r.text(idLength);
      if (offerId.length > MAX_OFFER_ID) r.fail(`an offer id of ${offerId.length} characters`);
      frame = { type: 'open', offerId, offset: r.u64(), chunkSize: r.u32(), window: r.u32() };
      if (r.remaining > 0) {
        const flags = r.u8();
        if (flags & ~1) r.fail(`OPEN flags ${flags}`);
        if (flags & 1) frame.dataChannel = true;
      }
      break;
    }
    case TYPE.accept: {
      frame = { type: 'accept', size: r.u64() };
      if (r.remaining > 0) {
        const port = r.u16();
        if (port === 0) r.fail('a data channel on port 0');
        frame.channel = {
          port,
          identity: r.bytes(CHANNEL_IDENTITY_BYTES),
          key: r.bytes(CHANNEL_KEY_BYTES),
        };
      }
      break;
    }
    case TYPE.chunk:
      frame = { type: 'chunk', offset: r.u64(), data: r.rest() };
      break;
    case TYPE.credit:
      frame = { type: 'credit', bytes: r.u32() };
      break;
    case TYPE.refetch:
      frame = { type: 'refetch', offset: r.u64() };
      break;
    case TYPE.end:
      frame = { type: 'end' };
      break;
    case TYPE.cancel:
      frame = { type: 'cancel', reason: r.text(r.remaining) };
      break;
    case TYPE.cancelled:
      frame = { type: 'cancelled' };
      break;
    case TYPE.error: {
      const codeLength = r.u8();
      frame = { type: 'error', code: r.text(codeLength), message: r.text(r.remaining) };
      break;
    }
    default:
      throw new MalformedFrameError(FILE_PROTOCOL, `unknown frame type ${type}`, { offset: at });
  }
  r.finish();
  return frame;
}

class FrameWriter {
  readonly #out: Uint8Array;
  readonly #view: DataView;
  #at = 5;

  constructor(type: number, bodyLength: number) {
    this.#out = new Uint8Array(5 + bodyLength);
    this.#view = new DataView(this.#out.buffer);
    this.#view.setUint32(0, 1 + bodyLength);
    this.#out[4] = type;
  }

  u8(n: number): this {
    this.#out[this.#at++] = n;
    return this;
  }

  u16(n: number): this {
    this.#view.setUint16(this.#at, n);
    this.#at += 2;
    return this;
  }

  u32(n: number): this {
    this.#view.setUint32(this.#at, n);
    this.#at += 4;
    return this;
  }

  u64(n: number): this {
    this.#view.setBigUint64(this.#at, BigInt(n));
    this.#at += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#out.set(b, this.#at);
    this.#at += b.length;
    return this;
  }

  done(): Uint8Array {
    return this.#out;
  }
}

/** The same bytes as a plain Uint8Array (a Buffer's `subarray` is a Buffer), not copied. */
function plainView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

class FrameReader {
  #at = 0;
  readonly #view: DataView;

  constructor(
    private readonly body: Uint8Array,
    private readonly offset: number,
  ) {
    this.#view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  get remaining(): number {
    return this.body.length - this.#at;
  }

  fail(message: string): never {
    throw new MalformedFrameError(FILE_PROTOCOL, message, { offset: this.offset });
  }

  #need(n: number): void {
    if (this.remaining < n) this.fail(`a frame body cut short (${this.remaining} of ${n} bytes left)`);
  }

  u8(): number {
    this.#need(1);
    return this.body[this.#at++]!;
  }

  u16(): number {
    this.#need(2);
    const n = this.#view.getUint16(this.#at);
    this.#at += 2;
    return n;
  }

  u32(): number {
    this.#need(4);
    const n = this.#view.getUint32(this.#at);
    this.#at += 4;
    return n;
  }

  u64(): number {
    this.#need(8);
    const n = this.#view.getBigUint64(this.#at);
    this.#at += 8;
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`an offset or size of ${n}, over 2^53 - 1`);
    return Number(n);
  }

  bytes(n: number): Uint8Array {
    this.#need(n);
    // A copy, and a plain Uint8Array (a Buffer's slice is a view): the frame outlives the chunk it was read from.
    const out = new Uint8Array(this.body.subarray(this.#at, this.#at + n));
    this.#at += n;
    return out;
  }

  /** The rest of the body: a view when it is at least half of its buffer (it retains little more), else a copy. */
  rest(): Uint8Array {
    const n = this.remaining;
    if (n * 2 < this.body.buffer.byteLength) return this.bytes(n);
    const out = plainView(this.body.subarray(this.#at));
    this.#at += n;
    return out;
  }

  text(n: number): string {
    const bytes = this.bytes(n);
    try {
      return utf8Strict.decode(bytes);
    } catch (error) {
      throw new InvalidEncodingError(FILE_PROTOCOL, 'text that is not UTF-8', {
        cause: error,
        offset: this.offset,
      });
    }
  }

  finish(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} bytes after the frame's fields`);
  }
}

/** UTF-8 of `text`, cut at a character boundary to at most `max` bytes. */
function truncateUtf8(text: string, max: number): Uint8Array {
  const bytes = utf8.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back up over continuation bytes (10xxxxxx) so the cut never splits a character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
