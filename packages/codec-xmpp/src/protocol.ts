/** The protocol id this package registers (`crosstalk --protocol xmpp`) and names in its errors. */
export const PROTOCOL = 'xmpp';

/** Default cap on one frame (a stanza, or the stream header); checked before buffering more. */
export const DEFAULT_MAX_STANZA_SIZE = 256 * 1024;

/** Default cap on element nesting inside one stanza. */
export const DEFAULT_MAX_DEPTH = 128;
