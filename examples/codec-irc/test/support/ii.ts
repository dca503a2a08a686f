import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const iiAvailable = () => spawnSync('sh', ['-c', 'command -v ii']).status === 0;

/**
 * A proxychains4(1) config in `dir` that sends a program through one SOCKS4 proxy (a gateway's front
 * on loopback), with no remote DNS: ii is given the server's address. Returns the file's path.
 */
export function proxychainsConfig(dir: string, socksPort: number): string {
  const file = join(dir, `proxychains-${socksPort}.conf`);
  writeFileSync(file, `strict_chain\nquiet_mode\n[ProxyList]\nsocks4 127.0.0.1 ${socksPort}\n`);
  return file;
}

/**
 * suckless ii (Debian's `ii`), the real IRC client the tests drive: it keeps an `in` FIFO and an
 * `out` file per server and per conversation under its directory, so a test writes what the user
 * types and reads what the client shows. `wrap` runs it under another program (proxychains4, to
 * make its one connection go through the gateway's SOCKS4 front).
 */
export class IiClient {
  readonly dir = mkdtempSync(join(tmpdir(), 'crosstalk-ii-'));
  readonly #child: ChildProcess;
  readonly #host: string;
  readonly #exited: Promise<void>;
  log = '';

  constructor(options: { host: string; port: number; nick: string; password?: string; wrap?: string[] }) {
    this.#host = options.host;
    const args = ['-s', options.host, '-p', String(options.port), '-n', options.nick, '-f', options.nick];
    const command = [...(options.wrap ?? []), 'ii', ...args, '-i', this.dir];
    if (options.password !== undefined) command.push('-k', 'II_PASSWORD');
    this.#child = spawn(command[0]!, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, II_PASSWORD: options.password ?? '' },
    });
    this.#child.stdout?.on('data', (d) => (this.log += d));
    this.#child.stderr?.on('data', (d) => (this.log += d));
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
  }

  /**
   * ii as `nick` on the IRC server at `host:port`, through a gateway's SOCKS4 front on loopback (a
   * proxychains4 config for it written in `dir`).
   */
  static throughGateway(o: {
    dir: string;
    socksPort: number;
    host: string;
    port: number;
    nick: string;
  }): IiClient {
    const config = proxychainsConfig(o.dir, o.socksPort);
    return new IiClient({ host: o.host, port: o.port, nick: o.nick, wrap: ['proxychains4', '-f', config] });
  }

  /** A conversation's directory: ii lower-cases the name and writes `_` for anything but `.#&+!-`. */
  #path(conversation: string | undefined, file: 'in' | 'out'): string {
    const folder = conversation?.toLowerCase().replace(/[^a-z0-9.#&+!-]/g, '_');
    return join(this.dir, this.#host, ...(folder ? [folder] : []), file);
  }

  /** The `out` file of the server window (every line the server sends) or of a conversation. */
  out(conversation?: string): string {
    const file = this.#path(conversation, 'out');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  /** Waits (polling, as a user reading the screen) until `pattern` shows in an `out` file. */
  waitFor(pattern: RegExp, conversation?: string): Promise<string> {
    return this.#poll(pattern, () => this.out(conversation), conversation ?? 'the server window');
  }

  /**
   * Waits until ii received a line matching `pattern`: ii echoes every line from the server on its
   * standard output, also those it shows nowhere (an IRCv3 away-notify `AWAY`).
   */
  received(pattern: RegExp): Promise<string> {
    return this.#poll(pattern, () => this.log, 'what it received');
  }

  /** Polls `read` until `pattern` matches; a bound of 20 s only ends a hung run (ii died or stalled). */
  async #poll(pattern: RegExp, read: () => string, where: string): Promise<string> {
    const until = Date.now() + 20_000;
    for (;;) {
      const text = read();
      const found = pattern.exec(text);
      if (found) return found[0];
      if (this.#child.exitCode !== null || Date.now() > until) {
        throw new Error(`ii never showed ${pattern} in ${where}:\n${text}\n${this.log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A line typed in the server window (`/j nick`, `/a away`, or a raw command such as `ISON a b`). */
  async type(line: string, conversation?: string): Promise<void> {
    const fifo = this.#path(conversation, 'in');
    for (let i = 0; !existsSync(fifo); i++) {
      if (i > 400) throw new Error(`ii has no ${fifo}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await writeFile(fifo, `${line}\n`, { flag: 'a' });
  }

  /** Says `text` to `nick`: in their conversation, or opening it (ii's `/j nick text`). */
  async say(nick: string, text: string): Promise<void> {
    if (existsSync(this.#path(nick, 'in'))) await this.type(text, nick);
    else await this.type(`/j ${nick} ${text}`);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      await this.type('/q bye').catch(() => {});
      const killer = setTimeout(() => this.#child.kill('SIGKILL'), 3000);
      await this.#exited;
      clearTimeout(killer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
