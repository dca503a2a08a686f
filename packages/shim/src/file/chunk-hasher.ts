import { Worker } from 'node:worker_threads';
import { HashWorkerFailedError } from '../errors/errors.js';

/**
 * Transfers' running SHA-256 on a worker thread, so that checking each chunk against the hash list
 * overlaps with decrypting and framing the next one on the receiving thread (two cores: the TLS
 * record crypto there, SHA-256 here). One worker serves a client's transfers (a worker's start
 * costs tens of ms, as much as hashing tens of MiB); each transfer is a job of its own in it, with
 * the hash over every byte handed to its sink, in file order. Each chunk is checked the way
 * `FileReceiver` checks it inline: the running hash over it must end at the list's entry for its
 * end, and only then is it added.
 */

/** Files with at least this many bytes left to fetch are hashed on the worker by default (below, a message each way costs more than it saves). */
export const HASH_WORKER_MIN_BYTES = 4 * 1024 * 1024;

/** Windows up to this many bytes are checked on the worker (its shared memory holds a window's chunks); larger ones inline. */
export const HASH_WORKER_MAX_WINDOW = 64 * 1024 * 1024;

/** What the worker said of a chunk. */
export interface ChunkVerdict {
  /** Where the chunk starts. */
  offset: number;
  /**
   * `ok`: its digest matched, and the running hash now covers it; `bad`: it did not (the hash
   * stays before it); `skip`: it does not follow the hash (an earlier chunk failed), not checked.
   */
  outcome: 'ok' | 'bad' | 'skip';
  /** With `ok`: the running hash's digest at the chunk's end (the whole file's after the last chunk). */
  digest?: Uint8Array;
}

interface Reply extends ChunkVerdict {
  job: number;
  slot?: number;
}

/**
 * The worker's code, evaluated (not a file: it runs the same from the sources and from dist, and
 * Node 20 cannot start a worker from TypeScript). Per job one hash and one cursor; messages in order.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.open !== undefined) {
    jobs.set(m.job, { hash: createHash('sha256'), next: m.open, ring: m.ring });
    return;
  }
  if (m.close) {
    jobs.delete(m.job);
    return;
  }
  const job = jobs.get(m.job);
  if (!job) return;
  if (m.held) {
    job.hash.update(m.held);
    return;
  }
  const data = m.data ?? new Uint8Array(job.ring, m.slot * m.slotSize, m.length);
  let outcome = 'skip';
  let digest;
  if (m.offset === job.next) {
    const trial = job.hash.copy().update(data);
    const end = trial.copy().digest();
    if (end.equals(m.expected)) {
      job.hash = trial;
      job.next = m.offset + data.byteLength;
      outcome = 'ok';
      digest = new Uint8Array(end);
    } else outcome = 'bad';
  }
  parentPort.postMessage({ job: m.job, offset: m.offset, slot: m.slot, outcome, digest });
});
`;

/** Options of one transfer's job (`HashWorker.open`). */
export interface ChunkHasherOptions {
  /** The offset the running hash starts at: the bytes given to `held` come first. */
  offset: number;
  /** The largest chunk (the chunk size): a slot of the shared memory chunks are copied into. */
  slotSize: number;
  /** Chunks out for their check at most (the window's, plus one): more are copied and moved instead. */
  slots: number;
  /** Each verdict, in the order the chunks were sent. */
  onVerdict(verdict: ChunkVerdict): void;
  /** The worker failed (it threw, or exited): the transfer's typed error. */
  onError(error: HashWorkerFailedError): void;
}

/** One transfer's job on a `HashWorker`: `verify` chunks in file order, `close` when the transfer ends. */
export interface ChunkHasher {
  /** The bytes the sink held before the transfer, in order (copied: the caller keeps them). */
  held(bytes: Uint8Array): void;
  /**
   * Checks the chunk at `offset` against `expected` (the list's entry for its end). Its bytes are
   * copied to a slot of memory shared with the worker (the caller keeps `data`).
   */
  verify(offset: number, data: Uint8Array, expected: Uint8Array): void;
  /** Ends the job (the transfer ended): verdicts still on their way are dropped. */
  close(): void;
}

