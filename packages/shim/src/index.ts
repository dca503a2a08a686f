export type { BaseClient, BaseClientEvents, BaseOutgoingEvent } from './base/base-client.js';
export { BaseClientShim, createShim, type ShimOptions } from './base/shim.js';
export {
  type ConnectDataChannelOptions,
  connectDataChannel,
  DATA_CHANNEL_CIPHER,
  DataChannelListener,
  type DataChannelListenerOptions,
  type IssuedChannel,
  MAX_DATA_CHANNEL_CONNECTIONS,
} from './channel/data-channel.js';
export { FileChannelTransport } from './channel/file-channel.js';
export { createClient, type DataChannelStats, FILE_DEFAULTS, ShimClient } from './client/client.js';
export type {
  ClientOptions,
  FileTransferOptions,
  HyperDhtNetworkOptions,
  ServedReport,
} from './client/options.js';
export * from './errors/base-errors.js';
export * from './errors/errors.js';
export {
  CHANNEL_IDENTITY_BYTES,
  CHANNEL_KEY_BYTES,
  CHUNK_HEAD_BYTES,
  type DataChannelGrant,
  encodeChunkHead,
  encodeFileFrame,
  FILE_PROTOCOL,
  FILE_STREAM_PREAMBLE,
  type FileFrame,
  FileFramer,
  HASH_BYTES,
  MAX_CHUNK_SIZE,
  MAX_CODE_BYTES,
  MAX_CONTROL_FRAME,
  MAX_HASH_ENTRIES,
  MAX_OFFER_ID,
  MAX_REASON_BYTES,
  MIN_CHUNK_SIZE,
} from './file/frames.js';
export { type GatewayFileFetcherOptions, gatewayFileFetcher } from './file/gateway-fetcher.js';
export {
  chunkEnd,
  digestBytes,
  digestSource,
  type FileDigests,
  hashBlockFor,
  hashEntries,
  hashesForChunks,
  MIN_HASH_BLOCK,
} from './file/hash-list.js';
export { fileNotice, MAX_FILE_LINK } from './file/notice.js';
export { checkFileOffer } from './file/offer.js';
export {
  FILE_RECEIVER_DEFAULTS,
  FileReceiver,
  type FileReceiverOptions,
  type ReceiverStep,
} from './file/receiver.js';
export {
  type ChunkRead,
  type FileRequest,
  FileSender,
  type FileSenderOptions,
  MAX_REFETCHES_SERVED,
  type OfferedFile,
  type SenderStep,
} from './file/sender.js';
export { type DiskSink, fileSink, type MemorySink, memorySink } from './file/sink.js';
export { bytesSource, fileSource, hashSource } from './file/source.js';
export {
  type FetchFileOptions,
  fetchFile,
  type ServedFile,
  type ServeFileOptions,
  type ServeFileResult,
  serveFile,
} from './file/transfer.js';
