import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Codec } from '@crosstalk/core';
import type { FuzzCorpus } from './corpus.js';
import {
  DRIVES,
  type DriveEnv,
  type DriveName,
  emptyStats,
  Found,
  type InputStats,
  type TraceStep,
} from './drives.js';
import { describeError, type FailureKind, type FuzzFailure, untypedError } from './failures.js';
import { type Prepared, prepare } from './prepare.js';
import { inputSeed, Random } from './random.js';

export interface FuzzOptions extends FuzzCorpus {
  /** The codec to fuzz. */
  codec: Codec;
  /** Inputs to run. Default 10,000. */
  inputs?: number;
  /** Run seed; with an input's index it determines the input completely. Default: random. */
  seed?: number;
  /** Index of the first input (a run can be continued or split). Default 0. */
  first?: number;
  /** Stop after this many seconds even if fewer inputs ran. */
  seconds?: number;
  /** Share of inputs per drive. Default framer 3, frames 2, translator 2, session 3. */
  drives?: Partial<Record<DriveName, number>>;
  /**
   * An input slower than this every time it is run (three times) is a failure. Default 100 ms. An
   * input's time is the lesser of its wall-clock time and the CPU time the process spent meanwhile,
   * so that time the machine gave to other processes does not count against it.
   */
  slowMs?: number;
  /** Heap growth (after a full collection, over the first measurement) allowed. Default 64 MiB. */
  heapBoundMb?: number;
  /** Text protocol (decimal numbers, character references)? Default: guessed from the corpus. */
  text?: boolean;
  /** Largest mutated input. Default 64 KiB. */
  maxInputSize?: number;
  /** Client bytes for a connection to a virtual endpoint a session allocated (e.g. an MSNP `ANS`). */
  virtualClient?: (data: unknown) => Uint8Array[];
  /** Where to write each distinct failure's input and error (a JSON file per failure). */
  crashDir?: string;
  /** The command that replays one input, written beside each failure. */
  repro?: (seed: number, index: number) => string;
  /** Distinct failures kept (the run goes on counting). Default 20. */
  maxFailures?: number;
  /** Called about every `progressMs` (default 5 s) with the figures so far. */
  onProgress?: (report: FuzzReport) => void;
  /** ms between `onProgress` calls, at least (checked after each input). Default 5000. */
  progressMs?: number;
}

/** What `fuzzCodec` found: the run's figures and its distinct failures. */
export interface FuzzReport {
  /** The codec's protocol id. */
  codec: string;
  /** The run's seed (the one given, or the random one chosen): with an index it replays an input. */
  seed: number;
  /** Inputs run. */
  inputs: number;
  /** Inputs run by each drive. */
  perDrive: Record<DriveName, number>;
  /** Inputs that ended in each kind of failure: here an untyped error (unmutated replays count too). */
  untyped: number;
  /** Inputs slower than `slowMs` every time they were run. */
  slow: number;
  /** Inputs in which a framer passed its `maxBuffered` or `maxFrameSize`. */
  overCap: number;
  /** Inputs in which a framer or session took input after its error or close. */
  notTerminal: number;
  /** Whether the heap grew past `heapBoundMb` over its first measurement. */
  heapExceeded: boolean;
  /** Distinct failures (by kind, call and error site), first input of each. */
  failures: FuzzFailure[];
  /** The slowest input: its time (fastest of its re-runs when it was over the limit) and index. */
  slowestMs: number;
  /** The slowest input's index; -1 when no input ran. */
  slowestIndex: number;
  /** Largest `buffered` any framer showed. */
  maxBuffered: number;
  /** Heap after a full collection: first measurement and largest (MiB); peak RSS (MiB). */
  heapBaseMb: number;
  /** Largest heap after a full collection, MiB. */
  heapMaxMb: number;
  /** Largest resident set size measured, MiB. */
  rssMaxMb: number;
  /** Whether `global.gc` was there (run node with `--expose-gc` for meaningful heap figures). */
  heapCollected: boolean;
  /** Connections verified by the unmutated sessions, and verified again inside inputs. */
  verifiedConnections: number;
  /** Connections that reached `verified` inside inputs, summed over the run. */
  verifiedInInputs: number;
  /** Typed errors the codec threw or reported (bad input refused as it should be). */
  typedErrors: number;
  /** Server frames sessions passed on untranslated (the `untranslated` session event). */
  untranslated: number;
  /** Frames that decoded but re-encoded to other bytes (mutated input: reported, not a failure). */
  roundTripDiffers: number;
  /** Canonical events delivered to sessions (`session.deliver`). */
  delivered: number;
  /** The run's wall-clock time so far, ms. */
  elapsedMs: number;
}

const DEFAULT_WEIGHTS: Record<DriveName, number> = { framer: 3, frames: 2, translator: 2, session: 3 };
const DRIVE_NAMES = Object.keys(DEFAULT_WEIGHTS) as DriveName[];
const HEAP_EVERY = 5000;
const MB = 1024 * 1024;

