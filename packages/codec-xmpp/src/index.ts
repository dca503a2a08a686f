export { type StanzaForm, type StanzaFormOptions, stanza, stanzaForm } from './canonical/stanza-form.js';
export { XMPP_FEATURES, type XmppCodec, type XmppCodecOptions, xmpp } from './codec.js';
export {
  isStanzaLimitError,
  NameTooLongError,
  NestingTooDeepError,
  StanzaLimitError,
  TooManyAttributesError,
  TooManyNamespaceDeclarationsError,
  TooManyReferencesError,
} from './errors/errors.js';
export { StanzaFramer, type StanzaFramerOptions } from './framer/stanza-framer.js';
export { createFrameCodec, type XmppFrame, type XmppFrameCodec } from './frames/frame.js';
export {
  addressToJid,
  bareJid,
  escapeLocalpart,
  formatJid,
  type Jid,
  jidToAddress,
  parseJid,
  unescapeLocalpart,
} from './jid/jid.js';
export {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_NAME_LENGTH,
  DEFAULT_MAX_NAMESPACE_DECLARATIONS,
  DEFAULT_MAX_REFERENCES,
  DEFAULT_MAX_STANZA_NAMESPACE_DECLARATIONS,
  DEFAULT_MAX_STANZA_SIZE,
  PROTOCOL,
} from './protocol.js';
export { mergeRoster, type RosterMergeResult } from './session/roster-merge.js';
export { XmppSession, type XmppSessionOptions } from './session/session.js';
export { sniffXmpp } from './sniff.js';
export { NS } from './stanza/namespaces.js';
export { XmppTranslator } from './translator/translator.js';
export { escapeAttr, escapeText } from './xml/escape.js';
export type { XmlLimits } from './xml/limits.js';
export {
  element,
  getAttr,
  localName,
  type Quote,
  textOf,
  type XmlAttribute,
  type XmlCdata,
  type XmlComment,
  type XmlElement,
  type XmlNode,
  type XmlPi,
  type XmlText,
} from './xml/node.js';
export { createXmlParser, type XmlParser, type XmlParserOptions } from './xml/parse.js';
export { writeElement } from './xml/serialize.js';