interface Job {
  options: ChunkHasherOptions;
  /** Slots of the job's shared memory not in use. */
  free: number[];
}

/**
 * A worker thread checking chunks for any number of transfers (a client's), started on the first
 * `open` and again after a failure; `close` stops it. It never keeps the process alive on its own.
 */
export class HashWorker {
  #worker: Worker | undefined;
  readonly #jobs = new Map<number, Job>();
  #nextJob = 0;
  #closed = false;

  /** Jobs open now. */
  get jobs(): number {
    return this.#jobs.size;
  }

  /** True while a worker thread runs. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Starts the worker now (it takes tens of ms), so that the first transfer does not wait for it. */
  warm(): void {
    if (!this.#closed) this.#start();
  }

  /** Opens a transfer's job; throws `HashWorkerFailedError` once the worker was closed. */
  open(options: ChunkHasherOptions): ChunkHasher {
    if (this.#closed) throw new HashWorkerFailedError('the hash worker was closed');
    const worker = this.#start();
    const id = this.#nextJob++;
    // Shared memory the chunks are copied into, one slot each, reused: a transfer detaches and
    // re-wraps a buffer each way, and a new SharedArrayBuffer per chunk costs several times a copy.
    const ring = new SharedArrayBuffer(options.slotSize * options.slots);
    const job: Job = { options, free: Array.from({ length: options.slots }, (_, i) => i) };
    this.#jobs.set(id, job);
    worker.postMessage({ job: id, open: options.offset, ring });
    const live = () => this.#jobs.get(id) === job && this.#worker === worker;
    return {
      held: (bytes) => {
        if (live()) worker.postMessage({ job: id, held: bytes });
      },
      verify: (offset, data, expected) => {
        if (!live()) return;
        const slot = data.byteLength <= options.slotSize ? job.free.pop() : undefined;
        if (slot === undefined) {
          // More out than the window allows (not expected): a copy of its own, moved.
          const copy = data.slice();
          worker.postMessage({ job: id, offset, data: copy, expected }, [copy.buffer]);
          return;
        }
        new Uint8Array(ring, slot * options.slotSize, data.byteLength).set(data);
        worker.postMessage({
          job: id,
          offset,
          slot,
          slotSize: options.slotSize,
          length: data.byteLength,
          expected,
        });
      },
      close: () => {
        if (!live()) return;
        this.#jobs.delete(id);
        worker.postMessage({ job: id, close: true });
      },
    };
  }

  /** Stops the worker; the jobs still open fail (`HashWorkerFailedError`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    this.#failAll(worker, 'the hash worker was closed');
    if (worker) await worker.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // The transfers' sockets keep the process alive while they run; the worker alone never does.
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const job = this.#jobs.get(reply.job);
      if (!job || this.#worker !== worker) return;
      if (reply.slot !== undefined) job.free.push(reply.slot);
      job.options.onVerdict({
        offset: reply.offset,
        outcome: reply.outcome,
        ...(reply.digest ? { digest: reply.digest } : {}),
      });
    });
    worker.on('error', (error) => this.#failAll(worker, `the hash worker failed: ${error.message}`, error));
    worker.on('exit', (code) => this.#failAll(worker, `the hash worker exited (${code})`));
    this.#worker = worker;
    return worker;
  }

  /** The worker is gone: every job on it fails; the next `open` starts another. */
  #failAll(worker: Worker | undefined, message: string, cause?: unknown): void {
    if (!worker || this.#worker !== worker) return;
    this.#worker = undefined;
    void worker.terminate();
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs)
      job.options.onError(new HashWorkerFailedError(message, cause === undefined ? {} : { cause }));
  }
}
