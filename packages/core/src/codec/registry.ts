import { CodecNotFoundError, InvalidCodecError } from '../errors/errors.js';
import type { Codec, Direction } from './contract.js';
import { isCodec } from './define.js';

/** The set of codecs a gateway or the CLI knows, looked up by protocol or by sniffing. */
export class CodecRegistry {
  readonly #codecs = new Map<string, Codec>();
  /** `list()`'s order, worked out once per registration (every foreign address and sniff asks). */
  #ordered: Codec[] | undefined;

  constructor(codecs: Iterable<Codec> = []) {
    for (const c of codecs) this.register(c);
  }

  /** Adds a codec; throws `InvalidCodecError` for a non-codec or a second codec of the same protocol. */
  register(codec: Codec): this {
    if (!isCodec(codec)) throw new InvalidCodecError('not a codec (use defineCodec)');
    if (this.#codecs.has(codec.protocol)) {
      throw new InvalidCodecError(`a codec for ${codec.protocol} is already registered`);
    }
    this.#codecs.set(codec.protocol, codec);
    this.#ordered = undefined;
    return this;
  }

  /** The codec of `protocol`; throws `CodecNotFoundError`. */
  get(protocol: string): Codec {
    const codec = this.#codecs.get(protocol);
    if (!codec) throw new CodecNotFoundError(protocol, this.protocols());
    return codec;
  }

  /** True when a codec of `protocol` is registered. */
  has(protocol: string): boolean {
    return this.#codecs.has(protocol);
  }

  /** Protocol ids, sorted. */
  protocols(): string[] {
    return [...this.#codecs.keys()].sort();
  }

  /** Codecs in sniff order: priority descending, then protocol id. */
  list(): Codec[] {
    return [...this.#inOrder()];
  }

  #inOrder(): Codec[] {
    this.#ordered ??= [...this.#codecs.values()].sort(
      (a, b) => b.priority - a.priority || a.protocol.localeCompare(b.protocol),
    );
    return this.#ordered;
  }

  /** The codec serving a network id, if any. */
  forNetwork(network: string): Codec | undefined {
    return this.#inOrder().find((c) => c.networks.includes(network));
  }

  /**
   * First codec (by priority) that says `yes`; `more` while any higher-priority codec still needs
   * bytes; `undefined` when all say `no` (the engine then relays the stream untouched).
   */
  sniff(head: Uint8Array, direction: Direction): Codec | 'more' | undefined {
    for (const codec of this.#inOrder()) {
      const answer = codec.sniff(head, direction);
      if (answer === 'yes') return codec;
      if (answer === 'more') return 'more';
    }
    return undefined;
  }
}
