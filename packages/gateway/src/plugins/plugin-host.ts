import {
  type Address,
  addressKey,
  type CanonicalEvent,
  type ImEvent,
  InvalidPluginError,
  InvalidPluginReplyError,
  isCrossTalkError,
  isPlugin,
  isPluginReply,
  PLUGIN_REPLY_ID_PREFIX,
  type Plugin,
  type PluginContext,
  type PluginReply,
  type PluginRequest,
  type PluginStore,
  PluginStoreFullError,
  PluginTimeoutError,
  type PluginUser,
  parseAddress,
  parseCommand,
  SYSTEM_ADDRESS,
  type TypingState,
} from '@crosstalk/core';
import type { Logger } from 'pino';
import { PLUGIN_STORE_LIMITS, type PluginState } from './plugin-state.js';
import { RateLimiter } from './rate-limiter.js';
import { checkReply } from './reply.js';

/** How the host treats plugins and who has which on (`createGateway({ pluginSettings })`). */
export interface PluginSettings {
  /**
   * Who has each plugin on until they choose for themselves with `/plugins on|off`: plugin name
   * to a list of addresses (`bob@yahoo`), `*` for every user. Default: nobody.
   */
  enabledFor?: Readonly<Record<string, readonly string[]>>;
  /** ms a plugin may take to answer before the asker is told it could not (default 5000). */
  timeout?: number;
  /** Answers one sender may get: `requests` per `perMs` (default 10 per minute). */
  rateLimit?: {
    /** Answers allowed per window (the bucket's size). */
    requests: number;
    /** The window, ms. */
    perMs: number;
  };
  /** Longest reply text in characters (default 2048); a longer one becomes a short error reply. */
  maxReplyLength?: number;
}

/** The host's limits when `PluginSettings` leaves them out. */
export const DEFAULT_PLUGIN_SETTINGS = {
  /** 5 s for a plugin to answer, ms. */
  timeout: 5000,
  /** 10 answers per sender per minute. */
  rateLimit: {
    /** Answers allowed per window. */
    requests: 10,
    /** The window, ms (a minute). */
    perMs: 60_000,
  },
  /** 2048 characters of reply text. */
  maxReplyLength: 2048,
} as const;

/** What became of one command (`plugin` gateway events, `crosstalk_plugin_requests_total`). */
export type PluginOutcome =
  | 'answered'
  | 'silent'
  | 'failed'
  | 'timeout'
  | 'invalid-reply'
  | 'reply-too-long'
  | 'rate-limited'
  | 'undeliverable';

/** One command the host handled and what became of it (the `plugin` gateway event). */
export interface PluginReport {
  /** The name of the plugin that the command went to. */
  plugin: string;
  /** The command word, e.g. `/location`. */
  command: string;
  /** Whose behalf the plugin answered on. */
  user: Address;
  /** Who asked (the user themselves for `owner`). */
  from: Address;
  /** `buddy`: a buddy asked the user; `owner`: the user asked through the system address. */
  origin: 'buddy' | 'owner';
  /** What became of the command. */
  outcome: PluginOutcome;
  /** The error's code (or message) when the outcome is not `answered` or `silent`. */
  error?: string;
}

/** What a `PluginHost` runs on: its plugins and settings, and the engine it answers through. */
export interface PluginHostOptions {
  /** The plugins to run (from `definePlugin`), names unique. */
  plugins: readonly Plugin[];
  /** Who has which plugin on by default, and the host's limits (`DEFAULT_PLUGIN_SETTINGS` when absent). */
  settings?: PluginSettings;
  /** The plugin section of the gateway's hard state; `update` resolves once it is durable. */
  state: {
    /** The section as it is now; undefined before anything was stored. */
    read(): Readonly<PluginState> | undefined;
    /** Lets `change` edit the section in place (an empty one when there was none); resolves once durable. */
    update(change: (state: PluginState) => void): Promise<void>;
  };
  /** Carries an event from a local user to anyone, the way that user's own IMs travel. */
  send(event: ImEvent | (CanonicalEvent & { kind: 'typing' })): Promise<void>;
  /** Shows an IM (from the system address) to a local user; false when no connection takes it. */
  deliver(event: ImEvent): boolean;
  /** Told of every command handled and its outcome (gateway events, metrics). */
  report(report: PluginReport): void;
  /** Where the host logs plugins that did not answer and answers it could not deliver. */
  log: Logger;
  /** The clock, ms since the epoch (rate limits, plugins' `ctx.now()`, the answers' `sentAt`). */
  now: () => number;
  /** A fresh id for each IM the host sends (after `PLUGIN_REPLY_ID_PREFIX`). */
  newId: () => string;
}

