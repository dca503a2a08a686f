import type { CodecRegistry } from '@crosstalk/core';
import {
  type CanonicalForm,
  createGateway,
  type Gateway,
  type GatewayConfig,
  loadConfig,
  parseConfig,
  parseHostPort,
} from '@crosstalk/gateway';
import pino from 'pino';
import { canonicalForm } from '../codecs.js';
import { type CliIo, write } from '../io.js';

export interface GatewayCommandOptions {
  config?: string;
  socks?: string;
  g2g?: string;
  metrics?: string;
  state?: string;
  codecs?: string;
  logLevel?: string;
}

/** Config file first, then flags on top (flags win). */
export async function resolveGatewayConfig(o: GatewayCommandOptions): Promise<GatewayConfig> {
  const base = o.config ? await loadConfig(o.config) : parseConfig({});
  return parseConfig(
    {
      ...base,
      ...(o.socks ? { socks: parseHostPort(o.socks) } : {}),
      ...(o.g2g ? { g2g: parseHostPort(o.g2g) } : {}),
      ...(o.metrics ? { metrics: o.metrics === 'off' ? false : parseHostPort(o.metrics) } : {}),
      ...(o.state ? { stateFile: o.state } : {}),
      ...(o.codecs ? { codecs: o.codecs.split(',').map((s) => s.trim()) } : {}),
      ...(o.logLevel ? { log: { level: o.logLevel } } : {}),
    },
    'flags',
  );
}

export async function startGatewayFromConfig(
  registry: CodecRegistry,
  config: GatewayConfig,
  options: { canonical?: CanonicalForm; logDestination?: NodeJS.WritableStream } = {},
): Promise<Gateway> {
  const codecs = (config.codecs ?? registry.protocols()).map((p) => registry.get(p));
  const logger = pino(
    { name: 'crosstalk', level: config.log.level },
    options.logDestination ?? process.stderr,
  );
  return createGateway({
    codecs,
    canonical: options.canonical ?? canonicalForm(),
    socks: config.socks,
    g2g: config.g2g,
    metrics: config.metrics,
    ...(config.stateFile ? { stateFile: config.stateFile } : {}),
    upstream: config.upstream,
    ...(config.trustedGateways ? { trustedGateways: config.trustedGateways } : {}),
    logger,
    timeouts: config.timeouts,
    limits: config.limits,
    ...(config.maxBacklog ? { maxBacklog: config.maxBacklog } : {}),
  });
}

export function describeGateway(gateway: Gateway, protocols: readonly string[]): string {
  const { host, port } = gateway.socks;
  return [
    `CrossTalk gateway ${gateway.id.slice(0, 16)}… is running.`,
    '',
    `  SOCKS4 proxy   ${host}:${port}`,
    `  G2G endpoint   ${gateway.g2g ? `${gateway.g2g.host}:${gateway.g2g.port} (TCP, Noise)` : JSON.stringify(gateway.contact)}`,
    gateway.metricsAddress
      ? `  metrics        http://${gateway.metricsAddress.host}:${gateway.metricsAddress.port}/metrics`
      : '  metrics        off (--metrics host:port)',
    `  protocols      ${protocols.join(', ') || 'none (relay only)'}`,
    '',
    'Point your IM client at it: in its connection or proxy settings choose SOCKS4 (or SOCKS4a),',
    `host ${host}, port ${port}, no authentication, and log in as usual. Your own server still sees`,
    'you; buddies on other networks are added as user@network (e.g. bob@yahoo, alice@aol,',
    'a@hotmail.com@msn). XMPP clients must not use TLS to their server (CrossTalk cannot read it).',
    '',
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}

/** `crosstalk gateway`: runs until SIGINT/SIGTERM, then shuts down gracefully. */
export async function gateway(registry: CodecRegistry, o: GatewayCommandOptions, io: CliIo): Promise<number> {
  const config = await resolveGatewayConfig(o);
  const running = await startGatewayFromConfig(registry, config);
  await write(io.stdout, describeGateway(running, config.codecs ?? registry.protocols()));
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await write(io.stdout, 'Shutting down…\n');
  await running.close();
  return 0;
}
