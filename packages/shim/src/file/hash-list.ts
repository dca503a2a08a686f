import { createHash } from 'node:crypto';
import type { FileSource } from '@crosstalk/core';
import { toHex } from '@crosstalk/core';
import { InvalidFileOfferError } from '../errors/errors.js';
import { HASH_BYTES, MAX_HASH_ENTRIES, MIN_CHUNK_SIZE } from './frames.js';

/**
 * The chunk-hash list (docs/client-api.md "How a file moves"): the SHA-256 of the file's prefix up
 * to every chunk boundary. Prefix hashes rather than hashes of each chunk: the receiver hashes the
 * file once, in order, and at each boundary compares its running hash (a copy's digest) with the
 * list, so one pass both finds a wrong chunk and yields the whole file's SHA-256 (the last entry).
 */

/** The smallest block a sender hashes its offers at: receivers' chunk sizes are multiples of it. */
export const MIN_HASH_BLOCK = 16 * 1024;

/** An offered file's size, SHA-256, and prefix hashes at every `block` bytes, from one pass over it. */
export interface FileDigests {
  /** Its size, bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the whole file. */
  sha256: string;
  /** The bytes between two entries of `hashes`: a power of two, at least `MIN_HASH_BLOCK`. */
  block: number;
  /** `ceil(size / block)` SHA-256s, 32 bytes each: of the file up to each block's end. */
  hashes: Uint8Array;
}

/** The end of the chunk that starts at `offset`: the next multiple of `chunkSize`, or the file's end. */
export function chunkEnd(offset: number, chunkSize: number, size: number): number {
  return Math.min((Math.floor(offset / chunkSize) + 1) * chunkSize, size);
}

/** Entries of the list for a file of `size` bytes in chunks of `chunkSize`. */
export function hashEntries(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** The block a sender hashes a file of `size` bytes at: the smallest that keeps its list within `MAX_HASH_ENTRIES`. */
export function hashBlockFor(size: number): number {
  let block = MIN_HASH_BLOCK;
  while (hashEntries(size, block) > MAX_HASH_ENTRIES) block *= 2;
  return block;
}

/**
 * Reads a whole source once (in pieces of `pieceSize` bytes) for its SHA-256 and its prefix hashes
 * at every `block` bytes (default `hashBlockFor(size)`). Throws `InvalidFileOfferError` when the
 * source ends early.
 */
export async function digestSource(
  source: FileSource,
  options: { block?: number; pieceSize?: number } = {},
): Promise<FileDigests> {
  const digester = new Digester(source.size, options.block);
  const pieceSize = options.pieceSize ?? Math.max(digester.block, 1024 * 1024);
  for (let at = 0; at < source.size; ) {
    const piece = await source.read(at, Math.min(pieceSize, source.size - at));
    if (piece.length === 0)
      throw new InvalidFileOfferError(`the file ended at ${at} of ${source.size} bytes`);
    digester.update(piece);
    at += piece.length;
  }
  return digester.done();
}

/** `digestSource` for bytes in memory. */
export function digestBytes(data: Uint8Array, block?: number): FileDigests {
  return new Digester(data.length, block).update(data).done();
}

/** One pass over a file's bytes, in order: the running SHA-256, and a copy's digest at each block's end. */
class Digester {
  readonly block: number;
  readonly #size: number;
  readonly #hashes: Uint8Array;
  readonly #hash = createHash('sha256');
  #at = 0;
  #entry = 0;

  constructor(size: number, block = hashBlockFor(size)) {
    if (!Number.isInteger(block) || block < MIN_CHUNK_SIZE || hashEntries(size, block) > MAX_HASH_ENTRIES)
      throw new InvalidFileOfferError(`a hash block of ${block} bytes for a file of ${size}`);
    this.block = block;
    this.#size = size;
    this.#hashes = new Uint8Array(hashEntries(size, block) * HASH_BYTES);
  }

  update(piece: Uint8Array): this {
    if (this.#at + piece.length > this.#size)
      throw new InvalidFileOfferError(`the file is longer than its ${this.#size} bytes`);
    for (let from = 0; from < piece.length; ) {
      const end = Math.min(piece.length, from + chunkEnd(this.#at, this.block, this.#size) - this.#at);
      this.#hash.update(piece.subarray(from, end));
      this.#at += end - from;
      if (this.#at % this.block === 0 || this.#at === this.#size)
        this.#hashes.set(this.#hash.copy().digest(), HASH_BYTES * this.#entry++);
      from = end;
    }
    return this;
  }

  done(): FileDigests {
    if (this.#at !== this.#size)
      throw new InvalidFileOfferError(`the file ended at ${this.#at} of ${this.#size} bytes`);
    return {
      size: this.#size,
      sha256: toHex(new Uint8Array(this.#hash.digest())),
      block: this.block,
      hashes: this.#hashes,
    };
  }
}

/**
 * The list for chunks of `chunkSize` (a multiple of `digests.block`): every entry that falls on a
 * chunk boundary, and the last. Undefined when `chunkSize` is not such a multiple.
 */
export function hashesForChunks(digests: FileDigests, chunkSize: number): Uint8Array | undefined {
  if (chunkSize % digests.block !== 0) return undefined;
  const step = chunkSize / digests.block;
  const blocks = hashEntries(digests.size, digests.block);
  const out = new Uint8Array(hashEntries(digests.size, chunkSize) * HASH_BYTES);
  let entry = 0;
  for (let i = step - 1; i < blocks - 1; i += step)
    out.set(digests.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES), HASH_BYTES * entry++);
  if (blocks > 0) out.set(digests.hashes.subarray((blocks - 1) * HASH_BYTES), HASH_BYTES * entry++);
  return out;
}
