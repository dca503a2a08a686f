import { definePlugin, isCrossTalkError, type Plugin } from '@crosstalk/core';
import { clip, nameOf } from '../text/text.js';
import type { MusicProvider, MusicRequest, Track } from './provider.js';

/** What `musicPlugin` takes: where it learns what a user is listening to. */
export interface MusicPluginOptions {
  /** The music source (`mpdProvider`, `lastfmProvider`, or your own). */
  provider: MusicProvider;
  /** Which plugin answers `/music` when two claim it; default 0. */
  priority?: number;
}

function song(track: Track): string {
  const title = clip(track.title);
  const main = track.artist ? `${clip(track.artist)} – ${title}` : title;
  return track.album ? `${main} (${clip(track.album)})` : main;
}

/**
 * `/music`: what the user is listening to, from a `MusicProvider` (an MPD server, Last.fm, your
 * own). The user may hide it or show it again, by IM to the gateway's system address: `/music off`,
 * `/music on`, plus what the provider adds (`/music lastfm NAME`).
 */
export function musicPlugin(options: MusicPluginOptions): Plugin {
  const { provider } = options;

  async function answer(name: string, request: MusicRequest, now: number): Promise<string> {
    if ((await request.store.get('hidden')) === 'yes') return `${name} does not share what they listen to.`;
    let track: Track | undefined;
    try {
      track = await provider.nowPlaying(request);
    } catch (error) {
      // The host's deadline passed: let it say so. Anything else is the source's trouble, said here.
      if (request.signal.aborted) throw error;
      const why = isCrossTalkError(error) && error.isRetryable ? ' right now' : '';
      return `${name}'s music (${provider.name}) cannot be reached${why}.`;
    }
    if (!track) return `${name} is not listening to anything.`;
    switch (track.state) {
      case 'playing':
        return `${name} is listening to ${song(track)}.`;
      case 'paused':
        return `${name} paused ${song(track)}.`;
      default:
        return `${name} last listened to ${song(track)}${track.playedAt ? ` (${ago(track.playedAt, now)})` : ''}.`;
    }
  }

  return definePlugin({
    name: 'music',
    commands: ['/music'],
    description: `What you are listening to (${provider.name}).`,
    priority: options.priority ?? 0,
    async handle(request, ctx) {
      const music: MusicRequest = { user: request.user, store: ctx.store, signal: ctx.signal };
      const name = nameOf(request.user.address);
      if (request.origin === 'buddy') return { text: await answer(name, music, ctx.now()) };
      const verb = request.args.split(/\s+/, 1)[0]!.toLowerCase();
      if (verb === 'off' || verb === 'hide') {
        await ctx.store.set('hidden', 'yes');
        return { text: 'Your music is hidden: buddies who send /music are told you do not share it.' };
      }
      if (verb === 'on' || verb === 'show') {
        await ctx.store.set('hidden', undefined);
        return {
          text: `Buddies who send /music see your music again: ${await answer(name, music, ctx.now())}`,
        };
      }
      if (verb) {
        const reply = await provider.configure?.(request.args, music);
        if (reply !== undefined) return { text: reply };
        return {
          text: `Send /music, /music off or /music on${provider.settingsHelp ? `; ${provider.settingsHelp}` : ''}.`,
        };
      }
      return {
        text:
          `Buddies who send you /music are told: ${await answer(name, music, ctx.now())}\n` +
          `Hide it with /music off, show it with /music on${provider.settingsHelp ? `; ${provider.settingsHelp}` : ''}.`,
      };
    },
  });
}

/** "5 minutes ago", for a song Last.fm says was played earlier. */
function ago(then: number, now: number): string {
  const minutes = Math.max(0, Math.round((now - then) / 60_000));
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  return `${Math.round(hours / 24)} days ago`;
}
