import { type Codec, CodecRegistry } from '@crosstalk/core';
import type { CanonicalForm } from '@crosstalk/gateway';

/**
 * The codecs the `crosstalk` command knows. The CLI is the one place that wires every codec in;
 * each codec package adds itself here when it lands.
 */
export function builtInCodecs(): Codec[] {
  return [];
}

/** The G2G wire format: codec-xmpp's canonical stanza form once it is wired in; JSON until then. */
export function canonicalForm(): CanonicalForm | undefined {
  return undefined;
}

export function defaultRegistry(): CodecRegistry {
  return new CodecRegistry(builtInCodecs());
}
