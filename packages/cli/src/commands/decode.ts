import {
  type CodecRegistry,
  type Direction,
  eventToJson,
  isCrossTalkError,
  parseAddress,
  toHex,
} from '@crosstalk/core';
import { type CliIo, HexStreamDecoder, write } from '../io.js';

/** Options of the `decode` command. */
export interface DecodeOptions {
  /** The codec to decode with. */
  protocol: string;
  /** Which side sent the bytes. */
  direction: Direction;
  /** How the bytes arrive: hex text, or raw. */
  input: 'hex' | 'raw';
  /** The logged-in user (`user@network`), for a stream that does not show the login. */
  self?: string;
}

/** Exit code for a protocol error in the input (usage errors are 1). */
export const EXIT_PROTOCOL_ERROR = 2;

function errorJson(error: unknown, offset: number | undefined) {
  if (isCrossTalkError(error)) {
    return { name: error.name, message: error.message, offset: error.offset ?? offset ?? null };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, offset: offset ?? null };
}

/**
 * `crosstalk decode`: bytes on stdin -> one JSON line per frame, `{"frame", "events", "bytes"}`.
 * Returns the exit code.
 */
export async function decode(registry: CodecRegistry, options: DecodeOptions, io: CliIo): Promise<number> {
  const codec = registry.get(options.protocol);
  const framer = codec.createFramer(options.direction);
  const translator = codec.createTranslator(options.self ? { self: parseAddress(options.self) } : {});
  const hex = options.input === 'hex' ? new HexStreamDecoder() : undefined;
  let consumed = 0;
  const emit = async (raw: Uint8Array) => {
    const frame = codec.frames.decode(raw, options.direction);
    const events = translator.toEvents(frame, options.direction).map(eventToJson);
    const line = JSON.stringify({ frame: codec.frames.toJson(frame), events, bytes: toHex(raw) });
    consumed += raw.length;
    await write(io.stdout, `${line}\n`);
  };
  try {
    for await (const chunk of io.stdin) {
      const bytes = hex
        ? hex.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1'))
        : (chunk as Uint8Array);
      for (const raw of framer.push(bytes)) await emit(raw);
      if (framer.error) throw framer.error;
    }
    hex?.end();
    framer.end();
    return 0;
  } catch (error) {
    await write(io.stdout, `${JSON.stringify({ error: errorJson(error, consumed) })}\n`);
    return EXIT_PROTOCOL_ERROR;
  }
}
