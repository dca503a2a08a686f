/** The protocol id this package registers (`crosstalk --protocol xmpp`) and names in its errors. */
export const PROTOCOL = 'xmpp';

/** Default cap on one frame (a stanza, or the stream header); checked before buffering more. */
export const DEFAULT_MAX_STANZA_SIZE = 256 * 1024;

// The parser's caps (README, "Parser limits"). Each is far above anything a real client or server
// sends, and each bounds work the parser does per stanza, which stays linear in the stanza's size.

/** Default cap on element nesting inside one stanza. */
export const DEFAULT_MAX_DEPTH = 128;

/** Default cap on the attributes of one element, namespace declarations included. */
export const DEFAULT_MAX_ATTRIBUTES = 64;

/** Default cap on the namespace declarations (`xmlns`, `xmlns:p`) of one element. */
export const DEFAULT_MAX_NAMESPACE_DECLARATIONS = 32;

/** Default cap on the namespace declarations in one stanza, all its elements together. */
export const DEFAULT_MAX_STANZA_NAMESPACE_DECLARATIONS = 4096;

/** Default cap on the entity and character references (`&amp;`, `&#x41;`) in one stanza. */
export const DEFAULT_MAX_REFERENCES = 32 * 1024;

/** Default cap on the length of one name (element, attribute, processing instruction target). */
export const DEFAULT_MAX_NAME_LENGTH = 256;
