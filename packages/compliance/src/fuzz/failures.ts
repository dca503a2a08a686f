import { isCrossTalkError } from '@crosstalk/core';

/** What counts against a codec in a fuzz run. */
export type FailureKind =
  /** A thrown value (or a reported error) that is not a CrossTalk error, or one that only wraps a bug. */
  | 'untyped'
  /** One input took longer than the time limit, every time it was run. */
  | 'slow'
  /** A framer held more than its `maxBuffered`, or passed a frame above its `maxFrameSize`. */
  | 'over-cap'
  /** A framer accepted bytes after an error, or a session after it closed. */
  | 'not-terminal'
  /** The heap, measured after a full collection, grew past the bound. */
  | 'heap';

/** One distinct failure of a fuzz run: where it happened and how to replay it. */
export interface FuzzFailure {
  /** What went wrong. */
  kind: FailureKind;
  /** The codec's protocol id. */
  codec: string;
  /** The run's seed. */
  seed: number;
  /** The input's index in the run; `(seed, index)` replays it. */
  index: number;
  /** Which drive found it (`framer`, `frames`, `translator`, `session`). */
  drive: string;
  /** The call that failed, e.g. `session fromServer` or `frames.decode`. */
  where: string;
  /** The error (`Name: message`) or what was wrong (time, heap). */
  message: string;
  /** The error's stack, when it had one. */
  stack?: string;
  /** The input's time, ms, for `slow`. */
  ms?: number;
  /** The command that replays this input, when the caller said how to build one. */
  repro?: string;
  /** Where the input and the error were written, when a crash directory was given. */
  file?: string;
}

/**
 * The untyped error inside `error`, or undefined when `error` is properly typed. A CrossTalk error
 * counts as untyped when it was made by `toProtocolError` out of a throw no codec code expected:
 * a `MalformedFrameError` whose message is the protocol and the cause's own message, and whose
 * cause is not a CrossTalk error (a `RangeError` from `String.fromCodePoint`, say). Errors a
 * codec wraps on purpose (`InvalidEncodingError` around the fatal decoder's `TypeError`, a
 * parser's short read named as such) say what went wrong in their own words and pass.
 */
export function untypedError(error: unknown): unknown {
  if (!isCrossTalkError(error)) return error;
  const cause = (error as { cause?: unknown }).cause;
  if (cause === undefined || isCrossTalkError(cause)) return undefined;
  const protocol = (error as { protocol?: unknown }).protocol;
  const wrapped = `${String(protocol)}: ${cause instanceof Error ? cause.message : String(cause)}`;
  return error.code === 'ERR_MALFORMED_FRAME' && error.message === wrapped ? cause : undefined;
}

/** An error as a fuzz report shows it: `Name: message` (or what was thrown) and its stack. */
export function describeError(error: unknown): {
  /** The error's class and message, or `thrown <type>: <value>` for a non-Error. */
  message: string;
  /** The error's stack, when it has one. */
  stack?: string;
} {
  if (error instanceof Error) {
    const name = error.constructor?.name ?? error.name;
    return { message: `${name}: ${error.message}`, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { message: `thrown ${typeof error}: ${String(error)}` };
}
