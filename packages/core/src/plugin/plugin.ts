import type { Address } from '../address/address.js';
import { InvalidPluginError } from '../errors/errors.js';
import type { CanonicalEvent, ImEvent } from '../model/events.js';

/**
 * Command plugins (`/location`, `/music`): a user of any native client sends an IM whose text
 * starts with the command, and the gateway answers with the plugin's reply as an IM. Plugins are
 * registered on a gateway and answer only for users who enabled them.
 */
export const pluginSymbol: unique symbol = Symbol.for('@crosstalk/plugin') as never;

/** A command a user sent to a plugin. */
export interface PluginRequest {
  /** The verified user who sent the command. */
  from: Address;
  /** The command word without arguments, e.g. `/location`. */
  command: string;
  /** Everything after the command, trimmed. */
  args: string;
  /** The IM that carried the command. */
  message: ImEvent;
}

/**
 * What the gateway gives a plugin while it answers: a clock, sending on the user's behalf, and a small store.
 */
export interface PluginContext {
  now(): number;
  /** Sends an event on the user's behalf (validated by the host before it leaves). */
  send(event: CanonicalEvent): Promise<void>;
  /** The plugin's own small key/value store, scoped to one user. */
  store: {
    get(key: string): Promise<string | undefined>;
    set(key: string, value: string): Promise<void>;
  };
  /** Aborted when the gateway stops waiting for the answer. */
  signal: AbortSignal;
}

/** A plugin's answer, sent back to the user as an IM. */
export interface PluginReply {
  /** The reply as plain text. */
  text: string;
  /** The reply with formatting, as XHTML-IM-style markup. */
  html?: string;
}

/** What `definePlugin` takes: the plugin's name, commands, description and handler. */
export interface PluginInit {
  /** The plugin's id, lower case. */
  name: string;
  /** Commands this plugin answers, each starting with `/`. */
  commands: readonly string[];
  /** One line saying what the plugin does. */
  description: string;
  /** Which plugin answers when two claim the same command; higher wins. Never registration order. */
  priority?: number;
  /** Answers a command; undefined for no reply. */
  handle(request: PluginRequest, ctx: PluginContext): Promise<PluginReply | undefined>;
}

/** A plugin made by `definePlugin`, branded so `isPlugin` recognises it. */
export interface Plugin extends Readonly<PluginInit> {
  readonly [pluginSymbol]: true;
  readonly priority: number;
}

/**
 * Checks a plugin definition (a lower-case name, commands starting with `/`) and brands it; throws
 * `InvalidPluginError`.
 */
export function definePlugin(init: PluginInit): Plugin {
  if (!/^[a-z][a-z0-9-]*$/.test(init.name))
    throw new InvalidPluginError(`plugin name "${init.name}" must be a lower-case id`);
  if (init.commands.length === 0) throw new InvalidPluginError(`plugin ${init.name} declares no commands`);
  for (const c of init.commands) {
    if (!/^\/[a-z][a-z0-9-]*$/.test(c))
      throw new InvalidPluginError(`plugin ${init.name}: command "${c}" must look like /word`);
  }
  if (typeof init.handle !== 'function') throw new InvalidPluginError(`plugin ${init.name} lacks handle()`);
  return Object.freeze({ ...init, priority: init.priority ?? 0, [pluginSymbol]: true as const });
}

/**
 * True for a plugin made by `definePlugin` (by its brand, so one from another copy of this package counts
 * too).
 */
export function isPlugin(value: unknown): value is Plugin {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[pluginSymbol] === true
  );
}

/** Splits `/cmd args` into its parts, or undefined when the text is not a command. */
export function parseCommand(text: string): { command: string; args: string } | undefined {
  const match = /^(\/[a-z][a-z0-9-]*)(?:\s+([\s\S]*))?$/i.exec(text.trim());
  if (!match) return undefined;
  return { command: match[1]!.toLowerCase(), args: (match[2] ?? '').trim() };
}
