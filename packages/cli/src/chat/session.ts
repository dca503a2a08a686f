import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type CrossTalkClient,
  type FileOfferEvent,
  formatAddress,
  isCrossTalkError,
  type PresenceStatus,
} from '@crosstalk/core';
import { fileSink, fileSource, type ServedReport } from '@crosstalk/shim';
import { CHAT_COMMANDS, type ChatCommand, parseChatLine } from './commands.js';
import { formatBytes, ProgressBar } from './progress.js';

/**
 * Text from the network as it may be shown on a terminal: control characters (an escape sequence
 * could move the cursor, retitle the window or rewrite what is on screen) become U+FFFD; a newline
 * stays, indented so it cannot pose as a line of ours.
 */
export function printable(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd')
    .replace(/\n/g, '\n  ');
}

/** An address from the network, as it may be shown (some networks' names allow control characters). */
function shown(a: Address): string {
  return printable(formatAddress(a));
}

/** What a chat session needs: the client, where its lines go, and where files are saved. */
export interface ChatSessionOptions {
  client: CrossTalkClient;
  /** Writes text to the user (stdout). */
  out(text: string): void;
  /** Whether `out` is a terminal (the progress bar redraws in place). */
  tty: boolean;
  /** Where `/get` saves files without a path. */
  downloads: string;
}

/** What the session knows of a buddy for `/roster`: their last status. */
interface Seen {
  status: PresenceStatus;
  text?: string;
}

/**
 * `crosstalk chat`'s conversation: lines in (commands, or text for the current conversation),
 * events out as lines (`<bob@yahoo> hi`, `* bob@yahoo is away: lunch`, `! ...` for what failed).
 * A failed command is reported and the session goes on. `/get` runs in the background with its
 * progress bar; everything else runs in the order typed.
 */
export class ChatSession {
  readonly #client: CrossTalkClient;
  readonly #out: (text: string) => void;
  readonly #tty: boolean;
  readonly #downloads: string;
  readonly #offers: FileOfferEvent[] = [];
  readonly #sent = new Map<string, { name: string; to: Address }>();
  readonly #seen = new Map<string, Seen>();
  readonly #transfers = new Set<{ abort: AbortController; done: Promise<void> }>();
  #current: Address | undefined;

  constructor(options: ChatSessionOptions) {
    this.#client = options.client;
    this.#out = options.out;
    this.#tty = options.tty;
    this.#downloads = options.downloads;
    this.#client.on('event', (event) => this.#show(event));
  }

  /** Runs one input line; resolves `quit` when the user asked to leave. */
  async line(text: string): Promise<'quit' | undefined> {
    let command: ChatCommand;
    try {
      command = parseChatLine(text);
    } catch (error) {
      this.#error(error);
      return undefined;
    }
    if (command.type === 'quit') return 'quit';
    try {
      await this.#run(command);
    } catch (error) {
      this.#error(error);
    }
    return undefined;
  }

  /** Told how a transfer this user served ended (the client's `files.onServed`). */
  served(report: ServedReport): void {
    const offer = report.offerId ? this.#sent.get(report.offerId) : undefined;
    const what = offer ? `${offer.name} (to ${formatAddress(offer.to)})` : 'a file';
    if (report.outcome === 'completed') this.#say(`* ${what} was fetched: ${formatBytes(report.sent)} sent`);
    else if (report.outcome === 'cancelled')
      this.#say(`* ${what}: the transfer was cancelled by the receiver`);
    else this.#say(`! ${what}: the transfer failed: ${report.error?.message ?? 'unknown error'}`);
  }

