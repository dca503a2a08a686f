import { type Codec, CodecRegistry } from '@crosstalk/core';

/**
 * The codecs the `crosstalk` command knows. The CLI is the one place that wires every codec in;
 * each codec package adds itself here when it lands.
 */
export function builtInCodecs(): Codec[] {
  return [];
}

export function defaultRegistry(): CodecRegistry {
  return new CodecRegistry(builtInCodecs());
}
