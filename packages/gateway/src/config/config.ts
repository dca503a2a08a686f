import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidConfigError } from '../errors/errors.js';

/**
 * The gateway's config file (JSON), validated by zod; command-line flags override it field by
 * field. Every address defaults to loopback.
 */
const HostPort = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
});

/** `host:port` as a string (a DHT bootstrap node). */
const HostPortString = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, 'expected host:port')
  .refine((value) => Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535, 'port out of range');

/**
 * The directory's substrate: `memory` (one process, the embedded default) or `hyperdht` (gateways
 * on separate hosts share a DHT; G2G links then go over hyperdht too).
 */
const DhtConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('memory') }).strict(),
  z
    .object({
      kind: z.literal('hyperdht'),
      /** DHT nodes to join through (`crosstalk dht-node`); at least one. */
      bootstrap: z.array(HostPortString).min(1, 'name at least one bootstrap node (host:port)'),
      /** The address this gateway's own DHT node binds (loopback and any port by default). */
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(0),
    })
    .strict(),
]);

export const GatewayConfigSchema = z
  .object({
    dht: DhtConfig.default({ kind: 'memory' }),
    socks: HostPort.default({ host: '127.0.0.1', port: 1080 }),
    g2g: HostPort.default({ host: '127.0.0.1', port: 0 }),
    metrics: z.union([HostPort, z.literal(false)]).default(false),
    /** Where hard state lives (key pair, foreign buddies, held requests); memory only when absent. */
    stateFile: z.string().optional(),
    /** Protocols to proxy and translate; all the CLI knows when absent. */
    codecs: z.array(z.string()).optional(),
    upstream: z
      .object({
        allow: z.array(z.string()).default(['127.0.0.0/8', '::1/128']),
        ports: z.array(z.number().int().min(1).max(65535)).optional(),
        /** Host names the gateway maps itself, e.g. a server that names an unreachable host in a redirect. */
        hosts: z.record(z.string(), z.string()).optional(),
      })
      .default({ allow: ['127.0.0.0/8', '::1/128'] }),
    trustedGateways: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .default({ level: 'info' }),
    timeouts: z
      .object({
        connect: z.number().positive().optional(),
        socksRequest: z.number().positive().optional(),
        sniff: z.number().positive().optional(),
        g2gHandshake: z.number().positive().optional(),
      })
      .strict()
      .default({}),
    /** Connection limits (the gateway's DEFAULT_LIMITS when absent). */
    limits: z
      .object({
        socksConnections: z.number().int().positive().optional(),
        socksConnectionsPerSource: z.number().int().positive().optional(),
        g2gPending: z.number().int().positive().optional(),
        g2gPendingPerSource: z.number().int().positive().optional(),
      })
      .strict()
      .default({}),
    maxBacklog: z.number().int().positive().optional(),
    /**
     * Lifetime of the soft state this gateway publishes (location, presence, capabilities), ms; it
     * re-signs them at a third of it. A crashed gateway's users look offline to their foreign
     * buddies this long after the crash at most. Default 60 s; at least 3 s (refreshes run once a
     * second at most), at most the DHT's longest lifetime.
     */
    softTtl: z
      .number()
      .int()
      .min(3000)
      .max(24 * 60 * 60 * 1000)
      .optional(),
  })
  .strict();

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;

/** Validates a config object; throws `InvalidConfigError` naming the first bad field. */
export function parseConfig(input: unknown, source = 'config'): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new InvalidConfigError(`${source}: ${where}: ${issue.message}`);
  }
  return result.data;
}

export async function loadConfig(path: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new InvalidConfigError(`cannot read config file ${path}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new InvalidConfigError(`config file ${path} is not JSON`, { cause });
  }
  return parseConfig(json, path);
}

/** `host:port`, `:port` or `port` -> { host, port }. */
export function parseHostPort(value: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(value.trim());
  if (!match) throw new InvalidConfigError(`"${value}" is not host:port`);
  const port = Number(match[2]);
  if (port > 65535) throw new InvalidConfigError(`port ${port} is out of range`);
  return { host: match[1] || defaultHost, port };
}

/** `host:port,host:port` -> the list, each checked; throws `InvalidConfigError` naming a bad one. */
export function parseHostPortList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const { host, port } = parseHostPort(entry);
      return `${host.includes(':') ? `[${host}]` : host}:${port}`;
    });
}
