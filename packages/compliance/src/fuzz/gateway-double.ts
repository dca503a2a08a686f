import {
  type Address,
  BUILT_IN_NETWORKS,
  type Codec,
  isDomainNetwork,
  MemoryCookieTable,
  type RosterItem,
  type SessionContext,
} from '@crosstalk/core';
import type { Random } from './random.js';

/**
 * What the gateway engine gives the proxy sessions of one fuzz input, sans IO: one cookie table
 * for all the input's connections (so a BOS or switchboard connection finds the cookie its login
 * connection recorded), virtual endpoints that are only noted, a fixed clock and counted ids, and
 * a foreign roster. Foreign is decided as the gateway does when it bridges every built-in network
 * and XMPP.
 */
export class FuzzGateway {
  /** The cookie table all the input's connections share, on the fixed fuzz clock. */
  readonly cookies = new MemoryCookieTable({ now: () => CLOCK });
  /** Virtual endpoints the sessions allocated, with the data a connection to them carries. */
  readonly allocations: {
    /** The endpoint's address (127.0.0.2: never dialled). */
    host: string;
    /** Its port, counted up from 40000. */
    port: number;
    /** What the session attached to it (codec-specific, e.g. a switchboard invitation). */
    data: unknown;
  }[] = [];
  readonly #codec: Codec;
  readonly #rng: Random;
  readonly #roster: readonly RosterItem[];
  #ids = 0;

  constructor(codec: Codec, rng: Random, roster: readonly RosterItem[]) {
    this.#codec = codec;
    this.#rng = rng;
    this.#roster = roster;
  }

  /** Whether `a` is on a network other than the codec's that the gateway bridges (XMPP domains included). */
  isForeign(a: Address): boolean {
    const own = this.#codec.networks;
    if (own.includes(a.network)) return false;
    if (isDomainNetwork(a.network)) return !own.includes('xmpp');
    return (BUILT_IN_NETWORKS as readonly string[]).includes(a.network);
  }

  /** The session context of connection `connectionId` (`virtual`: a connection to an allocated endpoint). */
  context(connectionId: string, virtual?: { data: unknown }): SessionContext {
    return {
      connectionId,
      target: { host: '127.0.0.1', port: this.#codec.defaultPorts[0] ?? 1 },
      isForeign: (a) => this.isForeign(a),
      foreignRoster: () => this.#roster,
      cookies: this.cookies,
      endpoints: {
        allocate: (_protocol, data) => {
          const endpoint = { host: '127.0.0.2', port: 40_000 + this.allocations.length, data };
          this.allocations.push(endpoint);
          return { host: endpoint.host, port: endpoint.port };
        },
        release: () => {},
      },
      ...(virtual ? { virtual } : {}),
      now: () => CLOCK,
      newId: () => `fuzz-${++this.#ids}-${this.#rng.u32().toString(36)}`,
    };
  }
}

/** The fuzz clock: fixed, so that an input replays identically. */
const CLOCK = 1_700_000_000_000;
