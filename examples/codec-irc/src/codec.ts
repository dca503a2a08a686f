import { bytesFromJson, bytesToJson, type Codec, defineCodec, featureSet } from '@crosstalk/core';
import { checkNick, foldNick } from './names/nick.js';
import { IrcSession } from './session/session.js';
import { IrcTranslator } from './translator/translator.js';
import { createFramer, decodeFrame, encodeFrame, type IrcFrame, PROTOCOL, sniff } from './wire/message.js';

export interface IrcOptions {
  /** The network id of the IRC network this codec's users are on (their addresses: `nick@irc`). */
  network?: string;
}

/**
 * What IRC carries: IMs (PRIVMSG and NOTICE, CTCP ACTION as `/me`), presence with an away
 * message (AWAY; ISON, WHOIS, MONITOR's numerics and away-notify for foreign users), and buddy
 * requests and answers as notices and CTCP requests (IRC itself has no buddy authorisation).
 */
export const IRC_FEATURES = featureSet(
  'im',
  'presence',
  'presence.text',
  'buddy-request',
  'buddy-request.message',
  'buddy-response',
);

/** The IRC client protocol (RFC 1459, RFC 2812) as a CrossTalk codec. */
export function irc(options: IrcOptions = {}): Codec<IrcFrame> {
  const network = options.network ?? PROTOCOL;
  return defineCodec<IrcFrame>({
    protocol: PROTOCOL,
    networks: [network],
    networkRules: { [network]: { checkUser: checkNick, normalizeUser: foldNick } },
    features: IRC_FEATURES,
    priority: 10,
    defaultPorts: [6667],
    sniff,
    createFramer,
    frames: {
      decode: (raw) => decodeFrame(raw),
      encode: encodeFrame,
      toJson: (frame) => bytesToJson(frame),
      fromJson: (json) => bytesFromJson(json) as IrcFrame,
    },
    createTranslator: (o) => new IrcTranslator({ ...o, network }),
    openSession: (ctx) => new IrcSession(ctx, network, IRC_FEATURES),
  });
}
