export * from './errors/errors.js';
export {
  DEFAULT_GEO_PACKAGE,
  dbipCityDatabase,
  type GeoDatabase,
  type GeoDatabaseFiles,
  openGeoDatabase,
  type Place,
  placeOf,
} from './location/geo-database.js';
export { type LocationPluginOptions, locationPlugin } from './location/location-plugin.js';
export { isPrivateAddress } from './location/private-addresses.js';
export { type LastfmProviderOptions, lastfmProvider } from './music/lastfm-provider.js';
export { type MpdProviderOptions, type MpdServer, mpdProvider } from './music/mpd-provider.js';
export { type MusicPluginOptions, musicPlugin } from './music/music-plugin.js';
export type { MusicProvider, MusicRequest, Track } from './music/provider.js';
