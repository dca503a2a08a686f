import { open } from 'node:fs/promises';
import type { FileSink } from '@crosstalk/core';

/** A `FileSink` in memory (tests, small files): `bytes()` returns what it holds. */
export interface MemorySink extends FileSink {
  /** A copy of the bytes held. */
  bytes(): Uint8Array;
}

/** A sink in memory, holding `held` already (a resume). */
export function memorySink(held: Uint8Array = new Uint8Array(0)): MemorySink {
  const parts: Uint8Array[] = held.length ? [new Uint8Array(held)] : [];
  let offset = held.length;
  const bytes = () => {
    const out = new Uint8Array(offset);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  return {
    get offset() {
      return offset;
    },
    write: async (chunk) => {
      parts.push(new Uint8Array(chunk));
      offset += chunk.length;
    },
    read: async function* () {
      yield* parts.slice();
    },
    bytes,
  };
}

/** A `FileSink` writing to a file on disk, which `close()` releases. */
export interface DiskSink extends FileSink {
  /** Closes the file. */
  close(): Promise<void>;
}

/**
 * A sink appending to the file at `path` (created when missing). Its `offset` is the file's size
 * now, so a transfer cut off and fetched again into the same path resumes where it stopped.
 */
export async function fileSink(path: string): Promise<DiskSink> {
  const handle = await open(path, 'a+');
  let offset = (await handle.stat()).size;
  return {
    get offset() {
      return offset;
    },
    write: async (chunk) => {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
      offset += chunk.length;
    },
    read: async function* () {
      const piece = new Uint8Array(1024 * 1024);
      for (let at = 0; at < offset; ) {
        const { bytesRead } = await handle.read(piece, 0, Math.min(piece.length, offset - at), at);
        if (bytesRead === 0) return;
        yield piece.slice(0, bytesRead);
        at += bytesRead;
      }
    },
    close: () => handle.close(),
  };
}
