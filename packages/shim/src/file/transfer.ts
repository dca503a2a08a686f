import type {
  CrossTalkError,
  FileOfferEvent,
  FileSink,
  FileSource,
  FileTransferResult,
  G2gStream,
  GetFileOptions,
} from '@crosstalk/core';
import { isCrossTalkError } from '@crosstalk/core';
import type { IssuedChannel } from '../channel/data-channel.js';
import {
  DataChannelUnavailableError,
  InvalidSinkError,
  SinkFailedError,
  SourceFailedError,
  TransferAbortedError,
  TransferInterruptedError,
} from '../errors/errors.js';
import type { DataChannelGrant } from './frames.js';
import { FileReceiver, type FileReceiverOptions, type ReceiverStep } from './receiver.js';
import { type FileRequest, FileSender, type OfferedFile, type SenderStep } from './sender.js';

/**
 * File transfers over a byte stream (a G2G stream of their own between two nodes): the sans-IO
 * `FileReceiver` and `FileSender` driven by stream events, a sink and a source. Backpressure is
 * end to end: the receiver grants credit only as its sink writes, and the sender reads from its
 * source only what it has credit for, waiting for 'drain' when the stream is full (the transport's
 * own flow control, e.g. hyperdht's credit windows, sits below this).
 */

/** Options of `fetchFile`: `getFile`'s, and the receiving side's limits. */
export interface FetchFileOptions
  extends GetFileOptions,
    Pick<FileReceiverOptions, 'chunkSize' | 'window' | 'maxFileSize' | 'maxRefetches' | 'stallTimeout'> {
  /** ms to wait, after an abort, for the sender to confirm (its chunks on their way still land). Default 5 s. */
  cancelGrace?: number;
  /**
   * Offers the sender a data channel, and connects to the one it grants (`connectDataChannel` to
   * the sender's host): the frames after the ACCEPT then travel there. When it rejects, so does
   * the transfer (`DataChannelUnavailableError`, nothing written yet): fetch again without it.
   */
  dataChannel?: (grant: DataChannelGrant) => Promise<G2gStream>;
}

/**
 * Fetches `offer` into `sink` over `stream` (which the caller dialled to the sender's node). Resumes
 * from `sink.offset`, hashing what the sink holds (`sink.read`) so it is checked against the hash
 * list and the final check covers every byte. Resolves once the last chunk is written and the whole
 * file's SHA-256 matched; rejects with
 * the transfer's typed error, after the chunks already verified were written (so a resume picks up
 * after them). Ends or destroys the stream either way.
 */
export async function fetchFile(
  stream: G2gStream,
  offer: FileOfferEvent,
  sink: FileSink,
  options: FetchFileOptions = {},
): Promise<FileTransferResult> {
  const { signal, onProgress } = options;
  let receiver: FileReceiver;
  try {
    receiver = new FileReceiver({
      ...pickReceiverOptions(options),
      offer,
      offset: sink.offset,
      dataChannel: options.dataChannel !== undefined,
    });
    if (receiver.resumedFrom > 0) {
      if (!sink.read)
        throw new InvalidSinkError(
          `a sink holding ${receiver.resumedFrom} bytes must read() them for the hash`,
        );
      try {
        for await (const held of sink.read()) receiver.hashHeld(held);
      } catch (error) {
        throw isCrossTalkError(error)
          ? error
          : new SinkFailedError('the sink could not read what it holds', { cause: error });
      }
    }
    if (signal?.aborted) throw new TransferAbortedError(sink.offset, { cause: signal.reason });
  } catch (error) {
    stream.destroy();
    throw error;
  }
  const total = receiver.offer.size;

  return new Promise<FileTransferResult>((resolve, reject) => {
    /** Sink writes, one after another in file order. */
    let writes: Promise<void> = Promise.resolve();
    let sinkFailed = false;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    /** Where frames go: the file stream, then the data channel once it is open. */
    let pipe: G2gStream = stream;

    const settle = (error: CrossTalkError | undefined, result?: FileTransferResult) => {
      if (settled) return;
      settled = true;
      clearInterval(stallTimer);
      clearTimeout(graceTimer);
      signal?.removeEventListener('abort', onAbort);
      stream.off('data', onData);
      pipe.off('data', onData);
      // Verified chunks handed out before the end are written before the promise settles.
      void writes.then(() => {
        if (error) {
          closeAfterFlush(stream);
          if (pipe !== stream) closeAfterFlush(pipe);
          reject(error);
        } else {
          stream.end();
          if (pipe !== stream) pipe.end();
          resolve(result!);
        }
      });
    };

    /** The ACCEPT named a data channel: connect, and take and send the frames after it there. */
    const switchTo = (grant: DataChannelGrant) => {
      options.dataChannel!(grant).then(
        (socket) => {
          if (adoptChannel(socket, settled, { data: onData, gone: onGone })) pipe = socket;
        },
        (error: unknown) =>
          settle(
            isCrossTalkError(error)
              ? error
              : new DataChannelUnavailableError(String(error), { cause: error }),
          ),
      );
    };

    const handle = (step: ReceiverStep) => {
      for (const frame of step.send) if (!pipe.destroyed) pipe.write(frame);
      if (step.channel) switchTo(step.channel);
      for (const chunk of step.write) {
        writes = writes.then(async () => {
          if (sinkFailed) return;
          try {
            await sink.write(chunk);
          } catch (error) {
            sinkFailed = true;
            handle(receiver.fail(new SinkFailedError('the sink could not write a chunk', { cause: error })));
            return;
          }
          onProgress?.(receiver.written + chunk.length, total);
          handle(receiver.wrote(chunk.length));
        });
      }
      if (step.error) settle(step.error);
      else if (step.done) settle(undefined, step.done);
    };

    const onData = (data: Uint8Array) => handle(receiver.receive(data));
    const onGone = () => handle(receiver.closed());
    const onAbort = () => {
      handle(receiver.cancel(String(signal?.reason ?? 'aborted')));
      // A sender that never confirms does not hold the abort up for long.
      graceTimer ??= setTimeout(() => handle(receiver.closed()), options.cancelGrace ?? 5000);
    };
    const stallTimer = setInterval(() => handle(receiver.check()), checkInterval(options.stallTimeout));
    stallTimer.unref();

    stream.on('data', onData);
    stream.on('end', onGone);
    stream.on('close', onGone);
    stream.on('error', onGone);
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.write(receiver.start());
  });
}

