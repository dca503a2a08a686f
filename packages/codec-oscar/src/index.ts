export { OSCAR_FEATURES } from './features.js';
export { FeedbagAttribute, FeedbagClass, type FeedbagItem } from './feedbag/feedbag-item.js';
export { FeedbagList } from './feedbag/feedbag-list.js';
export { CROSSTALK_GROUP, mergeForeignBuddies, type RosterMergeResult } from './feedbag/roster-merge.js';
export {
  decodeFlap,
  encodeFlap,
  type FlapFrame,
  type FlapPayload,
  type RawPayload,
  type SignoffPayload,
  type SignonPayload,
  type Snac,
} from './flap/flap-frame.js';
export { createFlapFramer, FlapFramer, MAX_FLAP_FRAME } from './flap/flap-framer.js';
export { type FlapSnacHeader, parseFlapHeader } from './flap/header-parser.js';
export { frameFromJson, frameToJson } from './frame-json.js';
export { htmlToText, textToHtml } from './icbm/html.js';
export { type IcqMessage, IcqMessageType } from './icbm/icq-message.js';
export {
  Charset,
  type MessageFragment,
  type RawFragment,
  type TextFragment,
} from './icbm/message-fragments.js';
export { charsetFor, fragmentsToText, textToFragments } from './icbm/message-text.js';
export { LoginError, loginErrorMessage } from './login/login-errors.js';
export { roastPassword } from './login/roast.js';
export { type OscarOptions, oscar, sniffOscar } from './oscar.js';
export { IcqStatus } from './presence/presence.js';
export { OscarProxySession, parseHostPort } from './session/proxy-session.js';
export { SequenceRewriter } from './session/sequence-rewriter.js';
export {
  Bucp,
  Buddy,
  Channel,
  Family,
  Feedbag,
  Icbm,
  OService,
  SERVER_REQUEST_ID,
  SnacFlag,
} from './snac/families.js';
export { snacFrame } from './snac/snac.js';
export type {
  AuthReplyBody,
  AuthRequestBody,
  BuddyAddedBody,
  ChallengeBody,
  ErrorBody,
  FamiliesBody,
  FeedbagItemsBody,
  FeedbagReplyBody,
  FeedbagStatusBody,
  IcbmAckBody,
  IcbmEventBody,
  IcbmTlv,
  IcbmToClientBody,
  IcbmToHostBody,
  IcqTlv,
  IdleBody,
  MessageTlv,
  RawBody,
  ScreenNamesBody,
  SnacBody,
  TlvsBody,
  UserInfoBody,
} from './snac/snac-body.js';
export { findTlv, type Tlv, tlv } from './tlv/tlv.js';
export { addressToScreenName, screenNameToAddress } from './translate/screen-names.js';
export { cookieForId, OscarTranslator, TypingEvent } from './translate/translator.js';
export type { UserInfo } from './user-info/user-info.js';
