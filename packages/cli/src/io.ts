import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';

/** Where a command reads and writes; tests pass in-memory streams. */
export interface CliIo {
  /** Where input comes from. */
  stdin: Readable;
  /** Where results go. */
  stdout: Writable;
  /** Where errors and notices go. */
  stderr: Writable;
  /** Where codec modules (`--codec`, a config's `codecs`) are resolved from; `process.cwd()` when absent. */
  cwd?: string;
  /**
   * This command as a program to start again (the `crosstalk` executable, its arguments and Node
   * options): `crosstalk gateway` runs its workers with it. Absent (a command run inside another
   * program), the gateway runs in one process unless told otherwise, and cannot be told otherwise.
   */
  program?: {
    /** The script Node runs (the `crosstalk` executable's path). */
    exec: string;
    /** Its arguments: the command and its options. */
    args: readonly string[];
    /** Node options. */
    execArgv: readonly string[];
  };
}

/** The process's own stdin, stdout and stderr, as a `CliIo`. */
export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/**
 * Writes and waits for the stream to drain when it asks us to (backpressure on big outputs); rejects
 * if the stream fails meanwhile (its reader went away) instead of waiting for a drain that never comes.
 */
export async function write(stream: Writable, data: string | Uint8Array): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

/** Turns hex text arriving in arbitrary chunks into bytes, ignoring whitespace. */
export class HexStreamDecoder {
  #carry = '';
  #offset = 0;

  push(text: string): Uint8Array {
    const clean = this.#carry + text.replace(/\s+/g, '');
    const bad = /[^0-9a-fA-F]/.exec(clean);
    if (bad) {
      throw new SyntaxError(
        `input is not hex: ${JSON.stringify(bad[0])} at hex digit ${this.#offset * 2 + bad.index}`,
      );
    }
    const even = clean.length - (clean.length % 2);
    this.#carry = clean.slice(even);
    const out = Buffer.from(clean.slice(0, even), 'hex');
    this.#offset += out.length;
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  end(): void {
    if (this.#carry) throw new SyntaxError('input ends with half a byte of hex');
  }
}

/** Splits text arriving in chunks into lines. */
export class LineSplitter {
  #carry = '';

  push(text: string): string[] {
    const parts = (this.#carry + text).split('\n');
    this.#carry = parts.pop() ?? '';
    return parts;
  }

  end(): string[] {
    const rest = this.#carry;
    this.#carry = '';
    return rest.trim() ? [rest] : [];
  }
}

/** Resolves when the process is asked to stop (Ctrl-C or SIGTERM): long-running commands wait on it. */
export function stopRequested(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