/** What `serveFile` sends for an accepted request: the file as offered, and where its bytes come from. */
export interface ServedFile {
  /** The file's size, hash and prefix hashes (`digestSource`), as the offer named them. */
  file: OfferedFile;
  /** Its bytes. */
  source: FileSource;
}

/** Options of `serveFile`. */
export interface ServeFileOptions {
  /**
   * Opens a data channel for a receiver that offers to take one (a `DataChannelListener`'s
   * `issue`): its grant goes in the ACCEPT, and the frames after it go on its connection. When it
   * rejects, the file goes on the stream itself.
   */
  dataChannel?: () => Promise<IssuedChannel>;
  /**
   * Finds the file a request is for, and decides whether this peer may have it: throws a CrossTalk
   * error to refuse (its code is sent to the receiver, e.g. `UnknownFileOfferError`).
   */
  lookup(request: FileRequest): Promise<ServedFile> | ServedFile;
  /** The largest chunk a receiver may ask for. */
  maxChunkSize?: number;
  /** ms waiting for the request, or for credit, before the transfer fails (`TransferStalledError`). Default 30 s. */
  stallTimeout?: number;
  /** Bytes per second this side sends at most; default no limit. */
  rate?: number;
}

/** How a transfer `serveFile` ran ended, when it did not fail. */
export interface ServeFileResult {
  /** The offer the receiver asked for. */
  offerId: string | undefined;
  /** `completed`: every chunk and the END sent, and the receiver closed; `cancelled`: the receiver cancelled. */
  outcome: 'completed' | 'cancelled';
  /** Bytes of file data sent, re-fetched chunks included. */
  sent: number;
}

/**
 * Serves one file request arriving on `stream` (a file stream a peer dialled): reads the OPEN, asks
 * `lookup`, then sends chunks as the receiver grants credit, at most `rate` bytes per second.
 * Rejects with the transfer's typed error (a receiver that stops reading: `TransferStalledError`);
 * the stream is closed either way.
 */
