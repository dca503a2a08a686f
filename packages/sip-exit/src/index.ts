export {
  type CallAnswer,
  type CallEnd,
  type DeclineReason,
  type IncomingCall,
  type PlaceCallOptions,
  type SipCall,
  SipCalls,
  type SipCallsOptions,
} from './calls/sip-calls.js';
export {
  DigestAuthenticator,
  type DigestInput,
  type DigestOptions,
  type DigestRefusal,
  type DigestResult,
  digestResponse,
} from './digest/digest.js';
export * from './errors/errors.js';
export {
  createSipExit,
  SIP_EXIT_CAPABILITY,
  SIP_EXIT_VERTEX,
  type SipExit,
  type SipExitEvent,
  type SipExitOptions,
} from './exit/sip-exit.js';
export { type AuthValue, parseAuthValue } from './grammar/auth.js';
export { type CSeq, parseCSeq } from './grammar/cseq.js';
export { splitHeaderList } from './grammar/lists.js';
export { formatNameAddr, type NameAddr, parseNameAddr, tagOf } from './grammar/name-addr.js';
export { formatParams, getParam, parseParams, type SipParams } from './grammar/params.js';
export { formatSipUri, parseSipUri, type SipUri } from './grammar/uri.js';
export { BRANCH_COOKIE, formatVia, parseVia, type Via } from './grammar/via.js';
export {
  MAX_CONTACTS_PER_RECORD,
  type RegisteredContact,
  type SipExitContact,
  type SipRegistration,
  SipRegistrationDirectory,
  type SipRegistrationDirectoryOptions,
} from './location/registration-directory.js';
export { type SipHeader, SipHeaders } from './message/headers.js';
export {
  DEFAULT_SIP_LIMITS,
  REASON_PHRASES,
  type SipLimits,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './message/message.js';
export { parseDatagram } from './message/parse.js';
export { canAnswer, newTag, responseFor } from './message/responses.js';
export { serializeSipMessage } from './message/serialize.js';
export { SipStreamFramer, type SipStreamItem } from './message/stream-framer.js';
export { parseOutboundTarget, parseOutboundTargets } from './outbound/outbound.js';
export type { ExitAddresses } from './proxy/routing.js';
export { EXIT_HOP_PARAM, type Location, type ProxyCallHooks, type SipProxyEvent } from './proxy/sip-proxy.js';
export { type Binding, BindingTable, type BindingTableOptions } from './registrar/binding-table.js';
export { DEFAULT_EXPIRY, type ExpiryRules } from './registrar/registrar.js';
export {
  ackFor,
  ClientTransaction,
  type ClientTransactionState,
  type ClientTransactionUser,
} from './transaction/client-transaction.js';
export {
  nodeScheduler,
  RFC3261_TIMERS,
  type SipDestination,
  type SipScheduler,
  type SipTimerValues,
  type TransactionContext,
} from './transaction/context.js';
export { ServerTransaction, type ServerTransactionState } from './transaction/server-transaction.js';
export {
  newBranch,
  type TransactionCounts,
  TransactionLayer,
  type TransactionLayerOptions,
} from './transaction/transaction-layer.js';
