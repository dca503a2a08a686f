import { type Codec, type Direction, defineCodec, featureSet, type SniffResult } from '@crosstalk/core';
import type { MsnpFrame } from './command/command.js';
import { msnpFrames } from './command/frame-codec.js';
import { CommandFramer, PROTOCOL } from './command/framer.js';
import { MsnpProxySession, type MsnpSessionOptions } from './session/proxy-session.js';
import { MsnpTranslator, type MsnpTranslatorOptions } from './translator/translator.js';

/** Options of `msnp()`, the codec factory. */
export interface MsnpOptions extends MsnpSessionOptions {}

/** First client commands: `VER` opens a notification connection, `USR`/`ANS` a switchboard one. */
const OPENERS = ['VER ', 'USR ', 'ANS '].map((s) => Array.from(s, (c) => c.charCodeAt(0)));
const SPACE = 0x20;

/**
 * `VER 1 `, `USR 1 ` or `ANS 1 `: an opening verb, a transaction id, a space. MSNP clients speak
 * first, so the server direction never matches.
 */
export function sniffMsnp(head: Uint8Array, direction: Direction): SniffResult {
  if (direction === 'server') return 'no';
  const n = Math.min(head.length, 4);
  const opener = OPENERS.find((o) => o.slice(0, n).every((c, i) => head[i] === c));
  if (!opener) return 'no';
  if (head.length <= 4) return 'more';
  let i = 4;
  while (i < head.length && head[i]! >= 0x30 && head[i]! <= 0x39) i++;
  if (i === head.length) return i - 4 <= 10 ? 'more' : 'no';
  return i > 4 && i - 4 <= 10 && head[i] === SPACE ? 'yes' : 'no';
}

/**
 * The MSNP codec (MSN Messenger, MSNP2-12 on the wire, MSNP8-12 proxied with roster merging and
 * foreign conversations): `msnp(options?)`.
 */
export function msnp(options: MsnpOptions = {}): Codec<MsnpFrame> {
  return defineCodec<MsnpFrame>({
    protocol: PROTOCOL,
    networks: ['msn'],
    features: featureSet(
      'im',
      'im.html',
      'typing',
      'presence',
      'presence.text',
      'presence.busy',
      'presence.invisible',
      'roster',
      'roster.groups',
      'roster.names',
      'buddy-request',
      'buddy-response',
    ),
    priority: 10,
    defaultPorts: [1863],
    sniff: sniffMsnp,
    createFramer: (direction, framerOptions) =>
      new CommandFramer(direction, { ...options, ...framerOptions }),
    frames: msnpFrames,
    createTranslator: (translatorOptions?: MsnpTranslatorOptions) =>
      new MsnpTranslator({
        ...(options.dialect === undefined ? {} : { dialect: options.dialect }),
        ...translatorOptions,
      }),
    openSession: (ctx) => new MsnpProxySession(ctx, options),
  });
}

export { PROTOCOL };
