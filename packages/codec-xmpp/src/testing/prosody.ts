import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An account `startProsody` creates. */
export interface ProsodyUser {
  user: string;
  password: string;
}

/** Options of `startProsody`. */
export interface ProsodyOptions {
  users: readonly ProsodyUser[];
  /** The virtual host (default `localhost`). */
  domain?: string;
  /**
   * Offer STARTTLS (prosody's `tls` module, with a self-signed certificate). Off by default: a
   * proxy cannot read a TLS stream (see the README), so most tests want a plain one.
   */
  starttls?: boolean;
  /**
   * Require TLS from clients (`c2s_require_encryption = true`, STARTTLS offered, no plain-text
   * authentication): a server that a SOCKS gateway cannot read, as the shim's tests need. Implies
   * `starttls`.
   */
  requireEncryption?: boolean;
  /** How long to wait for the server to accept connections (default 15 s). */
  startTimeoutMs?: number;
}

/** A running prosody, as `startProsody` returns it. */
export interface RunningProsody {
  host: '127.0.0.1';
  port: number;
  domain: string;
  /** The temporary directory holding config, certificate, data and log. */
  dir: string;
  /** The server's self-signed certificate (PEM), for clients that verify it (`ca`). */
  certificate: string;
  /** prosody's log so far (for failing tests). */
  log(): string;
  stop(): Promise<void>;
}

/** Thrown when prosody is missing: `.ci/run` installs it (Debian packages `prosody lua-unbound`). */
export class ProsodyNotInstalledError extends Error {
  override readonly name = 'ProsodyNotInstalledError';
  constructor() {
    super(
      'prosody is not installed: run .ci/run, or apt-get install prosody lua-unbound (see ../shared/PEERS.md)',
    );
  }
}

function which(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A port nobody listens on right now: bind port 0 on loopback, note it, close it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const lua = (s: string) => JSON.stringify(s); // a Lua string literal: JSON's escaping is valid Lua

/**
 * Starts a real prosody on loopback for tests (PEERS.md): c2s only, on a free port, no s2s or
 * HTTP, plain-text passwords (`internal_plain`, so users are registered in milliseconds), PLAIN
 * allowed without TLS and TLS not required (unless `requireEncryption`: then clients must use
 * STARTTLS before they authenticate). Users are registered with prosodyctl. As root, the
 * directory is handed to the `prosody` user and the server runs through `runuser` (prosody refuses
 * to run as root).
 */
export async function startProsody(options: ProsodyOptions): Promise<RunningProsody> {
  if (!which('prosody') || !which('prosodyctl')) throw new ProsodyNotInstalledError();
  const domain = options.domain ?? 'localhost';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-prosody-'));
  const config = join(dir, 'prosody.cfg.lua');
  const asRoot = process.getuid?.() === 0;
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'certs'));
  const modules = ['roster', 'saslauth', 'disco', 'ping', 'presence', 'message', 'iq', 'offline'];
  const disabled = ['s2s', 'http', 'bosh', 'websocket'];
  const requireEncryption = options.requireEncryption === true;
  if (options.starttls || requireEncryption) modules.push('tls');
  else disabled.push('tls');
  writeFileSync(
    config,
    [
      `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
      `data_path = ${lua(join(dir, 'data'))}`,
      'daemonize = false',
      'interfaces = { "127.0.0.1" }',
      'local_interfaces = { "127.0.0.1" }',
      `c2s_ports = { ${port} }`,
      's2s_ports = { }',
      'c2s_direct_tls_ports = { }',
      'component_ports = { }',
      'http_ports = { }',
      'https_ports = { }',
      `modules_enabled = { ${modules.map(lua).join(', ')} }`,
      `modules_disabled = { ${disabled.map(lua).join(', ')} }`,
      'authentication = "internal_plain"',
      `c2s_require_encryption = ${requireEncryption}`,
      `allow_unencrypted_plain_auth = ${!requireEncryption}`,
      `log = { info = ${lua(join(dir, 'prosody.log'))} }`,
      `certificates = ${lua(join(dir, 'certs'))}`,
      `VirtualHost ${lua(domain)}`,
      '',
    ].join('\n'),
  );
  let certificate: string;
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        `/CN=${domain}`,
        '-addext',
        `subjectAltName=DNS:${domain}`,
        '-keyout',
        join(dir, 'certs', `${domain}.key`),
        '-out',
        join(dir, 'certs', `${domain}.crt`),
      ],
      { stdio: 'ignore' },
    );
    certificate = readFileSync(join(dir, 'certs', `${domain}.crt`), 'utf8');
    // prosodyctl refuses a config the prosody user cannot read: hand the directory over first.
    if (asRoot) execFileSync('chown', ['-R', 'prosody:prosody', dir]);
    for (const u of options.users) {
      const args = ['--config', config, 'register', u.user, domain, u.password];
      if (asRoot) execFileSync('runuser', ['-u', 'prosody', '--', 'prosodyctl', ...args], { stdio: 'pipe' });
      else execFileSync('prosodyctl', args, { stdio: 'pipe' });
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const child: ChildProcess = asRoot
    ? spawn('runuser', ['-u', 'prosody', '--', 'prosody', '-F', '--config', config], { stdio: 'ignore' })
    : spawn('prosody', ['-F', '--config', config], { stdio: 'ignore' });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const logFile = join(dir, 'prosody.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  // If the test process dies without stopping us, do not leave a server behind.
  const killOnExit = () => child.kill('SIGTERM'); // runuser passes it on to prosody
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      const why = log();
      await stop();
      throw new Error(`prosody did not start on 127.0.0.1:${port}${why ? `:\n${why}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: '127.0.0.1', port, domain, dir, certificate, log, stop };
}
