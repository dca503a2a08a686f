// Records the login goldens under test/fixtures from real programs: Debian's ngircd and ii, through
// a tap that keeps every write of each side in order (the transcript form `readTranscript` reads).
// Run from the repository root: npx tsx examples/codec-irc/scripts/record-login.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IiClient } from '../test/support/ii.js';
import { startNgircd } from '../test/support/ngircd.js';
import { startTap, type TapWrite } from '../test/support/tap.js';

const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures');

async function record(
  file: string,
  conn: string,
  password: string | undefined,
  script: (ii: IiClient) => Promise<void>,
) {
  const server = await startNgircd({ password: 'letmein' });
  const tap = await startTap(server, conn);
  const ii = new IiClient({
    host: '127.0.0.1',
    port: tap.port,
    nick: 'alice',
    ...(password ? { password } : {}),
  });
  try {
    await script(ii);
  } finally {
    await ii.stop();
    await new Promise((r) => setTimeout(r, 300));
    await tap.close();
    await server.stop();
  }
  const lines = tap.writes.map((w: TapWrite) => JSON.stringify(w));
  writeFileSync(join(fixtures, file), `${lines.join('\n')}\n`);
  console.log(`${file}: ${tap.writes.length} writes`);
}

// alice logs in (server password, NICK, USER), reads the MOTD, then does what the tests look at:
// she sets and clears her away message, asks ISON and WHOIS, messages a user who is not there.
await record('ngircd-ii-login.jsonl', 'ii/alice', 'letmein', async (ii) => {
  await ii.waitFor(/End of MOTD/);
  await ii.type('/a out for lunch');
  await ii.waitFor(/marked as being away/);
  await ii.type('/a');
  await ii.waitFor(/no longer marked as being away/);
  await ii.type('/ISON alice bob');
  await ii.type('/WHOIS alice');
  await ii.waitFor(/End of WHOIS list/);
  await ii.say('bob', 'héllo wörld 日本語');
  await ii.waitFor(/No such nick/);
});

// The same login with a wrong server password: ngircd refuses it.
await record('ngircd-ii-bad-password.jsonl', 'ii/alice', 'wrong', async (ii) => {
  await ii.waitFor(/Access denied|Bad password|464/i).catch(() => {});
  await new Promise((r) => setTimeout(r, 500));
});

// irssi (under tmux: it needs a terminal) opens with IRCv3 capability negotiation, `CAP LS 302`.
await recordIrssi('ngircd-irssi-login.jsonl', 'irssi/alice');

async function recordIrssi(file: string, conn: string) {
  const server = await startNgircd();
  const tap = await startTap(server, conn);
  const home = mkdtempSync(join(tmpdir(), 'crosstalk-irssi-'));
  const session = `crosstalk-record-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '200',
    '-y',
    '50',
    `irssi --home=${home} -n alice -c 127.0.0.1 -p ${tap.port}`,
  );
  try {
    const screen = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !pattern.test(tmux('capture-pane', '-p', '-t', session)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await screen(/End of MOTD/);
    tmux('send-keys', '-t', session, '/away out for lunch', 'Enter');
    await screen(/marked as being away/);
    tmux('send-keys', '-t', session, '/quit bye', 'Enter');
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
    await tap.close();
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  }
  writeFileSync(join(fixtures, file), `${tap.writes.map((w) => JSON.stringify(w)).join('\n')}\n`);
  console.log(`${file}: ${tap.writes.length} writes`);
}
