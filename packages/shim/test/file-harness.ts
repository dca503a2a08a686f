import { createHash, randomBytes } from 'node:crypto';
import type { FileOfferEvent } from '@crosstalk/core';
import { digestBytes, type FileDigests } from '../src/file/hash-list.js';
import { FileReceiver, type FileReceiverOptions, type ReceiverStep } from '../src/file/receiver.js';
import { FileSender, type FileSenderOptions, type SenderStep } from '../src/file/sender.js';

/** A file and its offer, for sans-IO transfers. */
export function offered(size: number, overrides: Partial<FileOfferEvent> = {}) {
  const data = new Uint8Array(randomBytes(size));
  const sha256 = createHash('sha256').update(data).digest('hex');
  const offer: FileOfferEvent = {
    kind: 'file-offer',
    id: 'offer-1',
    from: { user: 'bob', network: 'yahoo' },
    to: { user: 'alice', network: 'aol' },
    name: 'photo.jpg',
    size,
    sha256,
    ...overrides,
  };
  return { data, sha256, offer };
}

/** What happened in a `run`: the sink's bytes, both sides' outcomes, and what crossed. */
export interface RunResult {
  sink: Uint8Array;
  receiverStep: ReceiverStep;
  senderError: Error | undefined;
  senderCancelled: boolean;
  sent: number;
  /** Every frame the receiver sent, decoded type only (`open`, `credit`, `refetch`, ...). */
  toSender: number[];
  progress: number[];
  receiver: FileReceiver;
  sender: FileSender;
}

export interface RunOptions {
  /** The file as the sender's source has it (default the offered bytes). */
  source?: Uint8Array;
  /** What the sink holds already (default nothing). */
  held?: Uint8Array;
  receiver?: Partial<FileReceiverOptions>;
  sender?: FileSenderOptions;
  /** Rewrites (or drops, with undefined) each frame on its way to the receiver; `n` counts frames. */
  toReceiver?: (frame: Uint8Array, n: number) => Uint8Array | undefined;
  /** Called after each sink write with the bytes held: returning true cancels there. */
  cancelAt?: (held: number) => boolean;
  /** The sink stops writing (and so granting credit) once it holds this many bytes. */
  sinkStopsAt?: number;
  /** What the sender accepts with (default the offered bytes' digests, at 1 KiB blocks). */
  digests?: FileDigests;
}

/**
 * Runs a sender and a receiver against each other in memory, synchronously: the network delivers
 * whole frames in order, except what `toReceiver` changes. Returns when neither side has anything
 * more to do.
 */
export function run(offer: FileOfferEvent, data: Uint8Array, options: RunOptions = {}): RunResult {
  const source = options.source ?? data;
  const held = options.held ?? new Uint8Array(0);
  const receiver = new FileReceiver({
    offer,
    offset: held.length,
    ...options.receiver,
  });
  const digests = options.digests ?? digestBytes(data, 1024);
  const sender = new FileSender(options.sender);
  receiver.hashHeld(held);
  const sink: Uint8Array[] = [held];
  let sinkBytes = held.length;
  const toReceiverQueue: Uint8Array[] = [];
  const toSenderQueue: Uint8Array[] = [receiver.start()];
  const toSender: number[] = [];
  const progress: number[] = [];
  let receiverStep: ReceiverStep = { send: [], write: [] };
  let senderError: Error | undefined;
  let senderCancelled = false;
  let frames = 0;
  let cancelled = false;

  const onReceiver = (step: ReceiverStep) => {
    toSenderQueue.push(...step.send);
    if (step.error || step.done) receiverStep = step;
    for (const chunk of step.write) {
      if (options.sinkStopsAt !== undefined && sinkBytes >= options.sinkStopsAt) return;
      sink.push(chunk);
      sinkBytes += chunk.length;
      progress.push(sinkBytes);
      onReceiver(receiver.wrote(chunk.length));
      if (!cancelled && options.cancelAt?.(sinkBytes)) {
        cancelled = true;
        onReceiver(receiver.cancel('the user cancelled'));
      }
    }
  };
  const onSender = (step: SenderStep) => {
    toReceiverQueue.push(...wholeFrames(step.send));
    if (step.error) senderError = step.error;
    if (step.cancelled) senderCancelled = true;
    if (step.request) onSender(sender.accept(digests));
  };

  for (let busy = true; busy; ) {
    busy = false;
    while (toSenderQueue.length > 0) {
      const frame = toSenderQueue.shift()!;
      toSender.push(frame[4]!);
      onSender(sender.receive(frame));
      busy = true;
    }
    for (let read = sender.nextRead(); read; read = sender.nextRead()) {
      onSender(sender.chunk(read, source.subarray(read.offset, read.offset + read.length)));
      busy = true;
    }
    while (toReceiverQueue.length > 0) {
      const frame = toReceiverQueue.shift()!;
      const delivered = options.toReceiver ? options.toReceiver(frame, frames++) : frame;
      if (delivered) onReceiver(receiver.receive(delivered));
      busy = true;
    }
  }
  const out = new Uint8Array(sinkBytes);
  let at = 0;
  for (const part of sink) {
    out.set(part, at);
    at += part.length;
  }
  return {
    sink: out,
    receiverStep,
    senderError,
    senderCancelled,
    sent: sender.sentBytes,
    toSender,
    progress,
    receiver,
    sender,
  };
}

/** The type byte of a frame. */
export const frameType = (frame: Uint8Array) => frame[4]!;

/** A sender's pieces (a CHUNK comes as its head and its data) joined into whole frames. */
function wholeFrames(pieces: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let frame: Uint8Array[] = [];
  let have = 0;
  let need = 0;
  for (const piece of pieces) {
    if (frame.length === 0) need = 4 + new DataView(piece.buffer, piece.byteOffset, 4).getUint32(0);
    frame.push(piece);
    have += piece.length;
    if (have < need) continue;
    frames.push(frame.length === 1 ? piece : new Uint8Array(Buffer.concat(frame)));
    frame = [];
    have = 0;
  }
  return frames;
}
