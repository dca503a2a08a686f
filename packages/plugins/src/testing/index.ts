export {
  LASTFM_INVALID_API_KEY,
  LASTFM_USER_NOT_FOUND,
  RECENT_TRACKS_LAST_PLAYED,
  RECENT_TRACKS_NOW_PLAYING,
} from './lastfm-recorded.js';
export { type LastfmTestServer, startLastfmServer } from './lastfm-server.js';
export { startMpd, type TestMpd, type TestTrack } from './mpd-server.js';
