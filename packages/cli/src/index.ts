export { CodecSet, type LoadedCodec, type LoadOptions, loadCodecModule } from './codec-modules/load.js';
export { builtInCodecs, canonicalForm, canonicalForms, defaultRegistry } from './codecs.js';
export { type DecodeOptions, decode, EXIT_PROTOCOL_ERROR } from './commands/decode.js';
export { type EncodeOptions, encode } from './commands/encode.js';
export { type DemoNetwork, type DemoOptions, runDemo } from './demo/demo.js';
export {
  CodecClashError,
  CodecModuleLoadError,
  CodecModuleNotFoundError,
  NotACodecModuleError,
} from './errors/errors.js';
export { type CliIo, processIo } from './io.js';
export { createProgram, main } from './program.js';
