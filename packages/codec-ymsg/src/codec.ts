import {
  type Codec,
  defineCodec,
  type FramerOptions,
  featureSet,
  type SessionContext,
} from '@crosstalk/core';
import { createYmsgFramer } from './framer/framer.js';
import { MAX_FRAME_SIZE, PROTOCOL } from './header/header.js';
import { packetFromJson, packetToJson } from './packet/json.js';
import { decodePacket, encodePacket, type PayloadLimits, type YmsgPacket } from './packet/packet.js';
import { YmsgProxySession } from './session/session.js';
import { sniffYmsg } from './sniff.js';
import {
  NETWORKS,
  type YmsgDialect,
  YmsgTranslator,
  type YmsgTranslatorOptions,
} from './translator/translator.js';

export interface YmsgOptions extends PayloadLimits {
  /** Default frame cap for framers and sessions (default: the largest frame a u16 length allows). */
  maxFrameSize?: number;
  /** Dialect a standalone translator writes until the connection shows one (default `v16`). */
  dialect?: YmsgDialect;
  /** Group merged foreign buddies go in when their roster item names none (default `CrossTalk`). */
  rosterGroup?: string;
}

/** What YMSG carries (FEATURES in core): no chat-state set beyond on/off typing, no files or calls here. */
export const YMSG_FEATURES = featureSet(
  'im',
  'im.html',
  'typing',
  'presence',
  'presence.text',
  'presence.idle',
  'presence.busy',
  'presence.invisible',
  'roster',
  'roster.groups',
  'roster.pending',
  'buddy-request',
  'buddy-request.message',
  'buddy-response',
);

/** The YMSG codec (Yahoo Messenger, protocol versions 9 to 16) for CrossTalk. */
export function ymsg(options: YmsgOptions = {}): Codec<YmsgPacket> {
  const limits: PayloadLimits = {
    ...(options.maxPairs !== undefined ? { maxPairs: options.maxPairs } : {}),
    ...(options.maxValueLength !== undefined ? { maxValueLength: options.maxValueLength } : {}),
  };
  return defineCodec<YmsgPacket>({
    protocol: PROTOCOL,
    networks: NETWORKS,
    features: YMSG_FEATURES,
    priority: 10,
    defaultPorts: [5050],
    sniff: (head) => sniffYmsg(head),
    createFramer: (_direction, framerOptions?: FramerOptions) =>
      createYmsgFramer({
        ...(options.maxFrameSize !== undefined
          ? { maxFrameSize: Math.min(options.maxFrameSize, MAX_FRAME_SIZE) }
          : {}),
        ...framerOptions,
      }),
    frames: {
      decode: (raw) => decodePacket(raw, limits),
      encode: (packet) => encodePacket(packet),
      toJson: (packet) => packetToJson(packet),
      fromJson: (json) => packetFromJson(json),
    },
    createTranslator: (translatorOptions?: YmsgTranslatorOptions) =>
      new YmsgTranslator({ ...(options.dialect ? { dialect: options.dialect } : {}), ...translatorOptions }),
    openSession: (ctx: SessionContext) =>
      new YmsgProxySession(ctx, {
        features: YMSG_FEATURES,
        ...limits,
        ...(options.maxFrameSize !== undefined ? { maxFrameSize: options.maxFrameSize } : {}),
        ...(options.rosterGroup !== undefined ? { rosterGroup: options.rosterGroup } : {}),
      }),
  });
}
