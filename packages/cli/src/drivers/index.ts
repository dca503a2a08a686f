export type { Dial, NetworkFixture, NetworkUser, StartNetwork, UserDriver } from './driver.js';
export { Inbox } from './inbox.js';
export { startYmsgNetwork } from './ymsg.js';
