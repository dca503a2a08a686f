import { isIP } from 'node:net';
import type { Plugin } from '@crosstalk/core';
import { type GatewayConfig, InvalidConfigError } from '@crosstalk/gateway';
import { lastfmProvider, locationPlugin, mpdProvider, musicPlugin } from '@crosstalk/plugins';
import { z } from 'zod';

/** The plugins the `crosstalk` command can run, by the name used in `--plugin` and the config file. */
export const BUILT_IN_PLUGINS = ['location', 'music'] as const;

const enabledFor = z.array(z.string()).optional();
const ip = z.string().refine((v) => isIP(v) !== 0, 'expected an IP address');
const MpdServer = z
  .object({
    host: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    password: z.string().optional(),
  })
  .strict();

const LocationEntry = z
  .object({
    name: z.literal('location'),
    enabledFor,
    /** MaxMind DB files; default: the DB-IP city database the CLI installs. */
    database: z.object({ ipv4: z.string(), ipv6: z.string().optional() }).strict().optional(),
    /** Client address -> the address to look up (a NAT, a test on loopback). */
    addressMap: z.record(ip, ip).optional(),
    language: z.string().optional(),
  })
  .strict();

const MusicEntry = z
  .object({
    name: z.literal('music'),
    enabledFor,
    provider: z.enum(['mpd', 'lastfm']).default('mpd'),
    /** MPD: one server for everyone, or one per user (`users`). Default 127.0.0.1:6600. */
    mpd: MpdServer.extend({ users: z.record(z.string(), MpdServer).optional() })
      .strict()
      .optional(),
    lastfm: z
      .object({
        /** Your API key; default the LASTFM_API_KEY environment variable. */
        apiKey: z.string().min(1).optional(),
        /** Last.fm user names by address (users can also set theirs: `/music lastfm NAME`). */
        users: z.record(z.string(), z.string()).optional(),
        baseUrl: z.url().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const PluginEntry = z.discriminatedUnion('name', [LocationEntry, MusicEntry]);

/**
 * The config file's `plugins` entries (and `--plugin NAME` flags, as `{ name }` entries) as plugins
 * and who has each on. Throws `InvalidConfigError` naming the entry and field that is wrong.
 */
export function pluginsFromConfig(
  entries: GatewayConfig['plugins'],
  env: NodeJS.ProcessEnv = process.env,
): { plugins: Plugin[]; enabledFor: Record<string, string[]> } {
  const plugins: Plugin[] = [];
  const enabled: Record<string, string[]> = {};
  entries.forEach((raw, i) => {
    if (!(BUILT_IN_PLUGINS as readonly string[]).includes(raw.name))
      throw new InvalidConfigError(
        `plugins[${i}].name: unknown plugin "${raw.name}"; the crosstalk command knows ${BUILT_IN_PLUGINS.join(', ')}`,
      );
    const parsed = PluginEntry.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidConfigError(`plugins[${i}].${issue.path.join('.')}: ${issue.message}`);
    }
    const entry = parsed.data;
    if (plugins.some((p) => p.name === entry.name))
      throw new InvalidConfigError(`plugins[${i}]: ${entry.name} is listed twice`);
    if (entry.enabledFor) enabled[entry.name] = entry.enabledFor;
    if (entry.name === 'location') {
      plugins.push(
        locationPlugin({
          ...(entry.database ? { database: entry.database } : {}),
          ...(entry.addressMap ? { addressMap: entry.addressMap } : {}),
          ...(entry.language ? { language: entry.language } : {}),
        }),
      );
      return;
    }
    if (entry.provider === 'mpd') {
      plugins.push(musicPlugin({ provider: mpdProvider(entry.mpd ?? {}) }));
      return;
    }
    const apiKey = entry.lastfm?.apiKey ?? env.LASTFM_API_KEY;
    if (!apiKey)
      throw new InvalidConfigError(
        `plugins[${i}].lastfm.apiKey: the Last.fm provider needs an API key (or LASTFM_API_KEY in the environment)`,
      );
    plugins.push(
      musicPlugin({
        provider: lastfmProvider({
          apiKey,
          ...(entry.lastfm?.users ? { users: entry.lastfm.users } : {}),
          ...(entry.lastfm?.baseUrl ? { baseUrl: entry.lastfm.baseUrl } : {}),
        }),
      }),
    );
  });
  return { plugins, enabledFor: enabled };
}
