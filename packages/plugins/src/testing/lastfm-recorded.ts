/**
 * Answers of Last.fm's `user.getRecentTracks` (format=json, limit=1), in the shape the API
 * documents (last.fm/api/show/user.getRecentTracks): a user scrobbling now (the playing track is
 * marked `nowplaying` and listed before the last one played), one who is not (the last track, with
 * its date), and the error answers (last.fm/api/errorcodes).
 */
export const RECENT_TRACKS_NOW_PLAYING = {
  /** The answer's root element (Last.fm's JSON mirrors its XML). */
  recenttracks: {
    /** The tracks, newest first: a list when there are several. */
    track: [
      {
        /** The artist: MusicBrainz id (`mbid`, empty when unknown) and name (`#text`). */
        artist: {
          /** The artist's MusicBrainz id; empty when Last.fm has none. */
          mbid: '',
          /** The artist's name. */
          '#text': 'The Testers',
        },
        /** Whether Last.fm can stream the track, `0` or `1`. */
        streamable: '0',
        /** Cover art URLs by size. */
        image: [
          {
            /** `small`, `medium`, `large` or `extralarge`. */
            size: 'small',
            /** The image's URL; empty when there is none. */
            '#text': '',
          },
          {
            /** `small`, `medium`, `large` or `extralarge`. */
            size: 'medium',
            /** The image's URL; empty when there is none. */
            '#text': '',
          },
        ],
        /** The track's MusicBrainz id; empty when Last.fm has none. */
        mbid: '',
        /** The album: MusicBrainz id (`mbid`) and title (`#text`). */
        album: {
          /** The album's MusicBrainz id; empty when Last.fm has none. */
          mbid: '',
          /** The album's title. */
          '#text': '127.0.0.1',
        },
        /** The track's title. */
        name: 'Loopback Blues',
        /** Marks the track the user is scrobbling now (it has no `date`). */
        '@attr': {
          /** `true` for the track playing now. */
          nowplaying: 'true',
        },
        /** The track's page on last.fm. */
        url: 'https://www.last.fm/music/The+Testers/_/Loopback+Blues',
      },
      {
        /** The artist: MusicBrainz id (`mbid`, empty when unknown) and name (`#text`). */
        artist: {
          /** The artist's MusicBrainz id; empty when Last.fm has none. */
          mbid: '',
          /** The artist's name. */
          '#text': 'The Testers',
        },
        /** Whether Last.fm can stream the track, `0` or `1`. */
        streamable: '0',
        /** Cover art URLs by size. */
        image: [
          {
            /** `small`, `medium`, `large` or `extralarge`. */
            size: 'small',
            /** The image's URL; empty when there is none. */
            '#text': '',
          },
        ],
        /** The track's MusicBrainz id; empty when Last.fm has none. */
        mbid: '',
        /** The album: MusicBrainz id (`mbid`) and title (`#text`). */
        album: {
          /** The album's MusicBrainz id; empty when Last.fm has none. */
          mbid: '',
          /** The album's title. */
          '#text': '127.0.0.1',
        },
        /** The track's title. */
        name: 'Port Zero',
        /** The track's page on last.fm. */
        url: 'https://www.last.fm/music/The+Testers/_/Port+Zero',
        /** When it was scrobbled. */
        date: {
          /** Unix time, seconds, as a string. */
          uts: '1767225600',
          /** The same time as text, UTC. */
          '#text': '01 Jan 2026, 00:00',
        },
      },
    ],
    /** Paging of the user's scrobbles (all numbers as strings). */
    '@attr': {
      /** The user's Last.fm name. */
      user: 'rj',
      /** Pages of `perPage` scrobbles. */
      totalPages: '1000',
      /** This page, from 1. */
      page: '1',
      /** Scrobbles per page (the request's `limit`). */
      perPage: '1',
      /** The user's scrobbles in all. */
      total: '1000',
    },
  },
} as const;

/** `user.getRecentTracks` for a user not scrobbling now: the last track played, alone, so an object. */
export const RECENT_TRACKS_LAST_PLAYED = {
  /** The answer's root element (Last.fm's JSON mirrors its XML). */
  recenttracks: {
    /** The one track: an object, not a list, when there is only one. */
    track: {
      /** The artist: MusicBrainz id (`mbid`, empty when unknown) and name (`#text`). */
      artist: {
        /** The artist's MusicBrainz id; empty when Last.fm has none. */
        mbid: '',
        /** The artist's name. */
        '#text': 'The Testers',
      },
      /** Whether Last.fm can stream the track, `0` or `1`. */
      streamable: '0',
      /** Cover art URLs by size. */
      image: [
        {
          /** `small`, `medium`, `large` or `extralarge`. */
          size: 'small',
          /** The image's URL; empty when there is none. */
          '#text': '',
        },
      ],
      /** The track's MusicBrainz id; empty when Last.fm has none. */
      mbid: '',
      /** The album: MusicBrainz id (`mbid`) and title (`#text`). */
      album: {
        /** The album's MusicBrainz id; empty when Last.fm has none. */
        mbid: '',
        /** The album's title. */
        '#text': '127.0.0.1',
      },
      /** The track's title. */
      name: 'Port Zero',
      /** The track's page on last.fm. */
      url: 'https://www.last.fm/music/The+Testers/_/Port+Zero',
      /** When it was scrobbled. */
      date: {
        /** Unix time, seconds, as a string. */
        uts: '1767225600',
        /** The same time as text, UTC. */
        '#text': '01 Jan 2026, 00:00',
      },
    },
    /** Paging of the user's scrobbles (all numbers as strings). */
    '@attr': {
      /** The user's Last.fm name. */
      user: 'rj',
      /** Pages of `perPage` scrobbles. */
      totalPages: '1000',
      /** This page, from 1. */
      page: '1',
      /** Scrobbles per page (the request's `limit`). */
      perPage: '1',
      /** The user's scrobbles in all. */
      total: '1000',
    },
  },
} as const;

/** Last.fm's answer for a user name it does not know (error 6, HTTP 404). */
export const LASTFM_USER_NOT_FOUND = {
  /** Last.fm's error number (last.fm/api/errorcodes). */
  error: 6,
  /** Its text. */
  message: 'User not found',
  /** As Last.fm sends it: an empty list. */
  links: [],
} as const;

/** Last.fm's answer for a wrong API key (error 10, HTTP 403). */
export const LASTFM_INVALID_API_KEY = {
  /** Last.fm's error number (last.fm/api/errorcodes). */
  error: 10,
  /** Its text. */
  message: 'Invalid API key - You must be granted a valid key by last.fm',
  /** As Last.fm sends it: an empty list. */
  links: [],
} as const;
