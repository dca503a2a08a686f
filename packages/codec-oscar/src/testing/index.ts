export { AIM_MD5_STRING, bucpStrongHash, bucpWeakHash, TLV_STRONG_HASH_FLAG } from './credentials.js';
export { FlapSocket } from './flap-socket.js';
export {
  type MockBuddy,
  type MockConnection,
  type MockOscarServer,
  type MockOscarServerOptions,
  type MockOscarUser,
  startMockOscarServer,
} from './mock-server.js';
export {
  directDial,
  type LoginMethod,
  type OscarDial,
  OscarLoginError,
  type ScriptedLoginOptions,
  ScriptedOscarClient,
} from './scripted-client.js';
