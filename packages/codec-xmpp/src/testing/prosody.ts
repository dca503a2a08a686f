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

/** A Lua string literal: JSON's escaping is valid Lua. */
export const lua = (s: string) => JSON.stringify(s);

/** An account `launchProsody` registers. */
export interface ProsodyLaunchAccount {
  /** The local part. */
  user: string;
  /** One of the configuration's virtual hosts. */
  host: string;
  /** Its password (stored plain: `internal_plain`). */
  password: string;
}

/** What `launchProsody` needs: a configuration written by the caller around its directories. */
export interface ProsodyLaunch {
  /** A fresh temporary directory holding `prosody.cfg.lua`, `data/` and `certs/` (removed on stop). */
  dir: string;
  /** The configuration's Lua lines, without the directory settings (`launchProsody` adds those). */
  config: readonly string[];
  /** Names the self-signed certificate covers; its first is the subject. */
  certificateNames: readonly string[];
  /** Accounts to register, each on one of the configuration's virtual hosts. */
  accounts: readonly ProsodyLaunchAccount[];
  /** Loopback ports that must accept connections before the server counts as started. */
  ports: readonly number[];
  /** How long to wait for them (default 15 s). */
  startTimeoutMs?: number;
}

/** A prosody `launchProsody` started: its certificate, its log and how to stop it. */
export interface LaunchedProsody {
  /** The self-signed certificate (PEM), for clients that verify it. */
  certificate: string;
  /** prosody's log so far. */
  log(): string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts prosody (PEERS.md) with the caller's configuration: writes a self-signed certificate for
 * every name (stored under each name, as prosody looks a host's certificate up by its name),
 * registers the accounts with prosodyctl, runs the server in the foreground and waits until every
 * port accepts. As root, the directory is handed to the `prosody` user and the server runs through
 * `runuser` (prosody refuses to run as root). The server is killed if this process exits first.
 */
export async function launchProsody(launch: ProsodyLaunch): Promise<LaunchedProsody> {
  if (!which('prosody') || !which('prosodyctl')) throw new ProsodyNotInstalledError();
  const { dir } = launch;
  const config = join(dir, 'prosody.cfg.lua');
  const certs = join(dir, 'certs');
  const asRoot = process.getuid?.() === 0;
  const names = launch.certificateNames;
  let certificate: string;
  try {
    mkdirSync(join(dir, 'data'));
    mkdirSync(certs);
    writeFileSync(
      config,
      [
        `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
        `data_path = ${lua(join(dir, 'data'))}`,
        'daemonize = false',
        `log = { info = ${lua(join(dir, 'prosody.log'))} }`,
        `certificates = ${lua(certs)}`,
        ...launch.config,
        '',
      ].join('\n'),
    );
    const key = join(certs, 'server.key');
    const crt = join(certs, 'server.crt');
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
        `/CN=${names[0]}`,
        '-addext',
        `subjectAltName=${names.map((h) => `DNS:${h}`).join(',')}`,
        '-keyout',
        key,
        '-out',
        crt,
      ],
      { stdio: 'ignore' },
    );
    certificate = readFileSync(crt, 'utf8');
    for (const h of names) {
      writeFileSync(join(certs, `${h}.crt`), certificate);
      writeFileSync(join(certs, `${h}.key`), readFileSync(key));
    }
    // prosodyctl refuses a config the prosody user cannot read: hand the directory over first.
    if (asRoot) execFileSync('chown', ['-R', 'prosody:prosody', dir]);
    for (const a of launch.accounts) {
      const args = ['--config', config, 'register', a.user, a.host, a.password];
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
  const deadline = Date.now() + (launch.startTimeoutMs ?? 15_000);
  const ready = async () => (await Promise.all(launch.ports.map(canConnect))).every(Boolean);
  while (!(await ready())) {
    if (exited || Date.now() > deadline) {
      const why = log();
      await stop();
      throw new Error(
        `prosody did not start on 127.0.0.1:${launch.ports.join(', ')}${why ? `:\n${why}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { certificate, log, stop };
}

/**
 * Starts a real prosody on loopback for tests (PEERS.md): c2s only, on a free port, no s2s or
 * HTTP, plain-text passwords (`internal_plain`, so users are registered in milliseconds), PLAIN
 * allowed without TLS and TLS not required (unless `requireEncryption`: then clients must use
 * STARTTLS before they authenticate).
 */
export async function startProsody(options: ProsodyOptions): Promise<RunningProsody> {
  if (!which('prosody') || !which('prosodyctl')) throw new ProsodyNotInstalledError();
  const domain = options.domain ?? 'localhost';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-prosody-'));
  const modules = ['roster', 'saslauth', 'disco', 'ping', 'presence', 'message', 'iq', 'offline'];
  const disabled = ['s2s', 'http', 'bosh', 'websocket'];
  const requireEncryption = options.requireEncryption === true;
  if (options.starttls || requireEncryption) modules.push('tls');
  else disabled.push('tls');
  const { certificate, log, stop } = await launchProsody({
    dir,
    config: [
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
      `VirtualHost ${lua(domain)}`,
    ],
    certificateNames: [domain],
    accounts: options.users.map((u) => ({ ...u, host: domain })),
    ports: [port],
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  return { host: '127.0.0.1', port, domain, dir, certificate, log, stop };
}
