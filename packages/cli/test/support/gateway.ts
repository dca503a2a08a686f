import { stanza } from '@crosstalk/codec-xmpp';
import { addressKey, type MemoryDht } from '@crosstalk/core';
import {
  createGateway,
  type Directory,
  type Gateway,
  type GatewayEvent,
  type GatewayOptions,
} from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { builtInCodecs } from '../../src/codecs.js';
import type { Dial, NetworkFixture, UserDriver } from '../../src/drivers/index.js';

/**
 * What the walk-through needs of a gateway: a `Gateway` in this process, or a gateway process seen
 * through its log and a directory reader of the test's own (support/distributed.ts).
 */
export interface GatewayView {
  readonly id: string;
  readonly socks: { host: string; port: number };
  readonly directory: Pick<Directory, 'lookupLocation' | 'pendingFor'>;
  on(listener: (event: GatewayEvent) => void): () => void;
}

/** Gateways started so far in this test file, for the names `E2E_DEBUG` traces them by. */
let started = 0;

/**
 * A real gateway with every built-in codec on `dht`, its SOCKS4 front on a free loopback port
 * (`options` adds to or overrides that). `E2E_DEBUG=1`: every event it reports goes to stderr, to
 * see where a step stopped.
 */
export async function startGateway(dht: MemoryDht, options: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const g = await createGateway({
    codecs: builtInCodecs(),
    dht,
    canonical: stanza,
    socks: { port: 0 },
    logger: false,
    ...options,
  });
  if (process.env.E2E_DEBUG) trace(`G${++started}`, g);
  return g;
}

function trace(name: string, g: Gateway): void {
  g.on((e) => {
    const line = JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) ?? e.type;
    process.stderr.write(`${name} ${line.slice(0, 400)}\n`);
  });
}

/** How a client configured with the gateway as its SOCKS proxy reaches any server. */
export const through =
  (g: Pick<GatewayView, 'socks'>): Dial =>
  (host, port) =>
    socksConnect(g.socks, host, port);

/** The first gateway event that matches, from now on; rejects naming `what` after `timeoutMs`. */
export function gatewayEvent(
  g: Pick<GatewayView, 'on'>,
  match: (e: GatewayEvent) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<GatewayEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the gateway to report ${what}`));
    }, timeoutMs);
    timer.unref();
    const off = g.on((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/**
 * What a gateway did with the sessions it proxied, from now on: `verified` lists each login it
 * verified (`protocol:user`), `intercepted` each thing it took over (an outbound event, a roster
 * merged with foreign buddies, a delivery). A gateway between two users of one network should
 * verify them and intercept nothing. No gateway: both stay empty.
 */
export function watchGateway(g: Gateway | undefined): { verified: string[]; intercepted: string[] } {
  const verified: string[] = [];
  const intercepted: string[] = [];
  g?.on((e) => {
    if (e.type === 'verified') verified.push(`${e.protocol}:${addressKey(e.user)}`);
    if (e.type === 'session' && e.event.type === 'outbound') intercepted.push(e.event.event.kind);
    if (e.type === 'session' && e.event.type === 'roster' && e.event.merged.length)
      intercepted.push('roster');
    if (e.type === 'delivered') intercepted.push(`delivered ${e.event.kind}`);
  });
  return { verified, intercepted };
}

/**
 * The gateways and users a test file starts, closed together after each test: `gateway(dht)` starts
 * one (as `startGateway`), `user(fixture, name, via)` makes a driver whose connections go through it.
 */
export function testGateways() {
  const gateways: Gateway[] = [];
  const drivers: UserDriver[] = [];
  return {
    async gateway(dht: MemoryDht, options: Partial<GatewayOptions> = {}): Promise<Gateway> {
      const g = await startGateway(dht, options);
      gateways.push(g);
      return g;
    },
    user(fixture: NetworkFixture, name: string, via: Gateway): UserDriver {
      const d = fixture.driver(name, through(via));
      drivers.push(d);
      return d;
    },
    async closeAll(): Promise<void> {
      for (const d of drivers.splice(0)) await d.disconnect().catch(() => {});
      for (const g of gateways.splice(0)) await g.close();
    },
  };
}

/** How many refusals a gateway counted with `reason` (`crosstalk_refused_total{reason}`). */
export async function refusals(g: Gateway, reason: string): Promise<number> {
  return (await g.metrics.refused.get()).values
    .filter((v) => v.labels.reason === reason)
    .reduce((sum, v) => sum + v.value, 0);
}
