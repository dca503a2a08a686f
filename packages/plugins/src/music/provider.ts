import type { PluginStore, PluginUser } from '@crosstalk/core';

/** A song as a music source reports it. */
export interface Track {
  /** The song's title. */
  title: string;
  /** Who performs it, when the source knows. */
  artist?: string;
  /** The album it is on, when the source knows. */
  album?: string;
  /**
   * `playing` now, `paused`, or `played` (the source knows only the last song played, as
   * Last.fm does when nothing is scrobbling now; `playedAt` says when).
   */
  state: 'playing' | 'paused' | 'played';
  /** ms since the epoch, for `played`. */
  playedAt?: number;
}

/** What a provider may use to answer for one user. */
export interface MusicRequest {
  /** The user whose music is asked about (the one the plugin answers for). */
  user: PluginUser;
  /** The music plugin's store for this user (a provider keeps e.g. the user's Last.fm name here). */
  store: PluginStore;
  /** Aborted when the plugin's deadline passes: stop asking, close connections. */
  signal: AbortSignal;
}

/**
 * Where `/music` learns what a user is listening to. `mpdProvider` asks a Music Player Daemon,
 * `lastfmProvider` asks Last.fm; write your own for any other source.
 */
export interface MusicProvider {
  /** A short id, shown in `/music` settings (`mpd`, `lastfm`). */
  readonly name: string;
  /**
   * The user's current (or last) song, or undefined when they are not listening or the source
   * knows nothing of them. Throws `MusicSourceError` (or any error) when the source cannot be asked.
   */
  nowPlaying(request: MusicRequest): Promise<Track | undefined>;
  /**
   * Handles the owner's `/music <args>` settings that belong to this provider (`/music lastfm
   * NAME`): resolves to the reply, or undefined when the arguments are not this provider's.
   */
  configure?(args: string, request: MusicRequest): Promise<string | undefined>;
  /** Settings help, one line, for `/music` sent by the owner. */
  readonly settingsHelp?: string;
}
