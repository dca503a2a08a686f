/**
 * The benchmark's progress on stderr, one line per phase: a bar, the messages sent, received and
 * lost so far, and the time elapsed. On a terminal the line is redrawn in place; elsewhere (CI, a
 * log file) a plain line is printed when a stage starts, every `plainEveryMs` after that, and when
 * the phase ends, so a log shows how a run went without a line per redraw.
 */

/** What the load process reports while it runs (IPC message `progress`). */
export interface LoadProgress {
  /** `login` (done/total clients logged in) or `messages` (done/total ms of warm-up and window). */
  stage: string;
  done: number;
  total: number;
  /** IMs sent so far, all phases of the load (warm-up included). */
  sent?: number;
  /** Of those, the ones that arrived. */
  received?: number;
  /** Sent more than the drain time ago and not arrived (an arrival after that is taken back off). */
  lost?: number;
  /** Sends that failed at once (the connection was gone). */
  failed?: number;
  /** Arrivals of a message that had arrived already (not counted in `received`). */
  twice?: number;
}

const WIDTH = 24;

const count = (n: number | undefined) => (n ?? 0).toLocaleString('en-US');

function seconds(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** One progress line, without a line ending. */
export function progressLine(phase: string, p: LoadProgress, elapsedMs: number): string {
  const share = Math.min(1, Math.max(0, p.done / Math.max(p.total, 1)));
  const filled = Math.round(share * WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.round(share * 100)).padStart(3)}%`;
  const what =
    p.stage === 'login'
      ? `login ${count(p.done)}/${count(p.total)} clients`
      : `sent ${count(p.sent)}  received ${count(p.received)}  lost ${count(p.lost)}${p.failed ? `  failed ${count(p.failed)}` : ''}${p.twice ? `  twice ${count(p.twice)}` : ''}`;
  return `  ${phase.padEnd(16)} ${bar}  ${what}  ${seconds(elapsedMs)}`;
}

export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  readonly #now: () => number;
  #phase = '';
  #stage = '';
  #started = 0;
  #lastPlain = 0;
  #last: LoadProgress | undefined;
  #drawn = 0;

  constructor(
    options: { out?: NodeJS.WriteStream; tty?: boolean; plainEveryMs?: number; now?: () => number } = {},
  ) {
    this.#out = options.out ?? process.stderr;
    this.#tty = options.tty ?? Boolean(this.#out.isTTY);
    this.#plainEveryMs = options.plainEveryMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** A phase starts (its clock too). */
  start(phase: string): void {
    this.#phase = phase;
    this.#stage = '';
    this.#last = undefined;
    this.#started = this.#now();
    this.#drawn = 0;
  }

  update(p: LoadProgress): void {
    this.#last = p;
    const line = progressLine(this.#phase, p, this.#now() - this.#started);
    if (this.#tty) {
      // Pad over what the previous, longer line left on screen.
      this.#out.write(`\r${line.padEnd(this.#drawn)}`);
      this.#drawn = line.length;
      return;
    }
    const now = this.#now();
    if (p.stage !== this.#stage || now - this.#lastPlain >= this.#plainEveryMs) {
      this.#out.write(`${line}\n`);
      this.#lastPlain = now;
    }
    this.#stage = p.stage;
  }

  /** The phase ended: its last figures stay on screen (or go to the log) as one final line. */
  finish(): void {
    const line = this.#last
      ? progressLine(this.#phase, this.#last, this.#now() - this.#started)
      : `  ${this.#phase}`;
    this.#out.write(this.#tty ? `\r${line.padEnd(this.#drawn)}  done\n` : `${line}  done\n`);
    this.#drawn = 0;
  }
}
