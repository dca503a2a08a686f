import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidConfigError } from '../errors/errors.js';

/**
 * The gateway's config file (JSON), validated by zod; command-line flags override it field by
 * field. Every address defaults to loopback.
 */
const HostPort = z.object({
  /** The address to bind (default 127.0.0.1). */
  host: z.string().default('127.0.0.1'),
  /** The TCP port; 0 for any free one. */
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
  z
    .object({
      /** The directory in this process's memory (one gateway, or several in one process). */
      kind: z.literal('memory'),
    })
    .strict(),
  z
    .object({
      /** A hyperdht network, joined through `bootstrap`. */
      kind: z.literal('hyperdht'),
      /** DHT nodes to join through (`crosstalk dht-node`); at least one. */
      bootstrap: z.array(HostPortString).min(1, 'name at least one bootstrap node (host:port)'),
      /** The address this gateway's own DHT node binds (loopback and any port by default). */
      host: z.string().default('127.0.0.1'),
      /** The UDP port of this gateway's DHT node (0: any free one). */
      port: z.number().int().min(0).max(65535).default(0),
    })
    .strict(),
]);

/**
 * A `codecs` entry: a protocol name (`oscar`, or one a loaded codec module defines) or a codec
 * module for the CLI to load: a package name with an optional subpath (`@acme/codec-irc`,
 * `codec-irc/line`, npm's naming rules) or a path (`./my-codec.js`, `/opt/codecs/irc.mjs`,
 * a `file:` URL). The CLI decides which: a name no codec has is loaded as a package.
 */
