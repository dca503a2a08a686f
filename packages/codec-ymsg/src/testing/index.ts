export {
  type MockYmsgServer,
  type MockYmsgServerOptions,
  type MockYmsgUser,
  startMockYmsgServer,
} from './mock-server.js';
export { ScriptedYmsgClient, type ScriptedYmsgClientOptions } from './scripted-client.js';
