import { CrossTalkError } from '@crosstalk/core';

/** The plugins' own conditions; one class each, fixed `name` and `code` (see core's errors). */

/** No city database to read: none was given and the default package is not installed. */
export class GeoDatabaseMissingError extends CrossTalkError {
  override readonly name = 'GeoDatabaseMissingError';
  readonly code = 'ERR_GEO_DATABASE_MISSING';
}

/** A city database could not be opened or read (not a MaxMind DB file, unreadable). */
export class GeoDatabaseError extends CrossTalkError {
  override readonly name = 'GeoDatabaseError';
  readonly code = 'ERR_GEO_DATABASE';
}

/** A music source (an MPD server, Last.fm) could not be asked: refused, unreachable, closed. */
export class MusicSourceError extends CrossTalkError {
  override readonly name = 'MusicSourceError';
  readonly code = 'ERR_MUSIC_SOURCE';
  override readonly isRetryable = true;
}

/** Last.fm answered with an error (its `error` number: 6 no such user, 10 bad API key, 29 rate limit, ...). */
export class LastfmApiError extends CrossTalkError {
  override readonly name = 'LastfmApiError';
  readonly code = 'ERR_LASTFM_API';
  override readonly isRetryable: boolean;
  constructor(
    /** Last.fm's error number (last.fm/api/errorcodes). */
    readonly lastfmCode: number,
    message: string,
  ) {
    super(`Last.fm error ${lastfmCode}: ${message}`);
    // 8 operation failed, 11 service offline, 16 temporarily unavailable, 29 rate limit exceeded.
    this.isRetryable = [8, 11, 16, 29].includes(lastfmCode);
  }
}

/** Last.fm's answer is not what `user.getRecentTracks` documents, or is larger than the cap. */
export class InvalidLastfmResponseError extends CrossTalkError {
  override readonly name = 'InvalidLastfmResponseError';
  readonly code = 'ERR_INVALID_LASTFM_RESPONSE';
}