export function serveFile(stream: G2gStream, options: ServeFileOptions): Promise<ServeFileResult> {
  const sender = new FileSender({
    ...(options.maxChunkSize === undefined ? {} : { maxChunkSize: options.maxChunkSize }),
    ...(options.stallTimeout === undefined ? {} : { stallTimeout: options.stallTimeout }),
  });
  const pacer = options.rate === undefined ? undefined : new Pacer(options.rate);
  return new Promise<ServeFileResult>((resolve, reject) => {
    let source: FileSource | undefined;
    let offerId: string | undefined;
    let settled = false;
    let pumping = false;
    let full = false;
    const drained: (() => void)[] = [];
    /** Where frames go: the file stream, then the data channel once the receiver connected to it. */
    let pipe: G2gStream = stream;
    let issued: IssuedChannel | undefined;

    const settle = (error: CrossTalkError | undefined, outcome?: ServeFileResult['outcome']) => {
      if (settled) return;
      settled = true;
      clearInterval(stallTimer);
      issued?.revoke();
      stream.off('data', onData);
      pipe.off('data', onData);
      for (const wake of drained.splice(0)) wake();
      const pipes = pipe === stream ? [stream] : [stream, pipe];
      if (error) {
        for (const p of pipes) closeAfterFlush(p);
        reject(error);
      } else {
        for (const p of pipes) {
          if (outcome === 'cancelled') closeAfterFlush(p);
          else p.destroy();
        }
        resolve({ offerId, outcome: outcome!, sent: sender.sentBytes });
      }
    };

    const handle = (step: SenderStep) => {
      for (const frame of step.send) if (!pipe.destroyed && !pipe.write(frame)) full = true;
      if (step.error) return settle(step.error);
      if (step.cancelled) return settle(undefined, 'cancelled');
      if (step.request) void decide(step.request);
    };

    const decide = async (request: FileRequest) => {
      offerId = request.offerId;
      try {
        const served = await options.lookup(request);
        if (request.dataChannel && options.dataChannel)
          issued = await options.dataChannel().catch(() => undefined);
        if (settled) return;
        if (!issued) {
          source = served.source;
          handle(sender.accept(served.file));
          void pump();
          return;
        }
        const step = sender.accept(served.file, issued.grant);
        // The ACCEPT on the file stream; what follows it (the HASHES, the chunks) on the channel.
        const [accept, ...rest] = step.send;
        if (step.error || !accept) return handle(step);
        if (!stream.destroyed) stream.write(accept);
        let socket: G2gStream;
        try {
          socket = await issued.connection;
        } catch (error) {
          if (!settled) handle(sender.fail(error as CrossTalkError));
          return;
        }
        if (!adoptChannel(socket, settled, { data: onData, drain: onDrain, gone: onEnd })) return;
        pipe = socket;
        source = served.source;
        handle({ ...step, send: rest });
        void pump();
      } catch (error) {
        handle(
          sender.refuse(
            isCrossTalkError(error) ? error : new SourceFailedError(String(error), { cause: error }),
          ),
        );
      }
    };

    const pump = async () => {
      if (pumping || !source) return;
      pumping = true;
      try {
        for (let read = sender.nextRead(); read && !settled; read = sender.nextRead()) {
          let data: Uint8Array;
          try {
            data = await source.read(read.offset, read.length);
          } catch (error) {
            handle(sender.fail(new SourceFailedError('the file could not be read', { cause: error })));
            return;
          }
          if (pacer) await pacer.wait(data.length);
          handle(sender.chunk(read, data));
          if (full && !settled) {
            await new Promise<void>((wake) => drained.push(wake));
            full = false;
          }
        }
      } finally {
        pumping = false;
      }
    };

    const onData = (data: Uint8Array) => {
      handle(sender.receive(data));
      void pump();
    };
    const onEnd = () => {
      // The receiver closes its side once it has the whole file (or gives up).
      if (sender.ended) settle(undefined, 'completed');
      else settle(new TransferInterruptedError(`the receiver closed after ${sender.sentBytes} bytes`));
    };
    const stallTimer = setInterval(() => handle(sender.check()), checkInterval(options.stallTimeout));
    stallTimer.unref();

    stream.on('data', onData);
    const onDrain = () => {
      full = false;
      for (const wake of drained.splice(0)) wake();
    };
    stream.on('drain', onDrain);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onEnd);
  });
}

function pickReceiverOptions(options: FetchFileOptions): Partial<FileReceiverOptions> {
  const out: Partial<FileReceiverOptions> = {};
  for (const key of ['chunkSize', 'window', 'maxFileSize', 'maxRefetches', 'stallTimeout'] as const)
    if (options[key] !== undefined) out[key] = options[key];
  return out;
}

/** How often to check for a stall: often enough to notice it within a fraction of the timeout. */
function checkInterval(stallTimeout = 30_000): number {
  return Math.max(10, Math.min(1000, stallTimeout / 4));
}

/** Ends the stream so the last frame (an ERROR, a CANCELLED) reaches the peer, and destroys it soon after. */
function closeAfterFlush(stream: G2gStream): void {
  if (stream.destroyed) return;
  stream.end();
  setTimeout(() => stream.destroy(), 1000).unref();
}

/** Paces writes to `rate` bytes per second. */
class Pacer {
  #next = 0;
  constructor(readonly rate: number) {}

  async wait(bytes: number): Promise<void> {
    const now = Date.now();
    const start = Math.max(now, this.#next);
    this.#next = start + (bytes * 1000) / this.rate;
    if (start > now) await new Promise((r) => setTimeout(r, start - now));
  }
}

/**
 * Takes a data channel's socket as a transfer's pipe, both sides alike: closed at once when the
 * transfer ended while it connected (false), else listened to (its end, close or error end the pipe).
 */
function adoptChannel(
  socket: G2gStream,
  ended: boolean,
  on: { data: (chunk: Uint8Array) => void; gone: () => void; drain?: () => void },
): boolean {
  if (ended) {
    socket.destroy();
    return false;
  }
  socket.on('data', on.data);
  if (on.drain) socket.on('drain', on.drain);
  socket.on('end', on.gone);
  socket.on('close', on.gone);
  socket.on('error', on.gone);
  return true;
}