type InputResult = { drive: DriveName; stats: InputStats; found?: Found; trace?: TraceStep[] };

function weightsOf(options: FuzzOptions): number[] {
  return DRIVE_NAMES.map((d) => options.drives?.[d] ?? DEFAULT_WEIGHTS[d]);
}

/** Runs input `index` of run `seed`: a pure function of the two (and the corpus). */
function runInput(
  prepared: Prepared,
  options: FuzzOptions,
  seed: number,
  index: number,
  trace: boolean,
): InputResult {
  const rng = new Random(inputSeed(seed, index));
  const drive = DRIVE_NAMES[rng.weighted(weightsOf(options))]!;
  const env: DriveEnv = {
    prepared,
    rng,
    stats: emptyStats(),
    trace: trace ? [] : undefined,
    virtualClient: options.virtualClient,
  };
  try {
    DRIVES[drive](env);
  } catch (error) {
    // A throw the drives did not catch came from a codec call outside a guard: untyped by definition.
    const found = error instanceof Found ? error : new Found('untyped', `${drive} drive`, error);
    return { drive, stats: env.stats, found, ...(env.trace ? { trace: env.trace } : {}) };
  }
  return { drive, stats: env.stats, ...(env.trace ? { trace: env.trace } : {}) };
}

function signature(kind: FailureKind, where: string, error: unknown): string {
  const inner = untypedError(error) ?? error;
  const site =
    inner instanceof Error ? (inner.stack ?? '').split('\n').find((l) => l.trim().startsWith('at ')) : '';
  const name = inner instanceof Error ? inner.constructor?.name : typeof inner;
  return `${kind}|${where}|${name}|${site?.trim() ?? ''}`;
}

function heapNow(): { heap: number; rss: number; collected: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / MB, rss: m.rss / MB, collected: gc !== undefined };
}

/**
 * Fuzzes one codec: framer, frame codec, translator and proxy sessions, fed mutated real
 * sessions. Returns the figures and the distinct failures; never throws for a codec's fault.
 */
