import { availableParallelism } from 'node:os';
import { type CodecRegistry, type Dht, type G2gTransport, isCrossTalkError } from '@crosstalk/core';
import {
  type CanonicalForm,
  type ClusterWorker,
  createGateway,
  type Gateway,
  type GatewayCluster,
  type GatewayConfig,
  type GatewayIdentity,
  InvalidConfigError,
  identityKeyPair,
  isClusterWorker,
  joinGatewayCluster,
  loadConfig,
  parseConfig,
  parseHostPort,
  parseHostPortList,
  partitionStateFiles,
  startGatewayCluster,
  TcpG2gTransport,
  workerStateFile,
} from '@crosstalk/gateway';
import { HyperDhtStore, HyperDhtTransport } from '@crosstalk/network-hyperdht';
import { FileChannelTransport, gatewayFileFetcher } from '@crosstalk/shim';
import pino from 'pino';
import { CodecSet } from '../codec-modules/load.js';
import { isPathSpecifier } from '../codec-modules/resolve.js';
import { canonicalForm, canonicalForms } from '../codecs.js';
import { CodecModuleNotFoundError } from '../errors/errors.js';
import { type CliIo, write } from '../io.js';
import { pluginsFromConfig } from '../plugins.js';

export interface GatewayCommandOptions {
  config?: string;
  dht?: string;
  bootstrap?: string;
  socks?: string;
  g2g?: string;
  metrics?: string;
  state?: string;
  codecs?: string;
  /** Codec modules to load and proxy (`--codec`, repeatable), besides the config's `codecs`. */
  codec?: string[];
  logLevel?: string;
  /** `--plugin NAME`, repeatable: plugins to run besides those in the config file. */
  plugin?: string[];
  softTtl?: string;
  /** `--workers N`: worker processes behind the one SOCKS address. */
  workers?: string;
  /** `--canonical json,xmpp-stanza`: the canonical forms to speak on G2G, the preferred first. */
  canonical?: string;
}

/** Config file first, then flags on top (flags win). Plugin options are checked here too. */
export async function resolveGatewayConfig(o: GatewayCommandOptions): Promise<GatewayConfig> {
  const base = o.config ? await loadConfig(o.config) : parseConfig({});
  const config = parseConfig(
    {
      ...base,
      ...(o.socks ? { socks: parseHostPort(o.socks) } : {}),
      ...(o.g2g ? { g2g: parseHostPort(o.g2g) } : {}),
      ...(o.metrics ? { metrics: o.metrics === 'off' ? false : parseHostPort(o.metrics) } : {}),
      ...(o.state ? { stateFile: o.state } : {}),
      ...dhtFlags(o, base),
      ...(o.codecs ? { codecs: o.codecs.split(',').map((s) => s.trim()) } : {}),
      ...(o.logLevel ? { log: { level: o.logLevel } } : {}),
      plugins: [
        ...base.plugins,
        ...(o.plugin ?? [])
          .filter((name) => !base.plugins.some((p) => p.name === name))
          .map((name) => ({ name })),
      ],
      ...(o.softTtl ? { softTtl: Number(o.softTtl) } : {}),
      ...(o.workers ? { workers: Number(o.workers) } : {}),
      ...(o.canonical ? { canonical: o.canonical.split(',').map((s) => s.trim()) } : {}),
    },
    'flags',
  );
  pluginsFromConfig(config.plugins);
  formsOf(config);
  return config;
}

/** `--dht` and `--bootstrap` over the config file's `dht` section. */
function dhtFlags(o: GatewayCommandOptions, base: GatewayConfig): { dht?: unknown } {
  if (!o.dht && !o.bootstrap) return {};
  const kind = o.dht ?? (o.bootstrap ? 'hyperdht' : base.dht.kind);
  if (kind === 'memory') return { dht: { kind } };
  const bootstrap = o.bootstrap
    ? parseHostPortList(o.bootstrap)
    : base.dht.kind === 'hyperdht'
      ? base.dht.bootstrap
      : [];
  const own = base.dht.kind === 'hyperdht' ? { host: base.dht.host, port: base.dht.port } : {};
  return { dht: { kind, bootstrap, ...own } };
}