/** IMs (and typing notices) a plugin's answers go out as, for one request. */
interface Channel {
  im(reply: PluginReply): Promise<void>;
  typing(state: TypingState): Promise<void>;
}

/** Events a plugin may send with `ctx.send` on top of its reply, per request. */
const MAX_EXTRA_SENDS = 4;

/**
 * Runs command plugins for the users of one gateway: the plugin at Y (the paper's §3.4). An IM
 * that reached Y and starts with a command Y has on is answered on Y's behalf; IMs Y sends to the
 * system address (`crosstalk@crosstalk`) list and toggle plugins and reach plugins as their owner.
 * Each run has a deadline (its `signal` aborts), each sender a rate limit, each reply is checked,
 * and whatever goes wrong becomes a short reply, never an exception out of here.
 */
export class PluginHost {
  readonly #o: PluginHostOptions;
  readonly #byName: ReadonlyMap<string, Plugin>;
  readonly #enabledFor = new Map<string, Set<string>>();
  readonly #limiter: RateLimiter;
  readonly #timeout: number;
  readonly #maxReply: number;
  readonly #running = new Set<AbortController>();
  #closed = false;

  constructor(options: PluginHostOptions) {
    this.#o = options;
    const byName = new Map<string, Plugin>();
    options.plugins.forEach((plugin, i) => {
      if (!isPlugin(plugin))
        throw new InvalidPluginError(`plugins[${i}] is not a plugin (make one with definePlugin)`);
      if (byName.has(plugin.name)) throw new InvalidPluginError(`two plugins are named ${plugin.name}`);
      byName.set(plugin.name, plugin);
    });
    this.#byName = byName;
    const settings = options.settings ?? {};
    for (const [name, users] of Object.entries(settings.enabledFor ?? {})) {
      if (!byName.has(name))
        throw new InvalidPluginError(`enabledFor names ${name}, which is not a registered plugin`);
      this.#enabledFor.set(name, new Set(users.map((u) => (u === '*' ? u : addressKey(parseAddress(u))))));
    }
    const limit = settings.rateLimit ?? DEFAULT_PLUGIN_SETTINGS.rateLimit;
    this.#limiter = new RateLimiter(limit.requests, limit.perMs, options.now);
    this.#timeout = settings.timeout ?? DEFAULT_PLUGIN_SETTINGS.timeout;
    this.#maxReply = settings.maxReplyLength ?? DEFAULT_PLUGIN_SETTINGS.maxReplyLength;
  }

  /** The registered plugins, in the order given. */
  get plugins(): Plugin[] {
    return [...this.#byName.values()];
  }

  /** Whether buddies who send `user` a command of plugin `name` get an answer. */
  isEnabled(user: Address, name: string): boolean {
    const key = addressKey(user);
    const own = this.#o.state.read()?.enabled[key]?.[name];
    if (own !== undefined) return own;
    const list = this.#enabledFor.get(name);
    return list !== undefined && (list.has('*') || list.has(key));
  }

  /** Records `user`'s own choice for plugin `name` (kept with the hard state). */
  async setEnabled(user: Address, name: string, on: boolean): Promise<void> {
    if (!this.#byName.has(name)) throw new InvalidPluginError(`no plugin is named ${name}`);
    const key = addressKey(user);
    await this.#o.state.update((s) => {
      s.enabled[key] = { ...s.enabled[key], [name]: on };
    });
  }

