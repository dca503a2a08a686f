import { defineNetworkRules, isBuiltInNetwork } from '../address/networks.js';
import { InvalidCodecError } from '../errors/errors.js';
import { type Codec, type CodecInit, codecSymbol, type FrameCodec } from './contract.js';

/** Brands and checks a codec implementation. Codec packages export a factory that calls this. */
export function defineCodec<F>(
  init: Omit<CodecInit, 'frames' | 'createTranslator'> & {
    frames: FrameCodec<F>;
    createTranslator: Codec<F>['createTranslator'];
  },
): Codec<F> {
  if (!/^[a-z][a-z0-9-]*$/.test(init.protocol)) {
    throw new InvalidCodecError(`codec protocol "${init.protocol}" must be a lower-case id`);
  }
  if (init.networks.length === 0) {
    throw new InvalidCodecError(`codec ${init.protocol} declares no networks`);
  }
  for (const fn of ['sniff', 'createFramer', 'openSession', 'createTranslator'] as const) {
    if (typeof init[fn] !== 'function') throw new InvalidCodecError(`codec ${init.protocol} lacks ${fn}()`);
  }
  for (const network of Object.keys(init.networkRules ?? {})) {
    if (!init.networks.includes(network))
      throw new InvalidCodecError(
        `codec ${init.protocol} has rules for ${network}, which is not one of its networks`,
      );
  }
  // Its networks become known (and so foreign to other protocols); built-in ones keep their rules.
  for (const network of init.networks) {
    if (!isBuiltInNetwork(network)) defineNetworkRules(network, init.networkRules?.[network] ?? {});
  }
  return Object.freeze({
    ...init,
    priority: init.priority ?? 0,
    defaultPorts: init.defaultPorts ?? [],
    [codecSymbol]: true as const,
  });
}

/**
 * True for a codec made by `defineCodec` (by its brand, so a codec from another copy of this package counts
 * too).
 */
export function isCodec(value: unknown): value is Codec {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[codecSymbol] === true
  );
}
