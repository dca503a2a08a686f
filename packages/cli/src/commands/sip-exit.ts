import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { MemoryDht } from '@crosstalk/core';
import {
  type CrossTalkNode,
  createNode,
  type GatewayIdentity,
  generateIdentity,
  InvalidConfigError,
  identityFromPem,
  parseConfig,
  parseHostPort,
  parseHostPortList,
} from '@crosstalk/gateway';
import { createSipExit, parseOutboundTargets, type SipExit } from '@crosstalk/sip-exit';
import pino from 'pino';
import { z } from 'zod';
import { type CliIo, stopRequested, write } from '../io.js';
import { formsOf, openDht } from './gateway.js';

/** Flags of `crosstalk sip-exit` (each overrides the config file's field). */
export interface SipExitCommandOptions {
  config?: string;
  domain?: string;
  host?: string;
  udp?: string;
  tcp?: string;
  key?: string;
  usersFile?: string;
  g2g?: string;
  dht?: string;
  bootstrap?: string;
  ringTimeout?: string;
  logLevel?: string;
  canonical?: string;
  /** `domain=[udp:|tcp:]host:port`, repeatable: SIP domains the exit exits to, and where (loopback only). */
  outbound?: string[];
}

/** Exit code when the exit cannot start (a port taken, a bad config, a DHT it cannot join). */
export const EXIT_SIP_EXIT_FAILED = 3;

const port = z.number().int().min(0).max(65_535);

/** The config file of `crosstalk sip-exit` (JSON). */
const SipExitConfigSchema = z
  .object({
    /** The SIP domain of the exit's users, and the digest realm. */
    domain: z.string().min(1).max(253),
    /** Address to bind SIP on. */
    host: z.string().default('127.0.0.1'),
    /** SIP over UDP (null: not on UDP). */
    udpPort: port.nullable().default(5060),
    /** SIP over TCP (null: not on TCP). */
    tcpPort: port.nullable().default(5060),
    /** Other names of the host that requests may use. */
    aliases: z.array(z.string().max(253)).max(16).default([]),
    /** REGISTER credentials, user -> password. */
    users: z.record(z.string().min(1).max(256), z.string().min(1).max(1024)).default({}),
    /** The exit's ed25519 key (PEM file; made when missing): keeps its id across restarts. */
    key: z.string().optional(),
    /** ms a call may ring. */
    ringTimeout: z.number().int().positive().optional(),
    /** G2G listen address with the memory DHT. */
    g2g: z.string().optional(),
    /** The directory substrate, as `crosstalk gateway`'s config has it. */
    dht: z.unknown().optional(),
    /** G2G canonical forms, the preferred first (default json, then xmpp-stanza). */
    canonical: z.array(z.string()).min(1).optional(),
    /** Log level of the node and exit (stderr). */
    log: z.object({ level: z.string() }).optional(),
    /** SIP domains the exit exits to, domain -> `[udp:|tcp:]host:port` (loopback addresses only). */
    outbound: z.record(z.string().min(1).max(64), z.string().min(1).max(128)).default({}),
  })
  .strict();

type SipExitConfig = z.output<typeof SipExitConfigSchema>;

/** The config file first, then flags on top. Throws `InvalidConfigError` naming what is wrong. */
export async function resolveSipExitConfig(o: SipExitCommandOptions): Promise<SipExitConfig> {
  const base: Record<string, unknown> = o.config ? await readJson(o.config, 'the config file') : {};
  const users = o.usersFile ? await readJson(o.usersFile, 'the users file') : undefined;
  const portOf = (value: string, flag: string) => {
    if (value === 'off') return null;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65_535)
      throw new InvalidConfigError(`${flag}: not a port: ${value}`);
    return n;
  };
  const outbound: Record<string, string> = {};
  for (const entry of o.outbound ?? []) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new InvalidConfigError(`--outbound: not domain=host:port: ${entry}`);
    outbound[entry.slice(0, at)] = entry.slice(at + 1);
  }
  const merged = {
    ...base,
    ...(o.outbound?.length
      ? { outbound: { ...((base.outbound as Record<string, string> | undefined) ?? {}), ...outbound } }
      : {}),
    ...(o.domain ? { domain: o.domain } : {}),
    ...(o.host ? { host: o.host } : {}),
    ...(o.udp ? { udpPort: portOf(o.udp, '--udp') } : {}),
    ...(o.tcp ? { tcpPort: portOf(o.tcp, '--tcp') } : {}),
    ...(o.key ? { key: o.key } : {}),
    ...(users ? { users } : {}),
    ...(o.g2g ? { g2g: o.g2g } : {}),
    ...(o.ringTimeout ? { ringTimeout: Number(o.ringTimeout) } : {}),
    ...(o.logLevel ? { log: { level: o.logLevel } } : {}),
    ...(o.canonical ? { canonical: o.canonical.split(',').map((s) => s.trim()) } : {}),
    ...(o.dht || o.bootstrap
      ? {
          dht:
            (o.dht ?? 'hyperdht') === 'memory'
              ? { kind: 'memory' }
              : { kind: 'hyperdht', bootstrap: o.bootstrap ? parseHostPortList(o.bootstrap) : [] },
        }
      : {}),
  };
  const parsed = SipExitConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidConfigError(`${issue.path.join('.') || 'config'}: ${issue.message}`);
  }
  // Loopback targets only: anything else is refused here, before anything starts (SipOutboundTargetError).
  parseOutboundTargets(parsed.data.outbound);
  if (Object.keys(parsed.data.users).length === 0)
    throw new InvalidConfigError('users: no REGISTER credentials (config "users", or --users-file)');
  return parsed.data;
}