/** The directory substrate the config names; `close` releases what was opened for it. */
export async function openDht(config: GatewayConfig): Promise<{
  dht?: Dht;
  transport?: (identity: GatewayIdentity) => G2gTransport;
  /** The gateway's own DHT node (UDP), which G2G links use too. */
  node?: { host: string; port: number };
  close(): Promise<void>;
}> {
  if (config.dht.kind === 'memory') return { close: async () => {} };
  const store = new HyperDhtStore({
    bootstrap: config.dht.bootstrap.map((entry) => parseHostPort(entry)),
    host: config.dht.host,
    ...(config.dht.port ? { port: config.dht.port } : {}),
  });
  await store.ready();
  // Distributed mode: G2G links go over the same DHT node, dialled by the gateway's key alone.
  const { host, port } = store.node.address();
  return {
    dht: store,
    transport: (identity) => new HyperDhtTransport({ node: store.node, keyPair: identityKeyPair(identity) }),
    node: { host, port },
    close: () => store.close(),
  };
}

/** The codecs a gateway runs: the registry with the modules loaded, the protocols it proxies, and their modules. */
export interface GatewayCodecs {
  registry: CodecRegistry;
  /** The protocols to proxy, sorted. */
  protocols: string[];
  /** Third-party protocol -> the specifier of its module. */
  modules: ReadonlyMap<string, string>;
}

/**
 * `--codec` modules are loaded and proxied on top of the rest. The config's `codecs` (or
 * `--codecs`) selects: each entry is a protocol the registry has (built in, or from a `--codec`
 * module) or a module to load; a name no codec has is looked up as a package. Without `codecs`,
 * every codec is proxied. Paths and package names are resolved from `cwd`.
 */
export async function resolveGatewayCodecs(
  base: CodecRegistry,
  config: GatewayConfig,
  o: { codec?: string[]; codecs?: string; configFile?: string },
  cwd?: string,
): Promise<GatewayCodecs> {
  const set = new CodecSet(base, cwd ? { cwd } : {});
  const chosen = new Set<string>();
  for (const specifier of o.codec ?? []) chosen.add(await set.load(specifier, '--codec'));
  if (config.codecs === undefined) {
    return { registry: set.registry, protocols: set.registry.protocols(), modules: set.modules };
  }
  const where = o.codecs !== undefined ? '--codecs' : (o.configFile ?? 'the config');
  for (const [i, entry] of config.codecs.entries()) {
    const from = `codecs.${i} in ${where}`;
    if (!isPathSpecifier(entry) && set.registry.has(entry)) {
      chosen.add(entry);
      continue;
    }
    try {
      chosen.add(await set.load(entry, from));
    } catch (error) {
      if (!(error instanceof CodecModuleNotFoundError) || isPathSpecifier(entry)) throw error;
      // A bare name: a mistyped protocol as likely as a missing package, so say both.
      throw new CodecModuleNotFoundError(
        entry,
        from,
        `no protocol of that name (known: ${set.registry.protocols().join(', ')}), and ${error.reason}`,
      );
    }
  }
  return { registry: set.registry, protocols: [...chosen].sort(), modules: set.modules };
}

/** A gateway the CLI started, with the DHT node it opened for it in distributed mode. */
export interface CliGateway extends Gateway {
  /** The gateway's own hyperdht node (UDP): its DHT traffic and its G2G links. */
  readonly dhtNode: { host: string; port: number } | undefined;
}

