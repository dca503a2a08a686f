import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchProsody, lua } from '@crosstalk/codec-xmpp/testing';

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

/** A fresh component secret (XEP-0114's shared secret), for tests and the example. */
export const newSecret = () => randomBytes(18).toString('base64url');

/** Starts prosody with TLS required for clients and the given external components. */
export async function startTlsProsody(options: TlsProsodyOptions): Promise<TlsProsody> {
  const hosts = options.hosts ?? ['localhost'];
  const [c2sPort, componentPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'crosstalk-prosody-tls-'));
  const { certificate, log, stop } = await launchProsody({
    dir,
    config: [
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
      ...hosts.map((h) => `VirtualHost ${lua(h)}`),
      ...options.components.flatMap((c) => [
        `Component ${lua(c.domain)}`,
        `  component_secret = ${lua(c.secret)}`,
      ]),
    ],
    certificateNames: hosts,
    accounts: options.accounts.map((a) => ({ ...a, host: a.host ?? hosts[0]! })),
    ports: [c2sPort, componentPort],
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  return { host: '127.0.0.1', c2sPort, componentPort, hosts, certificate, dir, log, stop };
}
