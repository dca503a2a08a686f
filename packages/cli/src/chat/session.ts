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
          const status = seen ? `${seen.status}${seen.text ? ` (${seen.text})` : ''}` : 'offline';
          const sub = item.pending ? 'asked, waiting' : item.subscription;
          this.#say(`  ${formatAddress(item.address).padEnd(32)} ${status.padEnd(20)} ${sub}`);
        }
        return;
      }
      case 'requests': {
        const requests = client.buddyRequests();
        if (requests.length === 0) this.#say('* no buddy requests waiting');
        for (const r of requests)
          this.#say(`  ${formatAddress(r.from)}${r.message ? `: "${r.message}"` : ''}  (/accept or /deny)`);
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
    const target = path ? resolve(path) : join(this.#downloads, basename(offer.name));
    const sink = await fileSink(target);
    const bar = new ProgressBar((t) => this.#out(t), { name: offer.name, tty: this.#tty });
    if (sink.offset > 0) this.#say(`* resuming ${offer.name} at ${formatBytes(sink.offset)}`);
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
            `* saved ${offer.name} to ${target} (${formatBytes(result.bytes)}, sha256 ${result.sha256.slice(0, 16)}… checked)`,
          );
        },
        (error: unknown) => {
          bar.done();
          this.#error(
            error,
            `${offer.name} (${formatBytes(sink.offset)} kept in ${target}; /get ${n} resumes)`,
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
        this.#say(`<${formatAddress(event.from)}> ${event.text.replace(/\n/g, '\n  ')}`);
        return;
      case 'typing':
        if (event.state === 'composing') this.#say(`* ${formatAddress(event.from)} is typing…`);
        else if (event.state === 'paused') this.#say(`* ${formatAddress(event.from)} stopped typing`);
        return;
      case 'presence': {
        const who = formatAddress(event.from);
        this.#seen.set(addressKey(event.from), {
          status: event.status,
          ...(event.text === undefined ? {} : { text: event.text }),
        });
        this.#say(
          event.status === 'offline'
            ? `* ${who} went offline`
            : `* ${who} is ${event.status}${event.text ? `: ${event.text}` : ''}`,
        );
        return;
      }
      case 'buddy-request': {
        const who = formatAddress(event.from);
        const name = event.name ? ` (${event.name})` : '';
        const message = event.message ? `: "${event.message}"` : '';
        this.#say(`* ${who}${name} asks to be your buddy${message} — /accept ${who} or /deny ${who}`);
        return;
      }
      case 'buddy-response':
        this.#say(
          `* ${formatAddress(event.from)} ${event.accepted ? 'accepted' : 'declined'} your buddy request`,
        );
        return;
      case 'file-offer': {
        this.#offers.push(event);
        this.#say(
          `* ${formatAddress(event.from)} offers ${event.name} (${formatBytes(event.size)}) — /get ${this.#offers.length}`,
        );
        return;
      }
      case 'call-invite':
        this.#say(`* ${formatAddress(event.from)} is calling (calls are not supported here)`);
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
