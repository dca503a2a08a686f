import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const irssiAvailable = () =>
  spawnSync('sh', ['-c', 'command -v irssi && command -v tmux']).status === 0;

let sessions = 0;

/**
 * irssi (Debian's `irssi`), a full-screen IRC client, in a detached tmux session: a test types
 * into it with `tmux send-keys` and reads its screen with `tmux capture-pane`, as a user would.
 * `wrap` runs it under another program (proxychains4). Its home is a temporary directory with an
 * empty config, so nothing of the machine's user is read.
 */
export class IrssiClient {
  readonly home = mkdtempSync(join(tmpdir(), 'crosstalk-irssi-'));
  readonly session = `crosstalk-irssi-${process.pid}-${++sessions}`;

  constructor(options: { host: string; port: number; nick: string; wrap?: string[] }) {
    writeFileSync(join(this.home, 'config'), '');
    const command = [
      ...(options.wrap ?? []),
      'irssi',
      `--home=${this.home}`,
      '-n',
      options.nick,
      '-c',
      options.host,
      '-p',
      String(options.port),
    ];
    this.#tmux('new-session', '-d', '-s', this.session, '-x', '200', '-y', '50', command.join(' '));
  }

  #tmux(...args: string[]): string {
    return execFileSync('tmux', args, { encoding: 'utf8' });
  }

  /** What the current window shows, with its scrollback. */
  screen(): string {
    return this.#tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', this.session);
  }

  /** Types a line and presses Enter (`/msg bob hi`, `/window 2`, ...). */
  type(line: string): void {
    this.#tmux('send-keys', '-t', this.session, '-l', line);
    this.#tmux('send-keys', '-t', this.session, 'Enter');
  }

  /**
   * Waits (polling) until `pattern` shows on the screen; 20 s only ends a hung run. `retype` is
   * typed again every second meanwhile (`/window goto bob`, for a window that may not exist yet).
   */
  async waitFor(pattern: RegExp, retype?: string): Promise<string> {
    const until = Date.now() + 20_000;
    for (let i = 0; ; i++) {
      if (retype !== undefined && i % 10 === 0) this.type(retype);
      const screen = this.screen();
      const found = pattern.exec(screen);
      if (found) return found[0];
      if (Date.now() > until) throw new Error(`irssi never showed ${pattern}:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Ends the session and waits for irssi to exit before removing its home: killing the tmux
   * session only hangs up the pane, and irssi may still be writing its files (rmdir then failed
   * ENOTEMPTY in CI).
   */
  async stop(): Promise<void> {
    const shown = spawnSync('tmux', ['display-message', '-p', '-t', this.session, '#{pane_pid}'], {
      encoding: 'utf8',
    });
    const pid = Number.parseInt(shown.stdout ?? '', 10);
    spawnSync('tmux', ['kill-session', '-t', this.session]);
    const known = Number.isInteger(pid) && pid > 0;
    const until = Date.now() + 5_000;
    while (known && alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (known && alive(pid)) process.kill(pid, 'SIGKILL');
    try {
      rmSync(this.home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // A temporary directory left behind is not the test's failure.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
