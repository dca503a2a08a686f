export type { Dial, NetworkFixture, NetworkUser, StartNetwork, UserDriver } from './driver.js';
export { Inbox } from './inbox.js';
export { startXmppNetwork } from './xmpp.js';
export { startYmsgNetwork } from './ymsg.js';
