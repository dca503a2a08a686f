import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { isCrossTalkError } from '@crosstalk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastfmProvider, mpdProvider, musicPlugin } from '../src/index.js';
import {
  RECENT_TRACKS_LAST_PLAYED,
  RECENT_TRACKS_NOW_PLAYING,
  startLastfmServer,
  startMpd,
  type TestMpd,
} from '../src/testing/index.js';
import { ask, context } from './support.js';

const bob = { address: { user: 'bob', network: 'yahoo' } };
const music = (signal = new AbortController().signal) => ({
  user: bob,
  store: context().store,
  signal,
});

describe('mpdProvider against a real mpd', () => {
  let mpd: TestMpd;
  beforeAll(async () => {
    mpd = await startMpd({
      tracks: [
        { artist: 'The Testers', title: 'Loopback Blues', album: '127.0.0.1' },
        { artist: 'Sine Wave Quartet', title: '440 Hz' },
      ],
    });
  }, 60_000);
  afterAll(() => mpd?.stop());

  it('reads the current song and whether it plays', async () => {
    const provider = mpdProvider({ port: mpd.port });
    await mpd.play(0);
    expect(await provider.nowPlaying(music())).toEqual({
      title: 'Loopback Blues',
      artist: 'The Testers',
      album: '127.0.0.1',
      state: 'playing',
    });
    await mpd.play(1);
    expect(await provider.nowPlaying(music())).toEqual({
      title: '440 Hz',
      artist: 'Sine Wave Quartet',
      state: 'playing',
    });
    await mpd.pause();
    expect((await provider.nowPlaying(music()))?.state).toBe('paused');
    await mpd.stopPlayback();
    expect(await provider.nowPlaying(music())).toBeUndefined();
  });

  it('the plugin says it in a sentence, and the owner can hide it', async () => {
    const plugin = musicPlugin({ provider: mpdProvider({ port: mpd.port }) });
    const store = new Map<string, string>();
    await mpd.play(0);
    expect(await ask(plugin, '/music', { ctx: context(store) })).toEqual({
      text: 'bob is listening to The Testers – Loopback Blues (127.0.0.1).',
    });
    expect((await ask(plugin, '/music off', { origin: 'owner', ctx: context(store) }))?.text).toMatch(
      /hidden/,
    );
    expect(await ask(plugin, '/music', { ctx: context(store) })).toEqual({
      text: 'bob does not share what they listen to.',
    });
    expect((await ask(plugin, '/music on', { origin: 'owner', ctx: context(store) }))?.text).toBe(
      'Buddies who send /music see your music again: bob is listening to The Testers – Loopback Blues (127.0.0.1).',
    );
    await mpd.stopPlayback();
    expect(await ask(plugin, '/music', { ctx: context(store) })).toEqual({
      text: 'bob is not listening to anything.',
    });
  });

  it('per-user servers: a user with none has no music', async () => {
    const provider = mpdProvider({ users: { 'carol@aol': { port: mpd.port } } });
    await mpd.play(0);
    expect(await provider.nowPlaying(music())).toBeUndefined();
    const carol = { ...music(), user: { address: { user: 'Carol', network: 'aol' } } };
    expect((await provider.nowPlaying(carol))?.title).toBe('Loopback Blues');
  });
});

describe('mpdProvider when mpd is not there', () => {
  it('a closed port is a typed, retryable error, and the plugin says the music cannot be reached', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    const error = await mpdProvider({ port })
      .nowPlaying(music())
      .catch((e: unknown) => e);
    expect(isCrossTalkError(error, 'ERR_MUSIC_SOURCE')).toBe(true);
    expect(await ask(musicPlugin({ provider: mpdProvider({ port }) }), '/music', {})).toEqual({
      text: "bob's music (mpd) cannot be reached right now.",
    });
  });

  it('a server that never answers is left when the signal aborts, its socket closed', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    const controller = new AbortController();
    const asking = mpdProvider({ port, connectTimeout: 300 }).nowPlaying(music(controller.signal));
    while (sockets.length === 0) await new Promise((r) => setTimeout(r, 5));
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(asking).rejects.toBe(reason);
    // The provider lets go of the connection: mpd2 cannot cancel a connection it is opening, so it
    // closes when the connect timeout passes, and the silent server sees it close.
    await once(sockets[0]!, 'close');
    silent.close();
  });
});