export async function startGatewayFromConfig(
  registry: CodecRegistry,
  config: GatewayConfig,
  options: {
    canonical?: CanonicalForm;
    logDestination?: NodeJS.WritableStream;
    /** Run as this worker of a `--workers N` host (see `gatewayWorker`). */
    worker?: ClusterWorker;
  } = {},
): Promise<CliGateway> {
  const codecs = (config.codecs ?? registry.protocols()).map((p) => registry.get(p));
  const { plugins, enabledFor } = pluginsFromConfig(config.plugins);
  const logger = pino(
    { name: 'crosstalk', level: config.log.level },
    options.logDestination ?? process.stderr,
  );
  const substrate = await openDht(config);
  // G2G with file streams beside the links: files offered to users here are fetched from the
  // sender's node and pushed into the client streams that can carry them (XMPP: XEP-0047).
  const links =
    substrate.transport ??
    ((identity: GatewayIdentity) =>
      new TcpG2gTransport({
        identity,
        host: config.g2g.host,
        port: config.g2g.port,
        ...(config.timeouts.g2gHandshake ? { handshakeTimeout: config.timeouts.g2gHandshake } : {}),
        ...(config.limits.g2gPending ? { maxPending: config.limits.g2gPending } : {}),
        ...(config.limits.g2gPendingPerSource
          ? { maxPendingPerSource: config.limits.g2gPendingPerSource }
          : {}),
      }));
  let channel: FileChannelTransport | undefined;
  try {
    const gateway = await createGateway({
      codecs,
      ...(substrate.dht ? { dht: substrate.dht } : {}),
      // Nobody fetches files from a gateway: file streams dialled to it are refused.
      transport: (identity) =>
        (channel = new FileChannelTransport(links(identity), (stream) => stream.destroy())),
      files: { fetcher: gatewayFileFetcher(() => channel) },
      canonical: options.canonical ?? formsOf(config),
      socks: config.socks,
      g2g: config.g2g,
      metrics: config.metrics,
      ...(config.stateFile ? { stateFile: config.stateFile } : {}),
      upstream: config.upstream,
      ...(config.trustedGateways ? { trustedGateways: config.trustedGateways } : {}),
      ...(config.g2gVersion ? { g2gVersion: config.g2gVersion } : {}),
      ...(config.foreignDomains ? { foreignDomains: config.foreignDomains } : {}),
      logger,
      timeouts: config.timeouts,
      limits: config.limits,
      ...(config.maxBacklog ? { maxBacklog: config.maxBacklog } : {}),
      plugins,
      pluginSettings: { ...config.pluginSettings, enabledFor },
      ...(config.softTtl ? { softTtl: config.softTtl } : {}),
      ...(config.heldRetry ? { heldRetry: config.heldRetry } : {}),
      ...(config.heldPoll !== undefined ? { heldPoll: config.heldPoll } : {}),
      ...(options.worker ? { worker: options.worker } : {}),
    });
    // The gateway does not own the DHT it was given: closing it releases the substrate too.
    const close = gateway.close.bind(gateway);
    return Object.assign(gateway, {
      dhtNode: substrate.node,
      close: async () => {
        await close();
        await substrate.close();
      },
    });
  } catch (error) {
    await substrate.close().catch(() => {});
    throw error;
  }
}

/** The canonical forms a config names (default: codec-xmpp's stanza form); an unknown name is a config error. */
export function formsOf(config: GatewayConfig): CanonicalForm[] {
  if (!config.canonical) return [canonicalForm()];
  const known = canonicalForms();
  return config.canonical.map((name) => {
    const form = known.get(name);
    if (!form)
      throw new InvalidConfigError(
        `canonical: unknown canonical form "${name}" (known: ${[...known.keys()].join(', ')})`,
      );
    return form;
  });
}

export function describeGateway(
  gateway: CliGateway,
  protocols: readonly string[],
  modules: ReadonlyMap<string, string> = new Map(),
): string {
  const named = protocols.map((p) => (modules.has(p) ? `${p} (${modules.get(p)})` : p));
  const { host, port } = gateway.socks;
  const node = gateway.dhtNode;
  return [
    `CrossTalk gateway ${gateway.id.slice(0, 16)}… is running.`,
    '',
    // In full: a closed federation lists it in trustedGateways.
    `  gateway id     ${gateway.id}`,
    `  SOCKS4 proxy   ${host}:${port}`,
    `  G2G endpoint   ${
      gateway.g2g
        ? `${gateway.g2g.host}:${gateway.g2g.port} (TCP, Noise)`
        : node
          ? `dialled by id over hyperdht (Noise), via the DHT node`
          : JSON.stringify(gateway.contact)
    }`,
    ...(node ? [`  DHT node       ${node.host}:${node.port} (UDP)`] : []),
    ...(gateway.metricsAddress
      ? [
          `  metrics        http://${gateway.metricsAddress.host}:${gateway.metricsAddress.port}/metrics`,
          `  status page    http://${gateway.metricsAddress.host}:${gateway.metricsAddress.port}/`,
        ]
      : ['  metrics        off (--metrics host:port)']),
    ...usage(named, gateway.plugins.list(), gateway.socks),
  ].join('\n');
}

