/**
 * `@crosstalk/compliance/fuzz`: the fuzz engine, for any codec. It imports no test runner, so a
 * plain node (or tsx) script can run it; the in-repo codecs run it through `npm run fuzz`.
 */

export { arbEvent, arbEventOfKind, arbRosterItem } from '../arbitraries/events.js';
export { capturePath } from '../capture/captures.js';
export { type CapturedStream, tcpStreamsFromPcap } from '../capture/tcp-streams.js';
export { goldensFromTranscript, readTranscript, type TranscriptEntry } from '../codec/transcripts.js';
export { type Chunking, chunk } from './chunking.js';
export {
  type FuzzCorpus,
  type FuzzSession,
  type FuzzWrite,
  sessionFromCapture,
  sessionFromTranscript,
  streamsOfSession,
} from './corpus.js';
export { type DriveName, type InputStats, isTyped, type TraceStep } from './drives.js';
export { type FuzzOptions, type FuzzReport, fuzzCodec, replayInput } from './engine.js';
export { describeError, type FailureKind, type FuzzFailure, untypedError } from './failures.js';
export { FuzzGateway } from './gateway-double.js';
export { harvestTokens, looksTextual, type MutationPool, mutate } from './mutate.js';
export { inputSeed, Random } from './random.js';