describe('lastfmProvider', () => {
  const apiKey = 'test-key';

  it('asks user.getRecentTracks over HTTP (a server on loopback) and reads the track now playing', async () => {
    const server = await startLastfmServer({ apiKey, users: { rj: RECENT_TRACKS_NOW_PLAYING } });
    try {
      const provider = lastfmProvider({ apiKey, baseUrl: server.url, users: { 'bob@yahoo': 'rj' } });
      expect(await provider.nowPlaying(music())).toEqual({
        title: 'Loopback Blues',
        artist: 'The Testers',
        album: '127.0.0.1',
        state: 'playing',
      });
      const asked = server.requests[0]!;
      expect(Object.fromEntries(asked.searchParams)).toEqual({
        method: 'user.getrecenttracks',
        user: 'rj',
        api_key: apiKey,
        format: 'json',
        limit: '1',
      });
    } finally {
      await server.close();
    }
  });

  it('with an injected fetch: a recorded answer with no track playing gives the last one, with its date', async () => {
    const seen: string[] = [];
    const fetch = async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response(JSON.stringify(RECENT_TRACKS_LAST_PLAYED), { status: 200 });
    };
    const plugin = musicPlugin({ provider: lastfmProvider({ apiKey, fetch }) });
    const store = new Map<string, string>();
    expect((await ask(plugin, '/music lastfm rj', { origin: 'owner', ctx: context(store) }))?.text).toMatch(
      /now rj/,
    );
    // context()'s clock is 10 minutes after the recorded scrobble.
    expect(await ask(plugin, '/music', { ctx: context(store) })).toEqual({
      text: 'bob last listened to The Testers – Port Zero (127.0.0.1) (10 minutes ago).',
    });
    expect(seen[0]).toMatch(
      /^https:\/\/ws\.audioscrobbler\.com\/2\.0\/\?method=user\.getrecenttracks&user=rj&/,
    );
  });

  it('Last.fm errors are typed; the plugin says the music cannot be reached', async () => {
    const server = await startLastfmServer({ apiKey, users: {} });
    try {
      const provider = lastfmProvider({ apiKey, baseUrl: server.url, users: { 'bob@yahoo': 'nobody' } });
      const error = await provider.nowPlaying(music()).catch((e: unknown) => e);
      expect(isCrossTalkError(error, 'ERR_LASTFM_API')).toBe(true);
      expect((error as { lastfmCode: number }).lastfmCode).toBe(6);
      const wrongKey = lastfmProvider({ apiKey: 'nope', baseUrl: server.url, users: { 'bob@yahoo': 'rj' } });
      expect(
        ((await wrongKey.nowPlaying(music()).catch((e: unknown) => e)) as { lastfmCode: number }).lastfmCode,
      ).toBe(10);
      expect(await ask(musicPlugin({ provider }), '/music', {})).toEqual({
        text: "bob's music (lastfm) cannot be reached.",
      });
    } finally {
      await server.close();
    }
  });

  it('refuses answers that are too large, not JSON, or not as documented', async () => {
    const answer =
      (body: string, init: ResponseInit = {}) =>
      async () =>
        new Response(body, init);
    const cases: [string, ReturnType<typeof answer>][] = [
      ['ERR_INVALID_LASTFM_RESPONSE', answer('x'.repeat(300 * 1024))],
      ['ERR_INVALID_LASTFM_RESPONSE', answer('<html>')],
      ['ERR_INVALID_LASTFM_RESPONSE', answer(JSON.stringify({ recenttracks: { track: [{ name: 1 }] } }))],
      ['ERR_INVALID_LASTFM_RESPONSE', answer('{}', { status: 500 })],
      ['ERR_MUSIC_SOURCE', async () => Promise.reject(new TypeError('fetch failed'))],
    ];
    for (const [code, fetch] of cases) {
      const provider = lastfmProvider({ apiKey, fetch, users: { 'bob@yahoo': 'rj' } });
      const error = await provider.nowPlaying(music()).catch((e: unknown) => e);
      expect(isCrossTalkError(error, code), `${code}: ${String(error)}`).toBe(true);
    }
  });

  it('a user with no Last.fm name has no music; a bad name is refused', async () => {
    const plugin = musicPlugin({
      provider: lastfmProvider({ apiKey, fetch: async () => new Response('{}') }),
    });
    expect(await ask(plugin, '/music', {})).toEqual({ text: 'bob is not listening to anything.' });
    expect((await ask(plugin, '/music lastfm no/such', { origin: 'owner' }))?.text).toBe(
      'no/such is not a Last.fm user name.',
    );
  });
});