export function fuzzCodec(options: FuzzOptions): FuzzReport {
  const started = performance.now();
  const codec = options.codec;
  const seed = options.seed ?? Math.floor(Math.random() * 0x7fff_ffff);
  const total = options.inputs ?? 10_000;
  const first = options.first ?? 0;
  const slowMs = options.slowMs ?? 100;
  const heapBound = options.heapBoundMb ?? 64;
  const maxFailures = options.maxFailures ?? 20;
  const deadline =
    options.seconds === undefined ? Number.POSITIVE_INFINITY : started + options.seconds * 1000;
  const prepared = prepare(codec, options, {
    ...(options.text === undefined ? {} : { text: options.text }),
    ...(options.maxInputSize === undefined ? {} : { maxSize: options.maxInputSize }),
  });
  const report: FuzzReport = {
    codec: codec.protocol,
    seed,
    inputs: 0,
    perDrive: { framer: 0, frames: 0, translator: 0, session: 0 },
    untyped: 0,
    slow: 0,
    overCap: 0,
    notTerminal: 0,
    heapExceeded: false,
    failures: [],
    slowestMs: 0,
    slowestIndex: -1,
    maxBuffered: 0,
    heapBaseMb: 0,
    heapMaxMb: 0,
    rssMaxMb: 0,
    heapCollected: false,
    verifiedConnections: prepared.sessions.reduce((n, s) => n + s.verifiedAt.size, 0),
    verifiedInInputs: 0,
    typedErrors: 0,
    untranslated: 0,
    roundTripDiffers: 0,
    delivered: 0,
    elapsedMs: 0,
  };
  const seen = new Set<string>();
  const keep = (failure: Omit<FuzzFailure, 'codec' | 'seed'>, error: unknown, sig: string) => {
    if (seen.has(sig) || report.failures.length >= maxFailures) return;
    seen.add(sig);
    const full: FuzzFailure = { codec: codec.protocol, seed, ...failure };
    if (options.repro && failure.index >= 0) full.repro = options.repro(seed, failure.index);
    if (options.crashDir) full.file = saveCrash(options, prepared, full, error);
    report.failures.push(full);
  };
  for (const b of prepared.baseline) {
    if (untypedError(b.error) === undefined) continue;
    report.untyped++;
    const where = `unmutated replay of ${b.session}, ${b.conn}`;
    keep(
      { kind: 'untyped', index: -1, drive: 'baseline', where, ...describeError(b.error) },
      b.error,
      signature('untyped', where, b.error),
    );
  }

  const initial = heapNow();
  report.heapBaseMb = initial.heap;
  report.heapMaxMb = initial.heap;
  report.rssMaxMb = initial.rss;
  report.heapCollected = initial.collected;
  let lastProgress = started;
  const progressMs = options.progressMs ?? 5000;
  for (let n = 0; n < total; n++) {
    const index = first + n;
    let result!: InputResult;
    const timed = () => {
      const wall = performance.now();
      const cpu = process.cpuUsage();
      result = runInput(prepared, options, seed, index, false);
      const used = process.cpuUsage(cpu);
      return Math.min(performance.now() - wall, (used.user + used.system) / 1000);
    };
    let ms = timed();
    if (ms > slowMs) {
      // A pause (a collection, another process) is not the input's fault: slow only if it stays slow.
      for (let again = 0; again < 2 && ms > slowMs; again++) {
        (globalThis as { gc?: () => void }).gc?.();
        ms = Math.min(ms, timed());
      }
    }
    report.inputs++;
    report.perDrive[result.drive]++;
    const s = result.stats;
    if (s.maxBuffered > report.maxBuffered) report.maxBuffered = s.maxBuffered;
    report.typedErrors += s.typed;
    report.untranslated += s.untranslated;
    report.verifiedInInputs += s.verified;
    report.roundTripDiffers += s.roundTripDiffers;
    report.delivered += s.delivered;
    if (ms > report.slowestMs) {
      report.slowestMs = ms;
      report.slowestIndex = index;
    }
    if (ms > slowMs) {
      report.slow++;
      const where = `${result.drive} input`;
      keep(
        {
          kind: 'slow',
          index,
          drive: result.drive,
          where,
          message: `took ${ms.toFixed(1)} ms (limit ${slowMs})`,
          ms,
        },
        undefined,
        `slow|${result.drive}|${index}`,
      );
    }
    if (result.found) {
      const { kind, where, error } = result.found;
      if (kind === 'untyped') report.untyped++;
      else if (kind === 'over-cap') report.overCap++;
      else if (kind === 'not-terminal') report.notTerminal++;
      keep(
        { kind, index, drive: result.drive, where, ...describeError(untypedError(error) ?? error) },
        error,
        signature(kind, where, error),
      );
    }
    if ((n + 1) % HEAP_EVERY === 0) {
      const h = heapNow();
      report.heapMaxMb = Math.max(report.heapMaxMb, h.heap);
      report.rssMaxMb = Math.max(report.rssMaxMb, h.rss);
      if (n + 1 === HEAP_EVERY) report.heapBaseMb = h.heap; // after the warm-up (JIT, caches)
      if (h.collected && !report.heapExceeded && h.heap - report.heapBaseMb > heapBound) {
        report.heapExceeded = true;
        keep(
          {
            kind: 'heap',
            index,
            drive: 'all',
            where: 'heap after a full collection',
            message: `${h.heap.toFixed(1)} MiB, ${(h.heap - report.heapBaseMb).toFixed(1)} MiB over the first measurement (bound ${heapBound})`,
          },
          undefined,
          'heap',
        );
      }
    }
    const now = performance.now();
    if (options.onProgress && now - lastProgress >= progressMs) {
      lastProgress = now;
      report.elapsedMs = now - started;
      options.onProgress(report);
    }
    if (now > deadline) break;
  }
  const end = heapNow();
  report.heapMaxMb = Math.max(report.heapMaxMb, end.heap);
  report.rssMaxMb = Math.max(report.rssMaxMb, end.rss);
  report.elapsedMs = performance.now() - started;
  return report;
}

/** Re-runs one input with its calls recorded (what a crash file holds). */
export function replayInput(
  options: FuzzOptions,
  seed: number,
  index: number,
): {
  /** The drive the input used. */
  drive: DriveName;
  /** What went wrong, when something did. */
  failure?: {
    /** The kind of failure. */
    kind: FailureKind;
    /** The call that failed. */
    where: string;
    /** What was thrown or reported. */
    error: unknown;
  };
  /** The calls the input made, in order. */
  trace: TraceStep[];
  /** Its wall-clock time with the recording, ms. */
  ms: number;
} {
  const prepared = prepare(options.codec, options, {
    ...(options.text === undefined ? {} : { text: options.text }),
    ...(options.maxInputSize === undefined ? {} : { maxSize: options.maxInputSize }),
  });
  const t0 = performance.now();
  const result = runInput(prepared, options, seed, index, true);
  const ms = performance.now() - t0;
  return {
    drive: result.drive,
    ...(result.found
      ? { failure: { kind: result.found.kind, where: result.found.where, error: result.found.error } }
      : {}),
    trace: result.trace ?? [],
    ms,
  };
}

function saveCrash(options: FuzzOptions, prepared: Prepared, failure: FuzzFailure, error: unknown): string {
  const dir = options.crashDir!;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${failure.codec}-${failure.kind}-${failure.seed}-${failure.index}.json`);
  const trace =
    failure.index >= 0 ? runInput(prepared, options, failure.seed, failure.index, true).trace : undefined;
  const inner = untypedError(error) ?? error;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        ...failure,
        error: describeError(inner),
        ...(inner !== error && error !== undefined ? { wrappedIn: describeError(error) } : {}),
        trace,
      },
      null,
      2,
    )}\n`,
  );
  return file;
}
