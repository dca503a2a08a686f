export { IRC_FEATURES, type IrcOptions, irc } from './codec.js';
export { checkNick, foldNick, foreignNick, nickToAddress } from './names/nick.js';
export { IrcSession } from './session/session.js';
export { GATEWAY_USER_HOST, IrcTranslator } from './translator/translator.js';
export {
  createFramer,
  decodeFrame,
  encodeFrame,
  type IrcFrame,
  type IrcMessage,
  MAX_LINE,
  MAX_MESSAGE,
  PROTOCOL,
  sniff,
} from './wire/message.js';
