export { YMSG_FEATURES, type YmsgOptions, ymsg } from './codec.js';
export { createYmsgFramer, YmsgFramer } from './framer/framer.js';
export {
  frameLength,
  HEADER_SIZE,
  MAX_FRAME_SIZE,
  PROTOCOL,
  parseHeader,
  protocolVersion,
  writeHeader,
  type YmsgHeader,
  type YmsgHeaderParser,
  ymsgHeaderParser,
} from './header/header.js';
export {
  type ListAddition,
  type ListEntry,
  ListParser,
  list15Records,
  parseList15,
  parseV9List,
  v9Lines,
} from './list/list-parser.js';
export { v1Challenge, v1Response, v1Secrets, YAHOO_CRYPT_SALT } from './login/challenge.js';
export { md5crypt } from './login/md5crypt.js';
export { y64 } from './login/y64.js';
export { packetFromJson, packetToJson, type YmsgPacketJson } from './packet/json.js';
export {
  decodePacket,
  encodePacket,
  indexPairs,
  type PayloadLimits,
  YmsgPacket,
  type YmsgPacketInit,
  type YmsgPair,
  type YmsgValue,
  ymsgPacket,
} from './packet/packet.js';
export { YmsgKey } from './protocol/keys.js';
export { serviceName, YmsgService, type YmsgServiceName } from './protocol/services.js';
export { YmsgStatus } from './protocol/status.js';
export { YmsgProxySession, type YmsgSessionOptions } from './session/session.js';
export { sniffYmsg } from './sniff.js';
export { type FormattedText, htmlToYahooText, parseYahooText } from './text/formatting.js';
export { decodeName, decodeText } from './text/values.js';
export { type YmsgDialect, YmsgTranslator, type YmsgTranslatorOptions } from './translator/translator.js';
