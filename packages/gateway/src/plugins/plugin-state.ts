import { z } from 'zod';

/**
 * What the plugin host keeps with the gateway's hard state (the state file's optional `plugins`
 * section; files written before it existed load without it): each user's own choices of plugins
 * and each plugin's per-user store. Keys are user keys (`addressKey`) and plugin names.
 */
export const PluginStateSchema = z.object({
  /** A user's `/plugins on|off` choices, by user key then plugin name; absent: the configured default. */
  enabled: z.record(z.string(), z.record(z.string(), z.boolean())),
  /** Each plugin's store: plugin name, then user key, then the plugin's own keys. */
  stores: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.string()))),
});

/** The plugin host's section of the hard state: users' plugin choices and plugins' per-user stores. */
export type PluginState = z.infer<typeof PluginStateSchema>;

export function emptyPluginState(): PluginState {
  return { enabled: {}, stores: {} };
}

/** Caps on one user's store for one plugin: a plugin keeps settings here, not data. */
export const PLUGIN_STORE_LIMITS = {
  /** Keys one user's store holds at most. */
  keys: 32,
  /** Longest key, UTF-16 code units. */
  keyLength: 64,
  /** Longest value, UTF-16 code units. */
  valueLength: 1024,
} as const;
