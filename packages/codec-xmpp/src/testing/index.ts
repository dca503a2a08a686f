export {
  freePort,
  type LaunchedProsody,
  launchProsody,
  lua,
  type ProsodyLaunch,
  type ProsodyLaunchAccount,
  ProsodyNotInstalledError,
  type ProsodyOptions,
  type ProsodyUser,
  type RunningProsody,
  startProsody,
} from './prosody.js';
export {
  directDial,
  type ScriptedClientOptions,
  type ScriptedRosterItem,
  ScriptedXmppClient,
} from './scripted-client.js';
