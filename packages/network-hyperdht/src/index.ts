export * from './errors/errors.js';
export { type DhtNode, type DhtNodeOptions, startDhtNode } from './node/dht-node.js';
export type {
  HyperDhtNode,
  LookupReply,
  MutableReply,
  NodeAddress,
  NodeKeyPair,
  NodeQuery,
  QueryOptions,
} from './node/node.js';
export { startTestnet, type Testnet, type TestnetOptions } from './node/testnet.js';
export { decodeRecord, encodeRecord, MAX_RECORD_VALUE_BYTES, type ValueRecord } from './record/record.js';
export { type Candidate, fairShare, type ShareLimits } from './store/fair-share.js';
export {
  ANNOUNCE_LIFETIME,
  HYPERDHT_DHT_LIMITS,
  HyperDhtStore,
  type HyperDhtStoreOptions,
  MAX_VISIBLE_VALUES,
} from './store/hyperdht-store.js';
export {
  type HyperDhtContact,
  HyperDhtTransport,
  type HyperDhtTransportOptions,
} from './transport/hyperdht-transport.js';
