export {
  CHALLENGE_PRODUCTS,
  type ChallengeProduct,
  challengeResponse,
  defaultChallengeProduct,
  md5Hex,
  msnp11ChallengeResponse,
} from './challenge.js';
export type { MockConnectionRecord } from './mock-server/connection.js';
export type { MockContactOptions, MockUser, MockUserOptions } from './mock-server/directory.js';
export {
  type MockMsnpServer,
  type MockMsnpServerOptions,
  startMockMsnpServer,
} from './mock-server/mock-server.js';
export {
  ClientConnection,
  type ConnectionOptions,
  type DialFunction,
  directDial,
  type Reply,
} from './scripted-client/client-connection.js';
export { passportOverHttp } from './scripted-client/passport-client.js';
export {
  LoginError,
  type ReceivedMessage,
  type Ring,
  ringOf,
  type ScriptedContact,
  ScriptedConversation,
  ScriptedMsnpClient,
  type ScriptedMsnpClientOptions,
} from './scripted-client/scripted-client.js';