/** The lines every banner ends with: protocols, plugins, and how to point a client at the proxy. */
function usage(
  protocols: readonly string[],
  plugins: readonly string[],
  socks: { host: string; port: number },
) {
  return [
    `  protocols      ${protocols.join(', ') || 'none (relay only)'}`,
    plugins.length
      ? `  plugins        ${plugins.join(', ')} (users IM crosstalk@crosstalk: /plugins, /help)`
      : '  plugins        none (--plugin location, --plugin music)',
    '',
    'Point your IM client at it: in its connection or proxy settings choose SOCKS4 (or SOCKS4a),',
    `host ${socks.host}, port ${socks.port}, no authentication, and log in as usual. Your own server still sees`,
    'you; buddies on other networks are added as user@network (e.g. bob@yahoo, alice@aol,',
    'a@hotmail.com@msn). XMPP clients must not use TLS to their server (CrossTalk cannot read it).',
    '',
    'Stop with Ctrl-C.',
    '',
  ];
}

/** The banner of a host of several workers: the one SOCKS address, then each worker (a gateway). */
export function describeGatewayHost(
  host: GatewayCluster,
  protocols: readonly string[],
  plugins: readonly string[],
  modules: ReadonlyMap<string, string> = new Map(),
): string {
  const named = protocols.map((p) => (modules.has(p) ? `${p} (${modules.get(p)})` : p));
  const workers = host.workers();
  return [
    `CrossTalk gateway host: ${workers.length} workers behind one SOCKS address, each a gateway of its own.`,
    '',
    `  SOCKS4 proxy   ${host.socks.host}:${host.socks.port}`,
    ...workers.map(
      (w) =>
        `  worker ${String(w.index).padEnd(7)} gateway id ${w.id ?? '?'}  pid ${w.pid ?? '-'}${w.g2g ? `  G2G ${w.g2g.host}:${w.g2g.port}` : ''}`,
    ),
    host.metricsAddress
      ? `  metrics        http://${host.metricsAddress.host}:${host.metricsAddress.port}/metrics (every worker's, summed)`
      : '  metrics        off (--metrics host:port)',
    ...usage(named, plugins, host.socks),
  ].join('\n');
}

/** Exit code when the gateway cannot start (a port taken, an address not ours). */
export const EXIT_START_FAILED = 3;

const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'the address is not on this machine',
};

