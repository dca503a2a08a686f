export { type MsnpOptions, msnp, sniffMsnp } from './codec.js';
export {
  argValue,
  command,
  encodeArg,
  errorReply,
  isCommand,
  type MsnpCommand,
  type MsnpErrorReply,
  type MsnpFrame,
  type MsnpRawLine,
} from './command/command.js';
export { decodeFrame, encodeFrame, frameFromJson, frameToJson, msnpFrames } from './command/frame-codec.js';
export {
  CommandFramer,
  type CommandFramerOptions,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_LINE_LENGTH,
  PROTOCOL,
} from './command/framer.js';
export { hasTrid, payloadRule } from './command/verbs.js';
export { contactGuid } from './contacts/contact-guid.js';
export {
  type ContactEntry,
  ContactListSync,
  type GroupEntry,
  parseLsg,
  parseLst,
} from './contacts/contact-list-sync.js';
export { LIST_BITS, type ListName, listBitsOf, subscriptionOf } from './contacts/lists.js';
export {
  formatImFormat,
  htmlToImFormat,
  type ImFormat,
  imFormatToHtml,
  parseImFormat,
} from './mime/im-format.js';
export { formatMime, type MimeMessage, mimeHeader, mimeType, parseMime } from './mime/mime-message.js';
export { addressToPassport, MSN_NETWORK, PassportResolver, passportToAddress } from './names/passport.js';
export { personalMessageText, personalMessageXml } from './presence/personal-message.js';
export { statusFromMsn, statusToMsn } from './presence/status.js';
export { MsnpProxySession, type MsnpSessionOptions } from './session/proxy-session.js';
export {
  isVirtualSwitchboardData,
  type SwitchboardCookieData,
  type VirtualSwitchboardData,
} from './session/virtual-switchboard-data.js';
export {
  type MessageContent,
  MsnpTranslator,
  type MsnpTranslatorOptions,
  messageContent,
  textMessagePayload,
  typingPayload,
} from './translator/translator.js';