  /**
   * An IM reached a local user (already delivered to them): when it starts with a command they
   * have on, the plugin answers the sender on their behalf; never a plugin's answer. Returns
   * undefined at once for the IMs that are no command (every IM passes here), else a promise
   * that always resolves, at the latest shortly after the timeout. `user` is asked only then.
   */
  answer(user: () => PluginUser, message: ImEvent): Promise<void> | undefined {
    if (this.#closed || this.#byName.size === 0 || !/^\s*\//.test(message.text) || isPluginReply(message))
      return undefined;
    const parsed = parseCommand(message.text);
    if (!parsed) return undefined;
    const asked = user();
    const plugin = this.#pluginFor(parsed.command, (p) => this.isEnabled(asked.address, p.name));
    if (!plugin) return undefined;
    return this.#answer(plugin, asked, parsed, message);
  }

  async #answer(
    plugin: Plugin,
    user: PluginUser,
    parsed: { command: string; args: string },
    message: ImEvent,
  ): Promise<void> {
    const request: PluginRequest = { from: message.from, user, origin: 'buddy', ...parsed, message };
    const channel = this.#buddyChannel(user.address, message.from);
    if (!(await this.#admit(`buddy:${addressKey(message.from)}`, plugin, request, channel))) return;
    await this.#run(plugin, request, channel);
  }

  /**
   * Local user `user` sent `message` to the system address: `/help`, `/plugins [on|off NAME]`, or
   * a plugin's command as its owner (to try it, or change its settings). Answered from there.
   */
  async system(user: PluginUser, message: ImEvent): Promise<void> {
    if (this.#closed) return;
    const channel = this.#systemChannel(user.address);
    const parsed = parseCommand(message.text);
    const plugin = parsed && this.#pluginFor(parsed.command, () => true);
    const request: PluginRequest | undefined = parsed && {
      from: user.address,
      user,
      origin: 'owner',
      ...parsed,
      message,
    };
    if (!(await this.#admit(`owner:${addressKey(user.address)}`, plugin, request, channel))) return;
    if (plugin && request) {
      await this.#run(plugin, request, channel);
      return;
    }
    let text: string;
    if (!parsed) text = 'This is your CrossTalk gateway. Send /help for what it understands.';
    else if (parsed.command === '/help') text = this.#help(user.address);
    else if (parsed.command === '/plugins') text = await this.#pluginsCommand(user.address, parsed.args);
    else text = `Unknown command ${parsed.command}. Send /help for the list.`;
    await channel.im({ text }).catch((error) => this.#undeliverable(error));
  }

  /** Stops every plugin run (their signals abort) and answers nothing more. */
  close(): void {
    this.#closed = true;
    for (const run of this.#running) run.abort(new Error('the gateway is shutting down'));
  }

  // ------------------------------------------------------------------ running a plugin

  /** The rate limit, per sender: the first refusal is answered, later ones dropped until it refills. */
  async #admit(
    key: string,
    plugin: Plugin | undefined,
    request: PluginRequest | undefined,
    channel: Channel,
  ): Promise<boolean> {
    const verdict = this.#limiter.take(key);
    if (verdict === 'allow') return true;
    if (plugin && request) this.#report(plugin, request, 'rate-limited', 'ERR_PLUGIN_RATE_LIMITED');
    if (verdict === 'refuse') {
      const what = request ? request.command : 'commands';
      await channel
        .im({ text: `Too many requests: try ${what} again in a minute.` })
        .catch((error) => this.#undeliverable(error));
    }
    return false;
  }

  async #run(plugin: Plugin, request: PluginRequest, channel: Channel): Promise<void> {
    const controller = new AbortController();
    this.#running.add(controller);
    const timer = setTimeout(
      () => controller.abort(new PluginTimeoutError(plugin.name, this.#timeout)),
      this.#timeout,
    );
    timer.unref();
    const ctx: PluginContext = {
      now: this.#o.now,
      signal: controller.signal,
      store: this.#storeFor(plugin.name, request.user.address),
      send: this.#extraSender(plugin, request, channel, controller.signal),
    };
    let reply: PluginReply | undefined;
    let outcome: PluginOutcome;
    let failure: unknown;
    try {
      const result = await Promise.race([
        // A plugin that throws synchronously is caught like one that rejects.
        (async () => plugin.handle(request, ctx))(),
        new Promise<never>((_, reject) => {
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
        }),
      ]);
      reply = checkReply(plugin.name, result, this.#maxReply);
      outcome = reply ? 'answered' : 'silent';
    } catch (error) {
      failure = error;
      outcome = outcomeOf(error);
      reply = { text: errorText(request.command, outcome) };
      this.#o.log.warn(
        { plugin: plugin.name, command: request.command, outcome, err: error },
        'a plugin did not answer',
      );
    } finally {
      clearTimeout(timer);
      // The request is over: anything the plugin still does is abandoned.
      controller.abort(new Error('the request is over'));
      this.#running.delete(controller);
    }
    if (this.#closed) return;
    if (reply) {
      try {
        await channel.im(reply);
      } catch (error) {
        this.#undeliverable(error);
        failure = error;
        outcome = 'undeliverable';
      }
    }
    this.#report(plugin, request, outcome, failure === undefined ? undefined : codeOf(failure));
  }

  /** `ctx.send`: more IMs or typing notices to the asker only, checked like replies, a few per request. */
  #extraSender(
    plugin: Plugin,
    request: PluginRequest,
    channel: Channel,
    signal: AbortSignal,
  ): PluginContext['send'] {
    let sent = 0;
    return async (event) => {
      if (signal.aborted)
        throw new InvalidPluginReplyError(`plugin ${plugin.name} sent after its request ended`);
      if (event.kind !== 'im' && event.kind !== 'typing')
        throw new InvalidPluginReplyError(`plugin ${plugin.name} may send IMs and typing notices only`);
      if (addressKey(event.to) !== addressKey(request.from))
        throw new InvalidPluginReplyError(`plugin ${plugin.name} may send only to who asked`);
      if (++sent > MAX_EXTRA_SENDS)
        throw new InvalidPluginReplyError(`plugin ${plugin.name} sent more than ${MAX_EXTRA_SENDS} events`);
      if (event.kind === 'typing') return channel.typing(event.state);
      const reply = checkReply(plugin.name, { text: event.text, html: event.html }, this.#maxReply);
      if (reply) await channel.im(reply);
    };
  }

  #buddyChannel(user: Address, asker: Address): Channel {
    return {
      im: (reply) => this.#o.send(this.#im(user, asker, reply)),
      typing: (state) => this.#o.send({ kind: 'typing', from: user, to: asker, state }),
    };
  }

  #systemChannel(user: Address): Channel {
    return {
      im: async (reply) => {
        if (!this.#o.deliver(this.#im(SYSTEM_ADDRESS, user, reply)))
          throw new InvalidPluginReplyError('no connection of the user could take the answer');
      },
      typing: async () => {},
    };
  }

  #im(from: Address, to: Address, reply: PluginReply): ImEvent {
    return {
      kind: 'im',
      id: `${PLUGIN_REPLY_ID_PREFIX}${this.#o.newId()}`,
      from,
      to,
      text: reply.text,
      ...(reply.html === undefined ? {} : { html: reply.html }),
      sentAt: this.#o.now(),
    };
  }

  #storeFor(plugin: string, user: Address): PluginStore {
    const key = addressKey(user);
    return {
      get: async (name) => this.#o.state.read()?.stores[plugin]?.[key]?.[name],
      set: async (name, value) => {
        const current = this.#o.state.read()?.stores[plugin]?.[key] ?? {};
        if (name.length === 0 || name.length > PLUGIN_STORE_LIMITS.keyLength)
          throw new PluginStoreFullError(`store keys are 1 to ${PLUGIN_STORE_LIMITS.keyLength} characters`);
        if (value !== undefined && value.length > PLUGIN_STORE_LIMITS.valueLength)
          throw new PluginStoreFullError(
            `store values are at most ${PLUGIN_STORE_LIMITS.valueLength} characters`,
          );
        if (
          value !== undefined &&
          !(name in current) &&
          Object.keys(current).length >= PLUGIN_STORE_LIMITS.keys
        )
          throw new PluginStoreFullError(`a plugin keeps at most ${PLUGIN_STORE_LIMITS.keys} keys per user`);
        await this.#o.state.update((s) => {
          s.stores[plugin] ??= {};
          const stores = s.stores[plugin];
          const own = { ...stores[key] };
          if (value === undefined) delete own[name];
          else own[name] = value;
          if (Object.keys(own).length === 0) delete stores[key];
          else stores[key] = own;
        });
      },
    };
  }

  /** The plugin that answers `command`: the highest priority among those `allowed`, then by name. */
  #pluginFor(command: string, allowed: (p: Plugin) => boolean): Plugin | undefined {
    let best: Plugin | undefined;
    for (const p of this.#byName.values()) {
      if (!p.commands.includes(command) || !allowed(p)) continue;
      if (!best || p.priority > best.priority || (p.priority === best.priority && p.name < best.name))
        best = p;
    }
    return best;
  }

  #report(plugin: Plugin, request: PluginRequest, outcome: PluginOutcome, error?: string): void {
    this.#o.report({
      plugin: plugin.name,
      command: request.command,
      user: request.user.address,
      from: request.from,
      origin: request.origin,
      outcome,
      ...(error === undefined ? {} : { error }),
    });
  }

