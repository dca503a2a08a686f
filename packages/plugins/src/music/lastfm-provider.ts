import { addressKey, parseAddress } from '@crosstalk/core';
import { z } from 'zod';
import { InvalidLastfmResponseError, LastfmApiError, MusicSourceError } from '../errors/errors.js';
import type { MusicProvider, Track } from './provider.js';

/** What `lastfmProvider` takes: an API key and, optionally, users' Last.fm names. */
export interface LastfmProviderOptions {
  /** Your Last.fm API key (last.fm/api/account/create). */
  apiKey: string;
  /** Last.fm user names by address, for users who have not set theirs (`/music lastfm NAME`). */
  users?: Readonly<Record<string, string>>;
  /** The `fetch` to use (tests pass one that answers from a recorded response). Default: global fetch. */
  fetch?: typeof globalThis.fetch;
  /** The API root; default `https://ws.audioscrobbler.com/2.0/`. */
  baseUrl?: string;
  /** Largest answer read, bytes (default 256 KiB); a larger one is refused. */
  maxBytes?: number;
}

const DEFAULT_BASE_URL = 'https://ws.audioscrobbler.com/2.0/';

/** Last.fm user names: 2 to 15 characters, a letter first, then letters, digits, `_` and `-`. */
const LASTFM_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,14}$/;

const Text = z.object({ '#text': z.string() });
const RecentTrack = z.object({
  name: z.string(),
  artist: z.union([Text, z.object({ name: z.string() })]),
  album: Text.optional(),
  '@attr': z.object({ nowplaying: z.string() }).optional(),
  date: z.object({ uts: z.string() }).optional(),
});
/** `user.getRecentTracks` in JSON (last.fm/api/show/user.getRecentTracks); one track comes as an object. */
const RecentTracksResponse = z.object({
  recenttracks: z.object({ track: z.union([z.array(RecentTrack), RecentTrack]) }),
});
const ErrorResponse = z.object({ error: z.number(), message: z.string() });

/**
 * What a user last scrobbled to Last.fm, from `user.getRecentTracks`: the track marked
 * `nowplaying`, else the most recent one (`played`, with its date). The user names themselves
 * with `/music lastfm NAME` (kept in the plugin's store), or the operator maps addresses.
 */
export function lastfmProvider(options: LastfmProviderOptions): MusicProvider {
  const fetch = options.fetch ?? globalThis.fetch;
  const base = options.baseUrl ?? DEFAULT_BASE_URL;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const mapped = new Map(
    Object.entries(options.users ?? {}).map(([user, name]) => [addressKey(parseAddress(user)), name]),
  );

  async function recentTracks(name: string, signal: AbortSignal): Promise<unknown> {
    const url = new URL(base);
    url.search = new URLSearchParams({
      method: 'user.getrecenttracks',
      user: name,
      api_key: options.apiKey,
      format: 'json',
      limit: '1',
    }).toString();
    let response: Response;
    try {
      response = await fetch(url, { signal, headers: { accept: 'application/json' } });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new MusicSourceError(`Last.fm could not be reached: ${String(error)}`, { cause: error });
    }
    const text = await readCapped(response, maxBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidLastfmResponseError(`Last.fm answered HTTP ${response.status} without JSON`);
    }
    // Errors come as { error, message }, with a 4xx/5xx status or a 200 (last.fm/api/errorcodes).
    const failed = ErrorResponse.safeParse(json);
    if (failed.success) throw new LastfmApiError(failed.data.error, failed.data.message);
    if (!response.ok) throw new InvalidLastfmResponseError(`Last.fm answered HTTP ${response.status}`);
    return json;
  }

  return {
    name: 'lastfm',
    settingsHelp: 'set your Last.fm name with /music lastfm NAME',
    async nowPlaying({ user, store, signal }) {
      const name = (await store.get('lastfm.user')) ?? mapped.get(addressKey(user.address));
      if (!name) return undefined;
      const parsed = RecentTracksResponse.safeParse(await recentTracks(name, signal));
      if (!parsed.success)
        throw new InvalidLastfmResponseError(
          `Last.fm's recent tracks are not as documented: ${parsed.error.issues[0]?.message}`,
        );
      const tracks = [parsed.data.recenttracks.track].flat();
      const now = tracks.find((t) => t['@attr']?.nowplaying === 'true');
      const track = now ?? tracks[0];
      if (!track) return undefined;
      const artist = '#text' in track.artist ? track.artist['#text'] : track.artist.name;
      const album = track.album?.['#text'];
      const playedAt = track.date ? Number(track.date.uts) * 1000 : undefined;
      const result: Track = {
        title: track.name,
        state: now ? 'playing' : 'played',
        ...(artist ? { artist } : {}),
        ...(album ? { album } : {}),
        ...(!now && playedAt !== undefined && Number.isFinite(playedAt) ? { playedAt } : {}),
      };
      return result;
    },
    async configure(args, { store }) {
      const [verb, name] = args.split(/\s+/);
      if (verb?.toLowerCase() !== 'lastfm') return undefined;
      if (!name) {
        const current = await store.get('lastfm.user');
        return current
          ? `Your Last.fm name here is ${current}.`
          : 'Set your Last.fm name: /music lastfm NAME';
      }
      if (!LASTFM_NAME.test(name)) return `${name} is not a Last.fm user name.`;
      await store.set('lastfm.user', name);
      return `Your Last.fm name here is now ${name}: /music shows what you scrobble.`;
    },
  };
}

/** The body as text, refused past `max` bytes (counted as they arrive, whatever Content-Length says). */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > max) {
    await response.body?.cancel().catch(() => {});
    throw new InvalidLastfmResponseError(`Last.fm's answer is ${declared} bytes; at most ${max} are read`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new InvalidLastfmResponseError(`Last.fm's answer is over ${max} bytes`);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new InvalidLastfmResponseError("Last.fm's answer is not UTF-8");
  }
}
