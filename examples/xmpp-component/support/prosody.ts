import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ProsodyNotInstalledError } from '@crosstalk/codec-xmpp/testing';

/**
 * A real prosody as a plain XMPP deployment runs it, for the example and its tests: clients MUST
 * use TLS (`c2s_require_encryption`, STARTTLS with a self-signed certificate made here), and
 * CrossTalk is plugged in as an external component (XEP-0114) on its own port with a secret.
 * codec-xmpp's `startProsody` starts a server for the SOCKS mode (no TLS, no components); this
 * one adds what component mode needs, on the same conventions (free loopback ports, a temporary
 * directory handed to the `prosody` user when run as root, see ../shared/PEERS.md).
 */

/** An account to register. */
export interface ProsodyAccount {
  user: string;
  /** A virtual host of `hosts` (default: the first). */
  host?: string;
  password: string;
}

/** Options of `startTlsProsody`. */
export interface TlsProsodyOptions {
  /** Virtual hosts for users (default `['localhost']`). */
  hosts?: readonly string[];
  accounts: readonly ProsodyAccount[];
  /** External components, each with its domain and secret (prosody's `Component` sections). */
  components: readonly { domain: string; secret: string }[];
  /** How long to wait for the listeners (default 15 s). */
  startTimeoutMs?: number;
}

/** A running prosody, as `startTlsProsody` returns it. */
export interface TlsProsody {
  host: '127.0.0.1';
  /** Client-to-server port (STARTTLS required). */
  c2sPort: number;
  /** Where external components connect (XEP-0114). */
  componentPort: number;
  hosts: readonly string[];
  /** The self-signed certificate (PEM) clients must trust: its names are every virtual host. */
  certificate: string;
  /** Temporary directory with config, certificate, data and log. */
  dir: string;
  /** prosody's log so far. */
  log(): string;
  stop(): Promise<void>;
}

function which(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
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

/** A fresh component secret (XEP-0114's shared secret), for tests and the example. */
export const newSecret = () => randomBytes(18).toString('base64url');

/** Starts prosody with TLS required for clients and the given external components. */
export async function startTlsProsody(options: TlsProsodyOptions): Promise<TlsProsody> {
  if (!which('prosody') || !which('prosodyctl')) throw new ProsodyNotInstalledError();
  const hosts = options.hosts ?? ['localhost'];
  const [c2sPort, componentPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-prosody-tls-'));
  const config = join(dir, 'prosody.cfg.lua');
  const certs = join(dir, 'certs');
  const asRoot = process.getuid?.() === 0;
  mkdirSync(join(dir, 'data'));
  mkdirSync(certs);
  writeFileSync(
    config,
    [
      `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
      `data_path = ${lua(join(dir, 'data'))}`,
      'daemonize = false',
      'interfaces = { "127.0.0.1" }',
      'local_interfaces = { "127.0.0.1" }',
      `c2s_ports = { ${c2sPort} }`,
      `component_ports = { ${componentPort} }`,
      'component_interfaces = { "127.0.0.1" }',
      's2s_ports = { }',
      'c2s_direct_tls_ports = { }',
      'http_ports = { }',
      'https_ports = { }',
      'modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "presence", "message", "iq" }',
      'modules_disabled = { "s2s", "http", "bosh", "websocket", "offline" }',
      // The point of the example: a server whose clients cannot log in without TLS (RFC 6120 §5.3.1).
      'c2s_require_encryption = true',
      'allow_unencrypted_plain_auth = false',
      'authentication = "internal_plain"',
      `log = { info = ${lua(join(dir, 'prosody.log'))} }`,
      `certificates = ${lua(certs)}`,
      ...hosts.map((h) => `VirtualHost ${lua(h)}`),
      ...options.components.flatMap((c) => [
        `Component ${lua(c.domain)}`,
        `  component_secret = ${lua(c.secret)}`,
      ]),
      '',
    ].join('\n'),
  );
  let certificate: string;
  try {
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
        `/CN=${hosts[0]}`,
        '-addext',
        `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
        '-keyout',
        key,
        '-out',
        crt,
      ],
      { stdio: 'ignore' },
    );
    certificate = readFileSync(crt, 'utf8');
    // prosody looks a host's certificate up by the host's name.
    for (const h of hosts) {
      writeFileSync(join(certs, `${h}.crt`), certificate);
      writeFileSync(join(certs, `${h}.key`), readFileSync(key));
    }
    // prosodyctl refuses a config the prosody user cannot read: hand the directory over first.
    if (asRoot) execFileSync('chown', ['-R', 'prosody:prosody', dir]);
    for (const a of options.accounts) {
      const args = ['--config', config, 'register', a.user, a.host ?? hosts[0]!, a.password];
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
  // If the process dies without stopping us, do not leave a server behind.
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
  while (!(await canConnect(c2sPort)) || !(await canConnect(componentPort))) {
    if (exited || Date.now() > deadline) {
      const why = log();
      await stop();
      throw new Error(`prosody did not start on 127.0.0.1:${c2sPort}${why ? `:\n${why}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: '127.0.0.1', c2sPort, componentPort, hosts, certificate, dir, log, stop };
}
