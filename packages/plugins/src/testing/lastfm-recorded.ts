/**
 * Answers of Last.fm's `user.getRecentTracks` (format=json, limit=1), in the shape the API
 * documents (last.fm/api/show/user.getRecentTracks): a user scrobbling now (the playing track is
 * marked `nowplaying` and listed before the last one played), one who is not (the last track, with
 * its date), and the error answers (last.fm/api/errorcodes).
 */
export const RECENT_TRACKS_NOW_PLAYING = {
  recenttracks: {
    track: [
      {
        artist: { mbid: '', '#text': 'The Testers' },
        streamable: '0',
        image: [
          { size: 'small', '#text': '' },
          { size: 'medium', '#text': '' },
        ],
        mbid: '',
        album: { mbid: '', '#text': '127.0.0.1' },
        name: 'Loopback Blues',
        '@attr': { nowplaying: 'true' },
        url: 'https://www.last.fm/music/The+Testers/_/Loopback+Blues',
      },
      {
        artist: { mbid: '', '#text': 'The Testers' },
        streamable: '0',
        image: [{ size: 'small', '#text': '' }],
        mbid: '',
        album: { mbid: '', '#text': '127.0.0.1' },
        name: 'Port Zero',
        url: 'https://www.last.fm/music/The+Testers/_/Port+Zero',
        date: { uts: '1767225600', '#text': '01 Jan 2026, 00:00' },
      },
    ],
    '@attr': { user: 'rj', totalPages: '1000', page: '1', perPage: '1', total: '1000' },
  },
} as const;

export const RECENT_TRACKS_LAST_PLAYED = {
  recenttracks: {
    track: {
      artist: { mbid: '', '#text': 'The Testers' },
      streamable: '0',
      image: [{ size: 'small', '#text': '' }],
      mbid: '',
      album: { mbid: '', '#text': '127.0.0.1' },
      name: 'Port Zero',
      url: 'https://www.last.fm/music/The+Testers/_/Port+Zero',
      date: { uts: '1767225600', '#text': '01 Jan 2026, 00:00' },
    },
    '@attr': { user: 'rj', totalPages: '1000', page: '1', perPage: '1', total: '1000' },
  },
} as const;

export const LASTFM_USER_NOT_FOUND = { error: 6, message: 'User not found', links: [] } as const;
export const LASTFM_INVALID_API_KEY = {
  error: 10,
  message: 'Invalid API key - You must be granted a valid key by last.fm',
  links: [],
} as const;
