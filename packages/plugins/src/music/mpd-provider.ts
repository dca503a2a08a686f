import { addressKey, parseAddress } from '@crosstalk/core';
import mpd from 'mpd2';
import { MusicSourceError } from '../errors/errors.js';
import { abortable } from './abortable.js';
import type { MusicProvider, Track } from './provider.js';

/** Where a Music Player Daemon listens. */
export interface MpdServer {
  /** Host name or address; default 127.0.0.1. */
  host?: string;
  /** Default 6600 (MPD's own). */
  port?: number;
  /** Sent with MPD's `password` command after connecting, when the server wants one. */
  password?: string;
}

/** What `mpdProvider` takes: one MPD for every user (`host`, `port`, `password`), or one per user. */
export interface MpdProviderOptions extends MpdServer {
  /**
   * One server per user (address to server). When given, only the users listed have an MPD;
   * otherwise every user's is `host:port` (one household, one player).
   */
  users?: Readonly<Record<string, MpdServer>>;
  /**
   * ms to wait for MPD's greeting (default 3000). The plugin's deadline applies too, but a
   * connection mpd2 is still opening is only closed when this passes.
   */
  connectTimeout?: number;
}

type MpdClient = Awaited<ReturnType<typeof mpd.connect>>;

/** MPD answers `key: value` lines (MPD protocol, "Responses"); the first value of each key, keys lower-cased. */
function readPairs(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf(': ');
    if (at <= 0) continue;
    const key = line.slice(0, at).toLowerCase();
    if (!pairs.has(key)) pairs.set(key, line.slice(at + 2));
  }
  return pairs;
}

/**
 * What a Music Player Daemon is playing, asked with `mpd2`: `status` for play/pause/stop and
 * `currentsong` for the tags (MPD protocol, "Querying MPD's status"). One short connection per
 * question, closed at once, or as soon as the plugin's deadline passes.
 */
export function mpdProvider(options: MpdProviderOptions = {}): MusicProvider {
  const fallback: MpdServer | undefined = options.users ? undefined : options;
  const perUser = new Map(
    Object.entries(options.users ?? {}).map(([user, server]) => [addressKey(parseAddress(user)), server]),
  );
  const connectTimeout = options.connectTimeout ?? 3000;

  async function connect(server: MpdServer, signal: AbortSignal): Promise<MpdClient> {
    const config = {
      host: server.host ?? '127.0.0.1',
      port: server.port ?? 6600,
      timeout: connectTimeout,
      ...(server.password ? { password: server.password } : {}),
    };
    const connecting = mpd.connect(config);
    // A connection that completes after the deadline is closed as soon as it does.
    signal.addEventListener('abort', () => void connecting.then((c) => c.disconnect()).catch(() => {}), {
      once: true,
    });
    try {
      return await abortable(connecting, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new MusicSourceError(`MPD at ${config.host}:${config.port}: ${describe(error)}`, {
        cause: error,
      });
    }
  }

  return {
    name: 'mpd',
    async nowPlaying({ user, signal }) {
      const server = perUser.get(addressKey(user.address)) ?? fallback;
      if (!server) return undefined;
      const client = await connect(server, signal);
      try {
        const ask = (command: string) =>
          abortable(client.sendCommand(command), signal, () => client.socket.destroy()).catch((error) => {
            if (signal.aborted) throw error;
            throw new MusicSourceError(`MPD refused ${command}: ${describe(error)}`, { cause: error });
          });
        const status = readPairs(await ask('status'));
        const state = status.get('state');
        if (state !== 'play' && state !== 'pause') return undefined;
        const song = readPairs(await ask('currentsong'));
        const file = song.get('file');
        const title = song.get('title') ?? song.get('name') ?? file?.slice(file.lastIndexOf('/') + 1);
        if (!title) return undefined;
        const artist = song.get('artist') ?? song.get('albumartist');
        const album = song.get('album');
        const track: Track = {
          title,
          state: state === 'play' ? 'playing' : 'paused',
          ...(artist ? { artist } : {}),
          ...(album ? { album } : {}),
        };
        return track;
      } finally {
        await client.disconnect().catch(() => {});
      }
    },
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
