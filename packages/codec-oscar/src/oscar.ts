import {
  type Codec,
  type Direction,
  defineCodec,
  type FramerOptions,
  type SniffResult,
} from '@crosstalk/core';
import { OSCAR_FEATURES } from './features.js';
import { decodeFlap, encodeFlap, type FlapFrame } from './flap/flap-frame.js';
import { createFlapFramer } from './flap/flap-framer.js';
import { frameFromJson, frameToJson } from './frame-json.js';
import { OscarProxySession } from './session/proxy-session.js';
import { OSCAR_NETWORKS } from './translate/screen-names.js';
import { OscarTranslator } from './translate/translator.js';
import { PROTOCOL } from './wire/byte-reader.js';

/** Options of `oscar()`, the codec factory. */
export interface OscarOptions {
  /** Default cap for framers created without one (bytes, header included). Default 65,541: the u16 length's limit. */
  maxFrameSize?: number;
}

/**
 * Recognises OSCAR from the first bytes either side sends: a FLAP header (marker 0x2A, channel
 * 1..5). A new connection opens with channel 1 and FLAP version 1 (both sides; retro-aim-server
 * FLAPSignonFrame), which is checked when present; a stream picked up midway is accepted on its header.
 */
export function sniffOscar(head: Uint8Array, _direction?: Direction): SniffResult {
  if (head.length === 0) return 'more';
  if (head[0] !== 0x2a) return 'no';
  if (head.length < 2) return 'more';
  const channel = head[1]!;
  if (channel < 1 || channel > 5) return 'no';
  if (head.length < 6) return 'more';
  if (channel !== 1) return 'yes';
  const length = (head[4]! << 8) | head[5]!;
  if (length < 4) return 'no';
  const version = [0, 0, 0, 1];
  for (let i = 0; i < 4; i++) {
    if (head.length <= 6 + i) return 'more';
    if (head[6 + i] !== version[i]) return 'no';
  }
  return 'yes';
}

/** The OSCAR codec (AIM and ICQ): `oscar()` for `crosstalk --protocol oscar` and the gateway. */
export function oscar(options: OscarOptions = {}): Codec<FlapFrame> {
  return defineCodec<FlapFrame>({
    protocol: PROTOCOL,
    networks: OSCAR_NETWORKS,
    features: OSCAR_FEATURES,
    priority: 10,
    defaultPorts: [5190],
    sniff: sniffOscar,
    createFramer: (_direction: Direction, framerOptions: FramerOptions = {}) =>
      createFlapFramer({ maxFrameSize: options.maxFrameSize, ...framerOptions }),
    frames: {
      decode: (raw) => decodeFlap(raw),
      encode: (frame) => encodeFlap(frame),
      toJson: frameToJson,
      fromJson: frameFromJson,
    },
    createTranslator: (translatorOptions) => new OscarTranslator(translatorOptions),
    openSession: (ctx) => new OscarProxySession(ctx),
  });
}
