export type { XmppTlsOptions } from './tls-socket.js';
export { XmppBase, type XmppBaseOptions, type XmppTlsState, xmppBase } from './xmpp-base.js';
