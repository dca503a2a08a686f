import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FileSource } from '@crosstalk/core';
import { InvalidFileOfferError } from '../errors/errors.js';

/** A file in memory as a `FileSource`. */
export function bytesSource(name: string, data: Uint8Array, mediaType?: string): FileSource {
  return {
    name,
    size: data.length,
    ...(mediaType === undefined ? {} : { mediaType }),
    read: async (offset, length) => data.subarray(offset, offset + length),
  };
}

/**
 * A file on disk as a `FileSource`, opened now and read chunk by chunk as the receiver asks. Its
 * name is the path's last part unless `name` is given. Close it (or let the client withdraw the
 * offer) to release the handle.
 */
export async function fileSource(
  path: string,
  options: { name?: string; mediaType?: string } = {},
): Promise<FileSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return {
      name: options.name ?? basename(path),
      size,
      ...(options.mediaType === undefined ? {} : { mediaType: options.mediaType }),
      read: async (offset, length) => {
        const out = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(out, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === length ? out : out.subarray(0, got);
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Lower-case hex SHA-256 of a whole source, read in pieces of `pieceSize` bytes. */
export async function hashSource(source: FileSource, pieceSize = 1024 * 1024): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < source.size; at += pieceSize) {
    const piece = await source.read(at, Math.min(pieceSize, source.size - at));
    if (piece.length === 0)
      throw new InvalidFileOfferError(`the file ended at ${at} of ${source.size} bytes`);
    hash.update(piece);
  }
  return hash.digest('hex');
}
