export type { SessionHandOff } from './cluster/messages.js';
export {
  type ClusterEvent,
  type GatewayCluster,
  type GatewayClusterOptions,
  startGatewayCluster,
  type WorkerInfo,
} from './cluster/primary.js';
export { SharedCookieTable } from './cluster/shared-cookies.js';
export { SharedDht } from './cluster/shared-dht.js';
export { partitionStateFiles, workerStateFile } from './cluster/state-files.js';
export { workerOf } from './cluster/steering.js';
export { ClusterWorker, isClusterWorker, joinGatewayCluster, type WorkerHandlers } from './cluster/worker.js';
export {
  type GatewayConfig,
  type GatewayConfigInput,
  GatewayConfigSchema,
  loadConfig,
  parseConfig,
  parseHostPort,
  parseHostPortList,
} from './config/config.js';
export { Directory, type Location, type PendingEvent } from './directory/directory.js';
export {
  canonicalJson,
  type DirectoryRecord,
  encodeRecord,
  RecordSchema,
  signRecord,
  verifyRecord,
} from './directory/records.js';
export {
  type FedChunk,
  type HandOffState,
  MAX_TRANSCRIPT_BYTES,
  type OutputBarrier,
  ProxiedConnection,
  stopReading,
} from './engine/connection.js';
export type { FileFetcher, FilePushOptions } from './engine/file-push.js';
export {
  type BoundAddress,
  cidrPolicy,
  LOOPBACK_ONLY,
  OwnListeners,
  type UpstreamPolicy,
} from './engine/policy.js';
export { VirtualEndpointTable } from './engine/virtual-endpoints.js';
export * from './errors/errors.js';
export { type CanonicalForm, jsonForm } from './g2g/canonical-form.js';
export {
  type GatewayIdentity,
  generateIdentity,
  identityFromPem,
  identityKeyPair,
  publicKeyFromId,
  verifySignature,
} from './g2g/identity.js';
export {
  G2G_ACK_TIMEOUT,
  G2G_DIAL_HOLD_DOWN,
  G2G_DIAL_HOLD_DOWN_MAX,
  G2G_MAX_BACKLOG,
  G2G_SLOW_ACK_ROUNDS,
  type G2gEventHandler,
  G2gLink,
  type G2gLinkOptions,
  G2gNode,
  type G2gNodeOptions,
  type G2gPeer,
  G2gRefusedError,
  type LateAckOutcome,
} from './g2g/link.js';
export {
  G2G_HANDSHAKE_TIMEOUT,
  G2G_PRE_AUTH_BYTES,
  type TcpContact,
  TcpG2gTransport,
  type TcpG2gTransportOptions,
} from './g2g/tcp-transport.js';
export { G2G_VERSION } from './g2g/wire.js';
export {
  createGateway,
  DEFAULT_IDLE_CONVERSATION,
  DEFAULT_LIMITS,
  type Gateway,
  type GatewayLimits,
  type GatewayOptions,
} from './gateway.js';
export { GatewayMetrics } from './metrics/metrics.js';
export type {
  AttachInfo,
  CrossTalkNode,
  GatewayEvent,
  GatewayPlugins,
  GatewayRouting,
  NodeLimits,
  NodeOptions,
  OutgoingEvent,
  PresenceUpdate,
  SendOutcome,
  UserEndpoint,
  UserSession,
} from './node/api.js';
export { createNode } from './node/create-node.js';
export { MAX_RECENT_ARRIVALS, RECENT_ARRIVAL_MS } from './node/routing/recent-arrivals.js';
export {
  DEFAULT_PLUGIN_SETTINGS,
  PluginHost,
  type PluginHostOptions,
  type PluginOutcome,
  type PluginReport,
  type PluginSettings,
} from './plugins/plugin-host.js';
export { PLUGIN_STORE_LIMITS, type PluginState, PluginStateSchema } from './plugins/plugin-state.js';
export { RateLimiter } from './plugins/rate-limiter.js';
export {
  type CapabilityBody,
  CapabilityBodySchema,
  type CapabilityIndexEntry,
  type CapabilityRecord,
  type FormDescription,
  type OwnCapability,
  ownCapabilities,
} from './routing/capability-records.js';
export {
  type CapabilityLookup,
  CapabilityView,
  type CapabilityViewOptions,
  composeRoute,
  type Route,
  type RouteQuery,
  type RouteStep,
} from './routing/capability-view.js';
export {
  EXIT_PREFIX,
  type ExitContext,
  type ExitHandle,
  isExitFormat,
  type NodeExit,
} from './routing/exits.js';
export { canonicalFormat, isCanonicalFormat } from './routing/formats.js';
export { type RoutingOptions, routedNetwork } from './routing/router.js';
export {
  parseSocks4Request,
  SOCKS4_BIND,
  SOCKS4_CONNECT,
  type Socks4Request,
  SocksReply,
  socks4ConnectRequest,
  socks4Reply,
} from './socks/socks4.js';
export {
  type GatewayStatus,
  type StatusAddresses,
  StatusBoard,
  type StatusBoardOptions,
  type StatusEndpoint,
  type StatusIncident,
  type StatusTranslation,
  type StatusUser,
} from './status/status-board.js';
export { escapeHtml, renderStatusPage, STATUS_REFRESH_SECONDS } from './status/status-page.js';
export {
  emptyState,
  type HardState,
  HardStateSchema,
  type QuarantinedEntry,
  StateStore,
} from './store/state-store.js';
