export { builtInCodecs, canonicalForm, defaultRegistry } from './codecs.js';
export { type DecodeOptions, decode, EXIT_PROTOCOL_ERROR } from './commands/decode.js';
export { type EncodeOptions, encode } from './commands/encode.js';
export { type DemoNetwork, type DemoOptions, runDemo } from './demo/demo.js';
export { type CliIo, processIo } from './io.js';
export { createProgram, main } from './program.js';
