import {
  type Codec,
  defineCodec,
  type Feature,
  featureSet,
  type SessionContext,
  type TranslatorOptions,
} from '@crosstalk/core';
import { StanzaFramer } from './framer/stanza-framer.js';
import { createFrameCodec, type XmppFrame, type XmppFrameCodec } from './frames/frame.js';
import { DEFAULT_MAX_STANZA_SIZE, PROTOCOL } from './protocol.js';
import { XmppSession } from './session/session.js';
import { sniffXmpp } from './sniff.js';
import { XmppTranslator } from './translator/translator.js';
import { resolveLimits, type XmlLimits } from './xml/limits.js';

/**
 * Options of `xmpp()`. The parser's caps (`maxDepth`, `maxAttributes`, `maxNamespaceDeclarations`,
 * `maxStanzaNamespaceDeclarations`, `maxReferences`, `maxNameLength`; README, "Parser limits")
 * hold for the framer, the frame codec and every session; past one, a session ends.
 */
export interface XmppCodecOptions extends XmlLimits {
  /** Largest frame (stanza or stream header) accepted, in bytes. Default 256 KiB. */
  maxStanzaSize?: number;
  /**
   * `auto` (default): our own scanner for stanzas of elements, attributes and text, fast-xml-parser
   * for the rest; `fast-xml-parser`: fast-xml-parser for every stanza.
   */
  parser?: 'auto' | 'fast-xml-parser';
}

/** What XMPP carries natively: everything but invisibility (XEP-0018 was never standardised). */
export const XMPP_FEATURES: readonly Feature[] = [
  'im',
  'im.html',
  'typing',
  'typing.states',
  'presence',
  'presence.text',
  'presence.idle',
  'presence.busy',
  'roster',
  'roster.groups',
  'roster.names',
  'roster.pending',
  'buddy-request',
  'buddy-request.message',
  'buddy-response',
  'file-offer',
  'call-invite',
];

/** The codec with this package's concrete types (still a plain `Codec` to the gateway). */
export type XmppCodec = Omit<Codec<XmppFrame>, 'frames' | 'createTranslator' | 'openSession'> & {
  readonly frames: XmppFrameCodec;
  createTranslator(options?: TranslatorOptions): XmppTranslator;
  openSession(ctx: SessionContext): XmppSession;
};

/** The XMPP codec: client streams on port 5222 (RFC 6120, RFC 6121). */
export function xmpp(options: XmppCodecOptions = {}): XmppCodec {
  const maxStanzaSize = options.maxStanzaSize ?? DEFAULT_MAX_STANZA_SIZE;
  const limits = resolveLimits(options);
  const maxDepth = limits.maxDepth;
  const frames = createFrameCodec({ ...limits, parser: options.parser ?? 'auto' });
  const features = featureSet(...XMPP_FEATURES);
  const codec = defineCodec<XmppFrame>({
    protocol: PROTOCOL,
    // Users live on XMPP domains; the gateway recognises XMPP codecs by the id `xmpp`.
    networks: ['xmpp'],
    features,
    priority: 10,
    defaultPorts: [5222],
    sniff: sniffXmpp,
    createFramer: (_direction, o) =>
      new StanzaFramer({
        maxFrameSize: o?.maxFrameSize ?? maxStanzaSize,
        ...(o?.maxBuffered !== undefined ? { maxBuffered: o.maxBuffered } : {}),
        maxDepth,
      }),
    frames,
    createTranslator: (o) => new XmppTranslator(o),
    openSession: (ctx) => new XmppSession(ctx, { frames, features, maxFrameSize: maxStanzaSize, maxDepth }),
  });
  return codec as XmppCodec;
}
