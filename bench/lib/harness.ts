import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/**
 * Shared benchmark plumbing: deterministic sample text, rate measurement where every case runs
 * in the same process and rounds visit the cases in turn (so a load spike hits them alike), and
 * the markdown section each script prints and, with `--append FILE`, appends to docs/benchmarks.md.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?';

/** A reproducible pseudo-random chat line of `length` characters drawn from `alphabet`. */
export function sampleText(seed: number, length = 150, alphabet = ALPHABET): string {
  let s = '';
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += alphabet[x % alphabet.length];
  }
  return s;
}

export interface BenchCase {
  name: string;
  what: string;
  /** Processes `n` items. */
  run: (n: number) => void;
}

export interface BenchResult {
  name: string;
  what: string;
  /** Items per second, best round. */
  rate: number;
}

export interface BenchOptions {
  /** Items per call of `run` inside a round. */
  batch: number;
  warmupMs?: number;
  minMs?: number;
  rounds?: number;
}

/** Measures every case: a warm-up each, then `rounds` rounds that visit the cases in turn; best round wins. */
export function measureCases(cases: readonly BenchCase[], options: BenchOptions): BenchResult[] {
  const warmupMs = options.warmupMs ?? 500;
  const minMs = options.minMs ?? 200;
  const rounds = options.rounds ?? 7;
  for (const c of cases) {
    const start = performance.now();
    while (performance.now() - start < warmupMs) c.run(options.batch);
  }
  const best = new Map<string, number>();
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      let n = 0;
      const start = performance.now();
      let elapsed = 0;
      while (elapsed < minMs) {
        c.run(options.batch);
        n += options.batch;
        elapsed = performance.now() - start;
      }
      best.set(c.name, Math.max(best.get(c.name) ?? 0, (n / elapsed) * 1000));
    }
  }
  return cases.map((c) => ({ name: c.name, what: c.what, rate: best.get(c.name)! }));
}

/** A case list and the `measure(name, what, run)` that adds to it (scripts read as a list of cases). */
export function caseList(): {
  cases: BenchCase[];
  measure: (name: string, what: string, run: (n: number) => void) => void;
} {
  const cases: BenchCase[] = [];
  return { cases, measure: (name, what, run) => void cases.push({ name, what, run }) };
}

/**
 * The copy-only baselines each codec benchmark reports beside its own work: every item copied into
 * a preallocated buffer (`set`), and into a new buffer (`slice`). `noun` names an item ("packet").
 */
export function copyBaselines(items: readonly Uint8Array[], noun: string): BenchCase[] {
  const scratch = new Uint8Array(Math.max(...items.map((b) => b.length)));
  return [
    {
      name: 'copy-only baseline',
      what: `copy each ${noun} into a preallocated buffer (\`set\`)`,
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const item = items[i % items.length]!;
          scratch.set(item);
          sink.value += scratch[item.length - 1]!;
        }
      },
    },
    {
      name: 'copy-only baseline (allocating)',
      what: `copy each ${noun} into a new buffer (\`slice\`)`,
      run: (n) => {
        for (let i = 0; i < n; i++) sink.value += items[i % items.length]!.slice().length;
      },
    },
  ];
}

/**
 * Feeds `stream` (which holds `perStream` items) to `each` in `size`-byte chunks, as TCP reads
 * arrive, as many times as it takes to pass at least `n` items.
 */
export function inChunks(
  stream: Uint8Array,
  perStream: number,
  n: number,
  each: (chunk: Uint8Array) => void,
  size = 64 * 1024,
): void {
  const rounds = Math.ceil(n / perStream);
  for (let r = 0; r < rounds; r++) {
    for (let at = 0; at < stream.length; at += size) each(stream.subarray(at, at + size));
  }
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** One line naming the machine, Node and the date (docs/benchmarks.md records it with every result). */
export function machineLine(coresUsed = 'one used'): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores (${coresUsed}); Node ${process.version}; load ${loadavg()[0]!.toFixed(2)}; ${new Date().toISOString().slice(0, 10)}`;
}

/** The number given as `--name N` on the command line, else `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

/** Prints a markdown section, and appends it to the file named by `--append FILE`. */
export function publish(section: string): void {
  process.stdout.write(`${section}\n`);
  const at = process.argv.indexOf('--append');
  const file = at > 0 ? process.argv[at + 1] : undefined;
  if (!file) return;
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n');
  appendFileSync(file, section);
}

/** Keeps results observable so the optimiser cannot drop the measured work. */
export const sink = { value: 0 };