const PACKAGE_SPECIFIER = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*(?:\/[^\s\\]+)?$/;
const PATH_SPECIFIER = /^(?:\.{1,2}(?:[\\/]|$)|[\\/]|[A-Za-z]:[\\/]|file:)/;
const CodecEntry = z
  .string()
  .min(1, 'an empty codec entry')
  .refine((entry) => !/[\u0000-\u001f\u007f]/.test(entry) && entry.trim() === entry, {
    error: (issue) => `${JSON.stringify(issue.input)} has control characters or surrounding spaces`,
  })
  .refine((entry) => PACKAGE_SPECIFIER.test(entry) || PATH_SPECIFIER.test(entry), {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is neither a protocol name nor a module specifier (a package ` +
      'name such as @acme/codec-irc, or a path starting with ./, ../ or /)',
  });

/**
 * The gateway's config file (`crosstalk gateway --config`) as a zod schema: unknown keys are refused, every
 * address defaults to loopback.
 */
export const GatewayConfigSchema = z
  .object({
    /** Where the directory lives (default `memory`: one process). */
    dht: DhtConfig.default({ kind: 'memory' }),
    /** The SOCKS4/4a listener clients are pointed at (default 127.0.0.1:1080). */
    socks: HostPort.default({ host: '127.0.0.1', port: 1080 }),
    /** The G2G listener other gateways dial (default 127.0.0.1, any port). */
    g2g: HostPort.default({ host: '127.0.0.1', port: 0 }),
    /** Where to serve `/metrics` and the status page; `false` (the default) for nowhere. */
    metrics: z.union([HostPort, z.literal(false)]).default(false),
    /** Where hard state lives (key pair, foreign buddies, held requests); memory only when absent. */
    stateFile: z.string().optional(),
    /**
     * Worker processes behind the one SOCKS address, each a gateway of its own (docs/operating.md
     * "Using every core"); the CLI's default is the number of cores.
     */
    workers: z.number().int().min(1).max(256).optional(),
    /**
     * Protocols to proxy and translate, each a protocol name or a codec module the CLI loads (see
     * `CodecEntry`); all the CLI knows when absent.
     */
    codecs: z
      .array(CodecEntry)
      .superRefine((entries, ctx) => {
        const twice = entries.find((entry, i) => entries.indexOf(entry) !== i);
        if (twice !== undefined) ctx.addIssue({ code: 'custom', message: `"${twice}" is listed twice` });
      })
      .optional(),
    /** Which destinations clients may reach. */
    upstream: z
      .object({
        /** CIDR blocks or addresses clients may connect to (default loopback). */
        allow: z.array(z.string()).default(['127.0.0.0/8', '::1/128']),
        /** Ports clients may connect to; all when absent. */
        ports: z.array(z.number().int().min(1).max(65535)).optional(),
        /** Host names the gateway maps itself, e.g. a server that names an unreachable host in a redirect. */
        hosts: z.record(z.string(), z.string()).optional(),
      })
      .default({ allow: ['127.0.0.0/8', '::1/128'] }),
    /** XMPP domains this gateway's XMPP users reach through CrossTalk, not s2s (see `GatewayOptions`). */
    foreignDomains: z.array(z.string().min(1).max(255).toLowerCase()).max(256).optional(),
    /** When set, only directory records from these gateway ids are believed. */
    trustedGateways: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
    /**
     * The G2G version the gateway speaks (`NodeOptions.g2gVersion`; default 2). 1: as a gateway from
     * before LOCATED frames (events without their sender's location record).
     */
    g2gVersion: z.union([z.literal(1), z.literal(2)]).optional(),
    /** Logging. */
    log: z
      .object({
        /** The lowest level logged (default `info`). */
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .default({ level: 'info' }),
    /** Timeouts in ms (see `GatewayOptions.timeouts`). */
    timeouts: z
      .object({
        /** Dialling the server a client asked for. */
        connect: z.number().positive().optional(),
        /** A client's whole SOCKS request. */
        socksRequest: z.number().positive().optional(),
        /** The first bytes, before relaying untouched. */
        sniff: z.number().positive().optional(),
        /** A peer gateway's handshake. */
        g2gHandshake: z.number().positive().optional(),
        /** A sent G2G event's acknowledgement. */
        g2gAck: z.number().positive().optional(),
        /** A conversation the gateway plays itself left quiet (an MSN switchboard); 0: never ended. */
        idleConversation: z.number().nonnegative().optional(),
      })
      .strict()
      .default({}),
    /** Connection limits (the gateway's DEFAULT_LIMITS when absent). */
    limits: z
      .object({
        /** SOCKS client connections held at once. */
        socksConnections: z.number().int().positive().optional(),
        /** SOCKS client connections held at once from one source address. */
        socksConnectionsPerSource: z.number().int().positive().optional(),
        /** G2G connections not yet authenticated, at once. */
        g2gPending: z.number().int().positive().optional(),
        /** G2G connections not yet authenticated, at once, from one source address. */
        g2gPendingPerSource: z.number().int().positive().optional(),
      })
      .strict()
      .default({}),
    /** Bytes of injected data a client may leave unread before it is disconnected. */
    maxBacklog: z.number().int().positive().optional(),
    /**
     * Command plugins to run, each `{ name, enabledFor?, ...its own options }`: the program that
     * starts the gateway knows the names (the CLI: `location`, `music`) and checks the options.
     */
    plugins: z
      .array(
        z
          .object({
            /** The plugin's name (a lower-case id, `location`), as the starting program knows it. */
            name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a plugin name is a lower-case id'),
            /** Who has it on until they choose with `/plugins on|off`: addresses, or `*` for everyone. */
            enabledFor: z.array(z.string()).optional(),
          })
          .passthrough(),
      )
      .default([]),
    /** The plugin host's limits (the gateway's DEFAULT_PLUGIN_SETTINGS when absent). */
    pluginSettings: z
      .object({
        /** ms a plugin may take to answer before the asker is told it could not. */
        timeout: z.number().int().positive().optional(),
        /** Answers one sender may get: `requests` per `perMs`. */
        rateLimit: z
          .object({
            /** Answers allowed per window (the bucket's size). */
            requests: z.number().int().positive(),
            /** The window, ms. */
            perMs: z.number().int().positive(),
          })
          .strict()
          .optional(),
        /** Longest reply text, characters (at most 65536); a longer one becomes a short error reply. */
        maxReplyLength: z.number().int().positive().max(65_536).optional(),
      })
      .strict()
      .default({}),
    /**
     * The canonical forms this gateway speaks on G2G, by name, the preferred first (the CLI knows
     * `json` and `xmpp-stanza`; default `xmpp-stanza`). A gateway speaking two converts between them
     * for capability chains that need it (docs/ARCHITECTURE.md "Capability routing").
     */
    canonical: z
      .array(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'a canonical form name is a lower-case id'))
      .min(1)
      .max(4)
      .optional(),
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
    /**
     * Waits, ms, before each new try to deliver a buddy request or answer held because its
     * recipient was not found or not reachable (`NodeOptions.heldRetry`; default 2, 5, 10, 20, 40 s;
     * `[]`: no tries).
     */
    heldRetry: z
      .array(
        z
          .number()
          .int()
          .nonnegative()
          .max(24 * 60 * 60 * 1000),
      )
      .max(32)
      .optional(),
    /**
     * ms between reads of the requests held for each user online here (`NodeOptions.heldPoll`;
     * default 5 minutes; 0: at login only).
     */
    heldPoll: z
      .number()
      .int()
      .nonnegative()
      .max(24 * 60 * 60 * 1000)
      .optional(),
  })
  .strict();

/** A validated config, with every default filled in (what `parseConfig` returns). */
export interface GatewayConfig extends z.output<typeof GatewayConfigSchema> {}
/** A config as written in the file: every field optional. */
export interface GatewayConfigInput extends z.input<typeof GatewayConfigSchema> {}

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

/**
 * Reads and validates a JSON config file; throws `InvalidConfigError` when it cannot be read, is not JSON or
 * does not validate.
 */
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
