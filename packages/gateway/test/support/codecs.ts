import { type Codec, defineCodec, type Feature, featureSet, SessionStateError } from '@crosstalk/core';

/**
 * A codec that only declares itself (protocol, networks, features): enough for a gateway to
 * advertise and route for it in tests that connect no client.
 */
export function declaredCodec(protocol: string, networks: string[], features: Feature[]): Codec {
  return defineCodec({
    protocol,
    networks,
    features: featureSet(...features),
    sniff: () => 'no',
    createFramer: () => {
      throw new SessionStateError('declared only');
    },
    frames: {
      decode: (raw) => raw,
      encode: (f) => f as Uint8Array,
      toJson: (f) => f,
      fromJson: (j) => j as Uint8Array,
    },
    createTranslator: () => {
      throw new SessionStateError('declared only');
    },
    openSession: () => {
      throw new SessionStateError('declared only');
    },
  }) as Codec;
}

/** AIM-like: formatting, typing, idle. */
export const aimLike = () =>
  declaredCodec(
    'oscar',
    ['aol', 'icq'],
    ['im', 'im.html', 'typing', 'presence', 'presence.idle', 'buddy-request'],
  );
/** IRC-like: plain text, no typing. */
export const ircLike = () =>
  declaredCodec('irc', ['irc'], ['im', 'presence', 'presence.text', 'buddy-request']);
/** XMPP-like: nearly everything. */
export const xmppLike = () =>
  declaredCodec('xmpp', ['xmpp'], ['im', 'im.html', 'typing', 'presence', 'presence.text', 'buddy-request']);
