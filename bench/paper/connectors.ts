import {
  type ConnectUser,
  connectMsnpUser,
  connectOscarUser,
  connectXmppUser,
  connectYmsgUser,
} from '@crosstalk/cli/drivers';
import type { Protocol } from './ipc.js';

export type { ConnectUser };

/** Drivers for users of servers that run in the benchmark's server process. */
export const connectors: Record<Protocol, ConnectUser> = {
  oscar: connectOscarUser,
  ymsg: connectYmsgUser,
  msnp: connectMsnpUser,
  xmpp: connectXmppUser,
};
