export { foreignAddress, foreignJid } from './addresses/foreign-jid.js';
export {
  type ComponentEvent,
  startXmppComponent,
  type XmppComponent,
  type XmppComponentOptions,
} from './component/xmpp-component.js';
export {
  ComponentAuthError,
  ComponentConnectError,
  NoSuchServiceError,
  SenderNotAllowedError,
  type StanzaErrorCondition,
  stanzaErrorFor,
  UnknownForeignUserError,
  UntranslatableStanzaError,
  UserBacklogError,
} from './errors/errors.js';
export {
  checkRecipient,
  checkSender,
  defaultNetworks,
  type Sender,
  type StanzaPolicy,
} from './policy/policy.js';
export { type StanzaLimits, StanzaTranslator, toLtx } from './stanzas/stanzas.js';
