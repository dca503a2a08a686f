import {
  type CodecRegistry,
  type Direction,
  eventFromJson,
  isCrossTalkError,
  parseAddress,
  toHex,
} from '@crosstalk/core';
import { type CliIo, LineSplitter, write } from '../io.js';
import { EXIT_PROTOCOL_ERROR } from './decode.js';

/** Options of the `encode` command. */
export interface EncodeOptions {
  /** The codec to encode with. */
  protocol: string;
  /** Which side would send the bytes. */
  direction: Direction;
  /** How to write the bytes: hex text, or raw. */
  output: 'hex' | 'raw';
  /** The logged-in user (`user@network`), for a stream that does not show the login. */
  self?: string;
}

/**
 * `crosstalk encode`: JSON lines on stdin, each `{"event": {...}}` (a canonical event, encoded as
 * the protocol carries it in that direction) or `{"frame": {...}}` (as `decode` prints it) ->
 * bytes on stdout, one hex line per frame or raw. Returns the exit code.
 */
export async function encode(registry: CodecRegistry, options: EncodeOptions, io: CliIo): Promise<number> {
  const codec = registry.get(options.protocol);
  const translator = codec.createTranslator(options.self ? { self: parseAddress(options.self) } : {});
  const lines = new LineSplitter();
  let lineNumber = 0;
  const handle = async (line: string) => {
    lineNumber++;
    if (!line.trim()) return;
    const input = JSON.parse(line) as { event?: unknown; frame?: unknown };
    let frames: unknown[];
    if (input && typeof input === 'object' && 'event' in input) {
      frames = translator.fromEvent(eventFromJson(input.event), options.direction);
    } else if (input && typeof input === 'object' && 'frame' in input) {
      frames = [codec.frames.fromJson(input.frame)];
    } else {
      throw new SyntaxError('each line must be {"event": {...}} or {"frame": {...}}');
    }
    for (const frame of frames) {
      const bytes = codec.frames.encode(frame);
      await write(io.stdout, options.output === 'hex' ? `${toHex(bytes)}\n` : bytes);
    }
  };
  try {
    for await (const chunk of io.stdin) {
      for (const line of lines.push(
        typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'),
      )) {
        await handle(line);
      }
    }
    for (const line of lines.end()) await handle(line);
    return 0;
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    const detail = isCrossTalkError(error) ? { name: error.name, code: error.code } : { name: e.name };
    await write(
      io.stderr,
      `${JSON.stringify({ error: { ...detail, message: e.message, line: lineNumber } })}\n`,
    );
    return EXIT_PROTOCOL_ERROR;
  }
}
