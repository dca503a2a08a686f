/**
 * The benchmark's server process: one mock server per protocol (OSCAR, YMSG, MSNP) with the
 * requested users. XMPP users are on a real prosody, which run.ts starts as its own process.
 */
import { startMockMsnpServer } from '@crosstalk/codec-msnp/testing';
import { startMockOscarServer } from '@crosstalk/codec-oscar/testing';
import { startMockYmsgServer } from '@crosstalk/codec-ymsg/testing';
import { exitWithParent, type Protocol, type ServerInfo } from './ipc.js';
import { loopWatch } from './loop-watch.js';

const watch = loopWatch();

const closers: (() => Promise<void>)[] = [];
const NETWORK = { oscar: 'aol', ymsg: 'yahoo', msnp: 'msn', xmpp: 'localhost' } as const;

const PREFIX: Record<Protocol, (i: number) => string> = {
  oscar: (i) => `aimuser${i}`,
  ymsg: (i) => `yuser${i}`,
  msnp: (i) => `muser${i}@example.com`,
  xmpp: (i) => `xuser${i}`,
};

export function userNames(protocol: Protocol, count: number): string[] {
  return Array.from({ length: count }, (_, i) => PREFIX[protocol](i));
}

export const passwordOf = (name: string) => `pw-${name.replace(/@.*/, '')}`;

async function start(protocol: Protocol, count: number): Promise<ServerInfo> {
  const users = userNames(protocol, count);
  const server = await startMock(protocol, users);
  closers.push(() => server.close());
  return {
    protocol,
    host: server.host,
    port: server.port,
    network: NETWORK[protocol],
    users,
    passwords: users.map(passwordOf),
  };
}

/** The protocol's mock server with these accounts (each spells a user record its own way). */
function startMock(
  protocol: Protocol,
  users: string[],
): Promise<{ host: string; port: number; close(): Promise<void> }> {
  switch (protocol) {
    case 'oscar':
      return startMockOscarServer({
        users: users.map((screenName) => ({ screenName, password: passwordOf(screenName) })),
      });
    case 'ymsg':
      return startMockYmsgServer({ users: users.map((id) => ({ id, password: passwordOf(id) })) });
    case 'msnp':
      return startMockMsnpServer({ users: users.map((email) => ({ email, password: passwordOf(email) })) });
    default:
      throw new Error(`the server process does not run ${protocol}`);
  }
}

exitWithParent();
process.on('message', async (m: { type: string; protocols?: Protocol[]; count?: number }) => {
  try {
    if (m.type === 'start') {
      const servers: ServerInfo[] = [];
      for (const p of m.protocols ?? []) servers.push(await start(p, m.count ?? 0));
      process.send!({ type: 'started', servers });
    } else if (m.type === 'watch-start') {
      watch.start();
      process.send!({ type: 'watching' });
    } else if (m.type === 'watch-stop') {
      process.send!({ type: 'watched', loop: watch.stop() });
    } else if (m.type === 'stop') {
      for (const c of closers.splice(0)) await c();
      process.send!({ type: 'stopped' });
      process.exit(0);
    }
  } catch (error) {
    process.send!({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
  }
});
