import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real ngIRCd (Debian's `ngircd`) on a free loopback port, configured for tests. */
export interface Ngircd {
  host: string;
  port: number;
  /** The server's name, the prefix of what it writes. */
  name: string;
  stop(): Promise<void>;
}

export const ngircdAvailable = () => spawnSync('ngircd', ['--version']).status === 0;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * ngircd in the foreground (`-n`), on 127.0.0.1 only, with nothing that reaches outside: no DNS
 * and no IDENT lookups, no PAM; a MOTD and PID file in a temporary directory (ngircd drops root
 * for `nobody`, which must be able to write the PID file). Every connection comes from 127.0.0.1
 * (through the gateway), so the per-address limit is off, and so are penalties (the tests send
 * several commands at once). `password` sets the server password (`PASS`).
 */
export async function startNgircd(options: { password?: string; name?: string } = {}): Promise<Ngircd> {
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-ngircd-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const name = options.name ?? 'irc.crosstalk.test';
  writeFileSync(join(dir, 'motd'), 'CrossTalk test server\n');
  writeFileSync(
    join(dir, 'ngircd.conf'),
    [
      '[Global]',
      `Name = ${name}`,
      'Info = CrossTalk test server',
      'AdminInfo1 = CrossTalk tests',
      'AdminInfo2 = 127.0.0.1',
      'AdminEMail = tests@crosstalk.test',
      'Listen = 127.0.0.1',
      `Ports = ${port}`,
      `MotdFile = ${join(dir, 'motd')}`,
      `PidFile = ${join(dir, 'ngircd.pid')}`,
      ...(options.password ? [`Password = ${options.password}`] : []),
      '[Limits]',
      'MaxConnectionsIP = 0',
      'MaxNickLength = 30',
      'MaxPenaltyTime = 0',
      '[Options]',
      'DNS = no',
      'Ident = no',
      'PAM = no',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('ngircd', ['-n', '-f', join(dir, 'ngircd.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once it accepts a connection (it logs "ready" just before listening is done).
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`ngircd exited: ${log}`);
    if (await canConnect(port)) break;
    if (attempt > 200) throw new Error(`ngircd did not listen on ${port}: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1',
    port,
    name,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}