  #undeliverable(error: unknown): void {
    this.#o.log.info({ reason: codeOf(error) }, 'a plugin answer was undeliverable');
  }

  // ------------------------------------------------------------------ the system address

  #help(user: Address): string {
    const lines = [
      'CrossTalk gateway commands (send them to this address):',
      '/plugins: the plugins here, and which you have on',
      '/plugins on NAME, /plugins off NAME: let buddies use a plugin, or stop them',
      '/help: this list',
    ];
    if (this.#byName.size) {
      lines.push(
        'A buddy on any network sends you a command; send it here to try it or change its settings:',
      );
      for (const p of this.plugins)
        lines.push(
          `${p.commands.join(', ')} (${p.name}, ${this.isEnabled(user, p.name) ? 'on' : 'off'}): ${p.description}`,
        );
    }
    return lines.join('\n');
  }

  async #pluginsCommand(user: Address, args: string): Promise<string> {
    if (this.#byName.size === 0) return 'This gateway has no plugins.';
    const [verb, target] = args.toLowerCase().split(/\s+/, 2);
    if (!verb || verb === 'list') {
      return [
        'Plugins on this gateway:',
        ...this.plugins.map(
          (p) =>
            `${p.name} (${p.commands.join(', ')}): ${this.isEnabled(user, p.name) ? 'on' : 'off'}. ${p.description}`,
        ),
        'Send /plugins on NAME or /plugins off NAME.',
      ].join('\n');
    }
    if ((verb !== 'on' && verb !== 'off') || !target)
      return 'Send /plugins, /plugins on NAME or /plugins off NAME.';
    const plugin = this.#byName.get(target.replace(/^\//, '')) ?? this.#pluginFor(target, () => true);
    if (!plugin) return `No plugin is named ${target}. Send /plugins for the list.`;
    await this.setEnabled(user, plugin.name, verb === 'on');
    const commands = plugin.commands.join(' or ');
    return verb === 'on'
      ? `${plugin.name} is on: buddies who send you ${commands} get an answer.`
      : `${plugin.name} is off: buddies who send you ${commands} get no answer.`;
  }
}

function outcomeOf(error: unknown): PluginOutcome {
  if (isCrossTalkError(error, 'ERR_PLUGIN_TIMEOUT')) return 'timeout';
  if (isCrossTalkError(error, 'ERR_PLUGIN_REPLY_TOO_LONG')) return 'reply-too-long';
  if (isCrossTalkError(error, 'ERR_INVALID_PLUGIN_REPLY')) return 'invalid-reply';
  return 'failed';
}

/** The short reply the asker gets instead of an answer. */
function errorText(command: string, outcome: PluginOutcome): string {
  switch (outcome) {
    case 'timeout':
      return `${command} could not answer in time.`;
    case 'reply-too-long':
      return `${command} could not answer (its answer was too long).`;
    case 'invalid-reply':
      return `${command} could not answer (its answer could not be sent).`;
    default:
      return `${command} could not answer (the plugin failed).`;
  }
}

function codeOf(error: unknown): string {
  if (isCrossTalkError(error)) return error.code;
  return error instanceof Error ? error.message : String(error);
}