/** One line saying why the gateway did not start, naming the listener and the flag that moves it. */
export function describeStartFailure(error: unknown, config: GatewayConfig): string {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.syscall === 'listen' && typeof e.port === 'number') {
    const listeners = [
      { name: 'SOCKS4', flag: '--socks', at: config.socks },
      { name: 'G2G', flag: '--g2g', at: config.g2g },
      { name: 'metrics', flag: '--metrics', at: config.metrics || undefined },
    ];
    const which = listeners.find((l) => l.at?.port === e.port);
    const why = (e.code && LISTEN_ERRORS[e.code]) ?? e.message;
    return (
      `crosstalk gateway: cannot listen${which ? ` for ${which.name}` : ''} on ${e.address}:${e.port}: ` +
      `${why} (${e.code})${which ? `; choose another with ${which.flag} host:port` : ''}`
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return `crosstalk gateway: could not start: ${message.split('\n')[0]}`;
}

/** `crosstalk gateway`: runs until SIGINT/SIGTERM, then shuts down gracefully. */
export async function gateway(registry: CodecRegistry, o: GatewayCommandOptions, io: CliIo): Promise<number> {
  const resolved = await resolveGatewayConfig(o);
  const codecs = await resolveGatewayCodecs(
    registry,
    resolved,
    { ...o, ...(o.config ? { configFile: o.config } : {}) },
    io.cwd,
  );
  const config = { ...resolved, codecs: codecs.protocols };
  if (isClusterWorker()) return gatewayWorker(codecs.registry, config);
  const workers = config.workers ?? (io.program ? availableParallelism() : 1);
  if (workers > 1) {
    if (!io.program) {
      await write(
        io.stderr,
        'crosstalk gateway: --workers needs the crosstalk command itself (not run in-process)\n',
      );
      return 1;
    }
    return gatewayHost(config, workers, io, io.program, codecs);
  }
  let running: CliGateway;
  try {
    running = await startGatewayFromConfig(codecs.registry, config);
  } catch (error) {
    // createGateway has closed whatever it opened, so returning lets the process exit.
    await write(io.stderr, `${describeStartFailure(error, config)}\n`);
    return EXIT_START_FAILED;
  }
  await write(io.stdout, describeGateway(running, codecs.protocols, codecs.modules));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await write(io.stdout, 'Shutting down…\n');
  await running.close();
  return 0;
}

/**
 * `crosstalk gateway` with several workers: this process is the host's primary (the SOCKS
 * listener, the directory in embedded mode, restarts), and each worker runs this same command as
 * a gateway of its own (`gatewayWorker`).
 */
async function gatewayHost(
  config: GatewayConfig,
  workers: number,
  io: CliIo,
  program: NonNullable<CliIo['program']>,
  codecs: GatewayCodecs,
): Promise<number> {
  let host: GatewayCluster;
  try {
    // Users move to the worker that serves them now; a bad key stops the start, naming its file.
    if (config.stateFile) await partitionStateFiles(config.stateFile, workers);
    host = await startGatewayCluster({
      workers,
      exec: program.exec,
      args: program.args,
      execArgv: program.execArgv,
      socks: config.socks,
      metrics: config.metrics,
      // Embedded mode: the directory lives here, shared by the workers; distributed: each its own node.
      ...(config.dht.kind === 'memory' ? {} : { dht: false as const }),
      logger: pino({ name: 'crosstalk-primary', level: config.log.level }, process.stderr),
    });
  } catch (error) {
    // A worker's own failure is already worded (it knows which of its listeners failed).
    const message = isCrossTalkError(error, 'ERR_WORKER_START_FAILED')
      ? error.message
      : describeStartFailure(error, config);
    await write(io.stderr, `${message}\n`);
    return EXIT_START_FAILED;
  }
  const plugins = config.plugins.map((p) => p.name);
  await write(io.stdout, describeGatewayHost(host, codecs.protocols, plugins, codecs.modules));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await write(io.stdout, 'Shutting down…\n');
  await host.close();
  return 0;
}

/**
 * One worker of a `--workers N` host: the same gateway, with its own state file, G2G port and DHT
 * port (the configured ones plus its index), its client connections from the primary, and no
 * metrics listener of its own (the primary serves every worker's). It stops when the primary says.
 */
async function gatewayWorker(registry: CodecRegistry, config: GatewayConfig): Promise<number> {
  const link = await joinGatewayCluster();
  const i = link.index;
  const own: GatewayConfig = {
    ...config,
    ...(config.stateFile ? { stateFile: workerStateFile(config.stateFile, i) } : {}),
    g2g: config.g2g.port ? { ...config.g2g, port: config.g2g.port + i } : config.g2g,
    metrics: false,
    dht:
      config.dht.kind === 'hyperdht' && config.dht.port
        ? { ...config.dht, port: config.dht.port + i }
        : config.dht,
  };
  let running: CliGateway;
  try {
    running = await startGatewayFromConfig(registry, own, { worker: link });
  } catch (error) {
    link.failed(describeStartFailure(error, own));
    process.exit(EXIT_START_FAILED);
  }
  link.ready({ id: running.id, contact: running.contact, g2g: running.g2g });
  // Ctrl-C reaches every process of the terminal's group: the primary decides, and says so.
  process.on('SIGINT', () => {});
  process.once('SIGTERM', () => void link.shutdown());
  return new Promise<number>(() => {});
}
