import { MemoryDht } from '@crosstalk/core';
import type { Gateway } from '@crosstalk/gateway';
import { afterAll, beforeAll } from 'vitest';
import {
  type NetworkFixture,
  type StartNetwork,
  startMsnpNetwork,
  startOscarNetwork,
  startXmppNetwork,
  startYmsgNetwork,
  type UserDriver,
} from '../../src/drivers/index.js';
import { startGateway, through } from './gateway.js';
import type { Party } from './walkthrough.js';

/** Every protocol's network as the demo and the matrix start it (MSN: MSNP12). */
export const NETWORKS = {
  oscar: startOscarNetwork,
  ymsg: startYmsgNetwork,
  msnp: startMsnpNetwork,
  xmpp: startXmppNetwork,
} satisfies Record<string, StartNetwork>;

export type Protocol = keyof typeof NETWORKS;

/**
 * The networks a protocol's own tests pair it with: `CROSSTALK_E2E_PEER` (one protocol) when set,
 * else `defaults`. e2e-matrix.test.ts pairs every protocol with every other.
 */
export function peers(defaults: readonly Protocol[]): { protocol: Protocol; start: StartNetwork }[] {
  const wanted = process.env.CROSSTALK_E2E_PEER;
  if (wanted && !(wanted in NETWORKS))
    throw new Error(`CROSSTALK_E2E_PEER=${wanted}: no such driver in src/drivers`);
  const chosen = wanted ? [wanted as Protocol] : defaults;
  return chosen.map((protocol) => ({ protocol, start: NETWORKS[protocol] }));
}

export interface NetworkSpec {
  start: StartNetwork;
  /** Its users' names; each one's password is `<name>-pw`. */
  names: readonly string[];
}

/** One network of a `twoNetworks` suite, behind its own gateway (both there once the suite started). */
export class Side {
  fixture!: NetworkFixture;
  gateway!: Gateway;

  constructor(
    readonly spec: NetworkSpec,
    /** Where the drivers made go, to be disconnected after the suite. */
    private readonly used: UserDriver[],
  ) {}

  /** A driver for the `i`-th user, whose every connection goes through this side's gateway. */
  user(i: number): UserDriver {
    const d = this.fixture.driver(this.spec.names[i]!, through(this.gateway));
    this.used.push(d);
    return d;
  }

  /** The same, with its gateway and protocol, for the walk-through steps. */
  party(i: number): Party {
    return { user: this.user(i), gateway: this.gateway, protocol: this.fixture.protocol };
  }
}

/**
 * Two networks for the tests of the `describe` it is called in, each behind its own gateway, the
 * gateways sharing one DHT: started before the tests; after them, every driver made is
 * disconnected and everything stopped.
 */
export function twoNetworks(a: NetworkSpec, b: NetworkSpec): [Side, Side] {
  const used: UserDriver[] = [];
  const sides: [Side, Side] = [new Side(a, used), new Side(b, used)];

  beforeAll(async () => {
    const dht = new MemoryDht();
    for (const s of sides) {
      s.fixture = await s.spec.start(s.spec.names.map((name) => ({ name, password: `${name}-pw` })));
      s.gateway = await startGateway(dht);
    }
  }, 60_000);

  afterAll(async () => {
    for (const d of used.splice(0)) await d.disconnect().catch(() => {});
    for (const s of sides) await s.gateway?.close();
    for (const s of sides) await s.fixture?.stop();
  });

  return sides;
}
