export * from './arbitraries/events.js';
export { capturePath } from './capture/captures.js';
export { type CapturedStream, tcpStreamsFromPcap } from './capture/tcp-streams.js';
export { type CapturedDatagram, udpDatagramsFromPcap } from './capture/udp-datagrams.js';
export {
  type Check,
  type CheckFailure,
  type CodecGolden,
  type CodecSuiteOptions,
  checkCodec,
  codecChecks,
  type SniffSample,
} from './codec/codec-checks.js';
export { codecSuite } from './codec/codec-suite.js';
export type { LoginScript, LoginWrite, RefusedLogin } from './codec/login-script.js';
export { goldensFromTranscript, readTranscript, type TranscriptEntry } from './codec/transcripts.js';
export type { TranslationCheckOptions } from './codec/translation-checks.js';
export { type DhtSuiteOptions, type DhtUnderTest, dhtChecks } from './dht/dht-checks.js';
export { dhtSuite } from './dht/dht-suite.js';
export {
  type RelayedConnection,
  type RelayedEvent,
  type SessionRelay,
  type SessionRelayOptions,
  startSessionRelay,
} from './session/relay.js';
export { type ToyFrame, type ToyOptions, toyCodec, toyFrame, toyFramer } from './toy/toy-codec.js';
export {
  runTransportChecks,
  type TransportFailure,
  type TransportSuiteOptions,
  transportChecks,
} from './transport/transport-checks.js';
export { transportSuite } from './transport/transport-suite.js';
export {
  captureLoopback,
  type LoopbackCapture,
  type LoopbackCaptureOptions,
  liveCaptureAvailable,
} from './tshark/live-capture.js';
export {
  hexDump,
  type TsharkOptions,
  type TsharkRow,
  toPcap,
  tsharkAvailable,
  tsharkFields,
  tsharkFieldsFromPcap,
} from './tshark/tshark.js';
