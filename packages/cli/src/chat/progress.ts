/**
 * The progress bar of `/get`: on a terminal one line redrawn in place (`\r`), elsewhere (a pipe, a
 * log) a line at each tenth, so that a reader sees progress without a flood of lines.
 */

/** `n` bytes as people read them: `512 B`, `1.5 KB`, `12.0 MB`, `3.25 GB` (powers of 1024). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** `[########------------]  40%  4.00 MB / 10.0 MB  name`, `width` cells of bar. */
export function renderProgress(received: number, total: number, name: string, width = 24): string {
  const fraction = total > 0 ? Math.min(1, received / total) : 1;
  const filled = Math.round(fraction * width);
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}%  ${formatBytes(received)} / ${formatBytes(total)}  ${name}`;
}

/** Draws one transfer's progress on `write`: redrawn in place on a terminal, a line per tenth otherwise. */
export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #name: string;
  #lastTenth = -1;
  #drawn = false;

  constructor(write: (text: string) => void, options: { name: string; tty: boolean }) {
    this.#write = write;
    this.#tty = options.tty;
    this.#name = options.name;
  }

  /** Told the bytes held so far (a resume starts above 0) and the file's size. */
  update(received: number, total: number): void {
    const line = renderProgress(received, total, this.#name);
    if (this.#tty) {
      this.#write(`\r${line}`);
      this.#drawn = true;
      return;
    }
    const tenth = total > 0 ? Math.floor((received / total) * 10) : 10;
    if (tenth === this.#lastTenth) return;
    this.#lastTenth = tenth;
    this.#write(`${line}\n`);
  }

  /** Ends the bar (a terminal's line is finished with a newline). */
  done(): void {
    if (this.#tty && this.#drawn) this.#write('\n');
    this.#drawn = false;
  }
}
