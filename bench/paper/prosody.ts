import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProsody } from '@crosstalk/codec-xmpp/testing';
import type { ServerInfo } from './ipc.js';
import { passwordOf, userNames } from './servers-process.js';

/**
 * A real prosody for the benchmark's XMPP users. Registering thousands of users one prosodyctl call
 * at a time takes minutes, so the accounts are written straight into prosody's `internal_plain`
 * store (data/<host>/accounts/<user>.dat, a Lua table), which prosody reads at each login.
 */
export async function startBenchProsody(count: number): Promise<{ info: ServerInfo; stop(): Promise<void> }> {
  const prosody = await startProsody({ users: [] });
  const users = userNames('xmpp', count);
  const accounts = join(
    prosody.dir,
    'data',
    prosody.domain.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16)}`),
    'accounts',
  );
  mkdirSync(accounts, { recursive: true });
  for (const user of users) {
    writeFileSync(
      join(accounts, `${user}.dat`),
      `return {\n\t["password"] = ${JSON.stringify(passwordOf(user))};\n};\n`,
    );
  }
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'prosody:prosody', join(prosody.dir, 'data')]);
  return {
    info: {
      protocol: 'xmpp',
      host: prosody.host,
      port: prosody.port,
      network: prosody.domain,
      users,
      passwords: users.map(passwordOf),
    },
    stop: () => prosody.stop(),
  };
}