  /** Aborts transfers under way (what they wrote stays on disk for a resume) and waits for them. */
  async stop(): Promise<void> {
    for (const t of this.#transfers) t.abort.abort();
    await Promise.all([...this.#transfers].map((t) => t.done));
  }

  async #run(c: Exclude<ChatCommand, { type: 'quit' }>): Promise<void> {
    const client = this.#client;
    switch (c.type) {
      case 'none':
        return;
      case 'help':
        this.#say(CHAT_COMMANDS.map(([usage, what]) => `  ${usage.padEnd(28)} ${what}`).join('\n'));
        return;
      case 'say':
        if (!this.#current) {
          this.#say('! no conversation yet: /msg <address> <text> starts one');
          return;
        }
        return this.#send(this.#current, c.text);
      case 'msg':
        this.#current = c.to;
        return this.#send(c.to, c.text);
      case 'add': {
        const outcome = await client.addBuddy(c.to, c.message);
        this.#say(
          outcome === 'held'
            ? `* ${formatAddress(c.to)} is offline: the request waits for them and is delivered when they log in`
            : `* buddy request sent to ${formatAddress(c.to)}`,
        );
        return;
      }
      case 'answer': {
        const outcome = await client.answerBuddy(c.to, c.accepted);
        this.#say(
          `* ${c.accepted ? 'accepted' : 'declined'} ${formatAddress(c.to)}${outcome === 'held' ? ' (they will hear it when they log in)' : ''}`,
        );
        return;
      }
      case 'file': {
        const source = await fileSource(resolve(c.path));
        const offer = await client.sendFile(c.to, source).catch(async (error: unknown) => {
          await source.close?.();
          throw error;
        });
        this.#sent.set(offer.id, { name: offer.name, to: c.to });
        this.#say(`* offered ${offer.name} (${formatBytes(offer.size)}) to ${formatAddress(c.to)}`);
        return;
      }
      case 'get':
        return this.#get(c.offer, c.path);
      case 'presence':
        await client.setPresence(c.status, c.text);
        this.#say(`* you are ${c.status}${c.text ? `: ${c.text}` : ''}`);
        return;
      case 'typing':
        await client.sendTyping(c.to, 'composing');
        return;
      case 'roster': {
        const items = client.roster();
        if (items.length === 0) this.#say('* no buddies yet: /add <address>');
        for (const item of items) {
          const seen = this.#seen.get(addressKey(item.address));
          const status = seen ? `${seen.status}${seen.text ? ` (${printable(seen.text)})` : ''}` : 'offline';
          const sub = item.pending ? 'asked, waiting' : item.subscription;
          this.#say(`  ${shown(item.address).padEnd(32)} ${status.padEnd(20)} ${sub}`);
        }
        return;
      }
      case 'requests': {
        const requests = client.buddyRequests();
        if (requests.length === 0) this.#say('* no buddy requests waiting');
        for (const r of requests)
          this.#say(
            `  ${shown(r.from)}${r.message ? `: "${printable(r.message)}"` : ''}  (/accept or /deny)`,
          );
        return;
      }
    }
  }

  async #send(to: Address, text: string): Promise<void> {
    await this.#client.sendIM(to, text);
    this.#say(`> ${formatAddress(to)}: ${text}`);
  }

  /** `/get n`: fetches offer #n into the downloads folder (or `path`), resuming what is there, in the background. */
  async #get(n: number, path: string | undefined): Promise<void> {
    const offer = this.#offers[n - 1];
    if (!offer) {
      this.#say(`! no offer #${n} (${this.#offers.length} so far)`);
      return;
    }
    await mkdir(this.#downloads, { recursive: true });
    // The sender's name is a name (checked when offered); basename once more, to stay in the folder.
    const name = basename(offer.name);
    const safe = name === '' || name === '.' || name === '..' ? `offer-${n}` : name;
    const target = path ? resolve(path) : join(this.#downloads, safe);
    const sink = await fileSink(target);
    const bar = new ProgressBar((t) => this.#out(t), { name: printable(offer.name), tty: this.#tty });
    if (sink.offset > 0) this.#say(`* resuming ${printable(offer.name)} at ${formatBytes(sink.offset)}`);
    const abort = new AbortController();
    const done = this.#client
      .getFile(offer, sink, {
        signal: abort.signal,
        onProgress: (received, total) => bar.update(received, total),
      })
      .then(
        (result) => {
          bar.update(result.bytes, result.bytes);
          bar.done();
          this.#say(
            `* saved ${printable(offer.name)} to ${target} (${formatBytes(result.bytes)}, sha256 ${result.sha256.slice(0, 16)}… checked)`,
          );
        },
        (error: unknown) => {
          bar.done();
          this.#error(
            error,
            `${printable(offer.name)} (${formatBytes(sink.offset)} kept in ${target}; /get ${n} resumes)`,
          );
        },
      )
      .finally(() => sink.close());
    const entry = { abort, done };
    this.#transfers.add(entry);
    void done.finally(() => this.#transfers.delete(entry));
  }

  #show(event: CanonicalEvent): void {
    switch (event.kind) {
      case 'im':
        this.#current ??= event.from;
        this.#say(`<${shown(event.from)}> ${printable(event.text)}`);
        return;
      case 'typing':
        if (event.state === 'composing') this.#say(`* ${shown(event.from)} is typing…`);
        else if (event.state === 'paused') this.#say(`* ${shown(event.from)} stopped typing`);
        return;
      case 'presence': {
        const who = shown(event.from);
        this.#seen.set(addressKey(event.from), {
          status: event.status,
          ...(event.text === undefined ? {} : { text: event.text }),
        });
        this.#say(
          event.status === 'offline'
            ? `* ${who} went offline`
            : `* ${who} is ${event.status}${event.text ? `: ${printable(event.text)}` : ''}`,
        );
        return;
      }
      case 'buddy-request': {
        const who = shown(event.from);
        const name = event.name ? ` (${printable(event.name)})` : '';
        const message = event.message ? `: "${printable(event.message)}"` : '';
        this.#say(`* ${who}${name} asks to be your buddy${message} — /accept ${who} or /deny ${who}`);
        return;
      }
      case 'buddy-response':
        this.#say(`* ${shown(event.from)} ${event.accepted ? 'accepted' : 'declined'} your buddy request`);
        return;
      case 'file-offer': {
        this.#offers.push(event);
        this.#say(
          `* ${shown(event.from)} offers ${printable(event.name)} (${formatBytes(event.size)}) — /get ${this.#offers.length}`,
        );
        return;
      }
      case 'call-invite':
        this.#say(`* ${shown(event.from)} is calling (calls are not supported here)`);
        return;
      case 'roster':
        return;
    }
  }

  #say(line: string): void {
    this.#out(`${line}\n`);
  }

  #error(error: unknown, context?: string): void {
    const code = isCrossTalkError(error) && error.code !== 'ERR_CHAT_USAGE' ? ` (${error.code})` : '';
    const message = error instanceof Error ? error.message : String(error);
    this.#say(`! ${context ? `${context}: ` : ''}${message}${code}`);
  }
}
