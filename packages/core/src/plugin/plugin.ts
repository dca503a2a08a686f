import type { Address } from '../address/address.js';
import { SYSTEM_NETWORK } from '../address/networks.js';
import { InvalidPluginError } from '../errors/errors.js';
import type { CanonicalEvent, ImEvent } from '../model/events.js';

/**
 * Command plugins (`/location`, `/music`): the plugin at Y (the paper's §3.4). A buddy of Y on any
 * network sends Y an IM whose text starts with a command Y enabled; Y's gateway delivers it to Y
 * as usual, runs the plugin and answers the buddy on Y's behalf with the plugin's reply, an
 * ordinary IM. Y configures plugins by IM too, through the gateway's system address
 * (`SYSTEM_ADDRESS`). One plugin serves every network and every way into the engine.
 */
export const pluginSymbol: unique symbol = Symbol.for('@crosstalk/plugin') as never;

/** The user a command was sent to: the plugin answers on their behalf and reads their settings. */
export interface PluginUser {
  /** The user's own address, on the network their client is logged in to. */
  address: Address;
  /** The protocol their client speaks (`oscar`, `ymsg`, `msnp`, `xmpp`, ...), when known. */
  protocol?: string;
  /**
   * Where their client connects from: the remote IP of its connection to the gateway (for the
   * SOCKS front, the SOCKS client's address), when known. `/location` looks it up.
   */
  clientAddress?: string;
}

/** A command a user sent to a plugin. */
export interface PluginRequest {
  /**
   * Who asked: a buddy of `user` (on any network, its gateway vouched for it), or `user`
   * themselves when `origin` is `owner`.
   */
  from: Address;
  /** Whose behalf the plugin answers on. */
  user: PluginUser;
  /**
   * `buddy`: a buddy sent the command to `user`; `owner`: `user` sent it to the gateway's system
   * address, to see or change their own settings (`/location set San Diego`). Only the owner may
   * change settings.
   */
  origin: 'buddy' | 'owner';
  /** The command word without arguments, e.g. `/location`. */
  command: string;
  /** Everything after the command, trimmed. */
  args: string;
  /** The IM that carried the command. */
  message: ImEvent;
}

/** One user's small key/value store for one plugin, kept with the gateway's hard state. */
export interface PluginStore {
  /** The value stored under `key`, or undefined when there is none. */
  get(key: string): Promise<string | undefined>;
  /** Stores a value; `undefined` removes the key. Throws `PluginStoreFullError` past the host's caps. */
  set(key: string, value: string | undefined): Promise<void>;
}

/**
 * What the gateway gives a plugin while it answers: a clock, sending on the user's behalf, and a small store.
 */
export interface PluginContext {
  now(): number;
  /**
   * Sends another IM (or typing notice) to the asker on the user's behalf, besides the reply:
   * the host stamps the user as the sender, checks it like a reply, and refuses other recipients.
   */
  send(event: CanonicalEvent): Promise<void>;
  /** The plugin's own small key/value store, scoped to the user it answers for. */
  store: PluginStore;
  /** Aborted when the host stops waiting (its timeout) or shuts down: stop work, close sockets. */
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

/** Names the host reserves for its own commands (`/plugins`, `/help`). */
const RESERVED_COMMANDS = new Set(['/plugins', '/help']);

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
    if (RESERVED_COMMANDS.has(c))
      throw new InvalidPluginError(`plugin ${init.name}: ${c} is the gateway's own command`);
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

/** The gateway's own address, `crosstalk@crosstalk`: users IM it `/plugins`, `/help` and plugin settings. */
export const SYSTEM_ADDRESS: Address = Object.freeze({ user: 'crosstalk', network: SYSTEM_NETWORK });

/** True for an address on the gateway's own network (`SYSTEM_ADDRESS`'s), whatever its user part. */
export function isSystemAddress(a: Address): boolean {
  return a.network.toLowerCase() === SYSTEM_NETWORK;
}

/**
 * Ids of IMs a plugin host sent (answers, error notes) start with this, and a host never answers
 * such an IM, so two users' plugins cannot answer each other forever. The id travels between
 * gateways with the event (both canonical forms keep it).
 */
export const PLUGIN_REPLY_ID_PREFIX = 'ct-plugin-';

/** True for an IM a plugin host sent (its id starts with `PLUGIN_REPLY_ID_PREFIX`): never answered. */
export function isPluginReply(event: ImEvent): boolean {
  return event.id.startsWith(PLUGIN_REPLY_ID_PREFIX);
}
