export type {
  ConnectUser,
  Dial,
  NetworkFixture,
  NetworkUser,
  ServerAddress,
  StartNetwork,
  UserDriver,
} from './driver.js';
export { Inbox } from './inbox.js';
export { connectMsnpUser, startMsnpNetwork } from './msnp.js';
export { connectOscarUser, startOscarNetwork } from './oscar.js';
export { connectXmppUser, startXmppNetwork } from './xmpp.js';
export { connectYmsgUser, startYmsgNetwork } from './ymsg.js';