async function readJson(file: string, what: string): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new InvalidConfigError(`${what} ${file}: ${(error as Error).message}`);
  }
}

/** The exit's key: read from `file`, or made there (mode 600) when it does not exist yet. */
async function loadKey(file: string | undefined): Promise<GatewayIdentity> {
  if (!file) return generateIdentity();
  if (existsSync(file)) return identityFromPem(await readFile(file, 'utf8'), file);
  const identity = generateIdentity();
  await writeFile(file, identity.exportPrivateKey(), { mode: 0o600 });
  return identity;
}

/**
 * `crosstalk sip-exit`: a SIP registrar and proxy whose registrations live in the CrossTalk
 * directory, on a node of the CrossTalk network: registered phones are users of that node, so
 * client-API users call them (`dialCall`) and they call CrossTalk users. Runs until SIGINT/SIGTERM.
 */
export async function sipExit(o: SipExitCommandOptions, io: CliIo): Promise<number> {
  let config: SipExitConfig;
  let gatewayConfig: ReturnType<typeof parseConfig>;
  try {
    config = await resolveSipExitConfig(o);
    gatewayConfig = parseConfig(
      {
        ...(config.dht === undefined ? {} : { dht: config.dht }),
        ...(config.g2g ? { g2g: parseHostPort(config.g2g) } : {}),
        canonical: config.canonical ?? ['json', 'xmpp-stanza'],
      },
      'sip-exit',
    );
  } catch (error) {
    await write(io.stderr, `crosstalk sip-exit: ${(error as Error).message}\n`);
    return 1;
  }
  const level = config.log?.level ?? 'info';
  const logger =
    level === 'silent' ? false : pino({ name: 'crosstalk-sip-exit', level }, pino.destination(2));
  let opened: Awaited<ReturnType<typeof openDht>> | undefined;
  let node: CrossTalkNode | undefined;
  let exit: SipExit | undefined;
  try {
    const identity = await loadKey(config.key);
    opened = await openDht(gatewayConfig);
    // One directory for the node and the exit: the hyperdht store, or one memory DHT for both.
    const dht = opened.dht ?? new MemoryDht();
    node = await createNode({
      identity,
      logger,
      canonical: formsOf(gatewayConfig),
      dht,
      ...(opened.transport ? { transport: opened.transport } : {}),
      ...(gatewayConfig.g2g ? { g2g: gatewayConfig.g2g } : {}),
    });
    exit = await createSipExit({
      identity,
      dht,
      domain: config.domain,
      host: config.host,
      udpPort: config.udpPort,
      tcpPort: config.tcpPort,
      aliases: config.aliases,
      users: config.users,
      node,
      outbound: config.outbound,
      ...(config.ringTimeout ? { ringTimeout: config.ringTimeout } : {}),
      onEvent: (event) => {
        if (logger && (event.type === 'registered' || event.type === 'unregistered'))
          logger.info({ event: event.type, aor: (event as { aor?: string }).aor }, 'registration');
      },
    });
  } catch (error) {
    await exit?.close().catch(() => {});
    await node?.close().catch(() => {});
    await opened?.close().catch(() => {});
    const e = error as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? 'a port is already in use' : (e.message ?? String(error));
    await write(io.stderr, `crosstalk sip-exit: cannot start: ${why.split('\n')[0]}\n`);
    return EXIT_SIP_EXIT_FAILED;
  }
  const a = exit.addresses;
  const sipAt = a.udpPort ?? a.tcpPort;
  await write(
    io.stdout,
    [
      `CrossTalk SIP exit for ${a.domain}: SIP on ${a.host}` +
        `${a.udpPort === null ? '' : ` udp/${a.udpPort}`}${a.tcpPort === null ? '' : ` tcp/${a.tcpPort}`}.`,
      `  node ${node.id}`,
      `  ${Object.keys(config.users).length} SIP account(s); directory: ${gatewayConfig.dht.kind}`,
      ...Object.entries(config.outbound).map(
        ([domain, target]) =>
          `  exits to ${domain.toLowerCase()} at ${target} (calls to USER@${domain.toLowerCase()})`,
      ),
      '',
      `Register a phone as sip:USER@${a.host}:${sipAt} with its password from "users";`,
      `client-API users call it as USER@${a.domain}, and it calls them as sip:alice@aol.`,
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  await stopRequested();
  await exit.close();
  await node.close();
  await opened.close();
  return 0;
}
