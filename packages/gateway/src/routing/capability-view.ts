import { ALL_FEATURES, type Capability, CapabilityGraph, type Chain, type Feature } from '@crosstalk/core';
import type { CapabilityIndexEntry, CapabilityRecord } from './capability-records.js';
import { isExitFormat } from './exits.js';
import { edgeName, isCanonicalFormat } from './formats.js';

/** Where a view reads capability records: the directory, or anything that answers the same. */
export interface CapabilityLookup {
  /** What each gateway says it translates `from` into. */
  capabilityIndex(from: string): Promise<Pick<CapabilityIndexEntry, 'gateway' | 'to'>[]>;
  /** Every gateway's verified record of the edge `from>to`. */
  capabilities(edge: string): Promise<CapabilityRecord[]>;
}

/** Options of `CapabilityView`. */
export interface CapabilityViewOptions {
  /** Where records are read. */
  lookup: CapabilityLookup;
  /** Clock, ms. */
  now?: () => number;
  /**
   * How long a record read is used before the view reads it again, ms (a record is never used past
   * its own expiry either).
   */
  cacheTtl: number;
  /** Most formats one refresh explores (each costs a DHT read or more). Default 64. */
  maxFormats?: number;
  /** Most records the view holds. Default 10,000. */
  maxRecords?: number;
}

/** What a route must do: from a sender's protocol to a network's users, optionally at one gateway. */
export interface RouteQuery {
  /** The sender's protocol (the chain's first format). */
  from: string;
  /** Who performs the first step: the sender's gateway. Any gateway when absent. */
  origin?: string;
  /** The recipient's network. */
  network: string;
  /** The gateway that serves the recipient (it performs the last step). Any when absent. */
  gateway?: string;
  /** Features every step must keep. */
  require?: readonly Feature[];
  /** Gateways not to use (they failed just now). */
  avoid?: ReadonlySet<string>;
  /** The features of the source format, for what the chain loses; default what its first step keeps. */
  sourceFeatures?: readonly Feature[];
  /**
   * A chain that ends in an exit to `network` (`exit:sip`), for an address no user location answers
   * for; otherwise the chain ends in a client protocol, never in an exit.
   */
  exit?: boolean;
}

/** One step of a route: a translation and the gateway that performs it. */
export interface RouteStep {
  /** The format it translates from. */
  from: string;
  /** The format it translates to. */
  to: string;
  /** The gateway performing it. */
  gateway: string;
  /** How to reach that gateway. */
  contact: CapabilityRecord['contact'];
  /** Its cost. */
  cost: number;
  /** What it carries across. */
  preserves: readonly Feature[];
}

/** A composed route: the steps in order, what it costs, keeps and loses, and how many G2G transfers it takes. */
export interface Route {
  /** The steps, the sender's gateway's first and the recipient's gateway's last. */
  steps: RouteStep[];
  /** Sum of the steps' costs. */
  cost: number;
  /** Features every step keeps. */
  preserves: Feature[];
  /** Features of the source format the route does not carry through. */
  loses: Feature[];
  /** Times the event moves from one gateway to another (0: delivered where it was sent). */
  transfers: number;
}

/** Id of the zero-cost step from a protocol to the network it delivers to (internal to composition). */
const DELIVER = '~deliver';

/**
 * One gateway's view of the capability graph, read from the directory (`cap:<from>>*` to find the
 * edges out of a format, `cap:<from>><to>` for the records of each) and kept for `cacheTtl`:
 * `refresh` explores from the formats this gateway speaks, through every canonical form it can
 * reach, and `route` composes from what it holds (no DHT read on the way of an event).
 */
export class CapabilityView {
  readonly #o: CapabilityViewOptions;
  readonly #now: () => number;
  /** Records by `gateway from>to`. */
  #records = new Map<string, CapabilityRecord & { until: number }>();
  /** Networks any record ever named: they stay foreign after their gateways left ("no route", not "native"). */
  readonly #everReached = new Set<string>();
  /** Per gateway, and per network delivered to, until when some record of it is usable. */
  #gatewayUntil = new Map<string, number>();
  #networkUntil = new Map<string, number>();
  #refreshedAt: number | undefined;
  #refreshing: Promise<void> | undefined;
  #memo = new Map<string, Route | undefined>();

  constructor(options: CapabilityViewOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** When the last refresh finished, ms (undefined before the first). */
  get refreshedAt(): number | undefined {
    return this.#refreshedAt;
  }

  /**
   * Reads the graph again, from `start` (the formats this gateway speaks) outwards through every
   * canonical form reached. Records of this gateway's own (`local`) are kept as given. A refresh
   * already under way is joined. A read that fails leaves what was there before; a record a read
   * misses while its gateway's index still offers the edge is kept until its cache time is up.
   */
  refresh(start: readonly string[], local: readonly CapabilityRecord[] = []): Promise<void> {
    this.#refreshing ??= this.#explore(start, local).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #explore(start: readonly string[], local: readonly CapabilityRecord[]): Promise<void> {
    const now = this.#now();
    const maxFormats = this.#o.maxFormats ?? 64;
    const maxRecords = this.#o.maxRecords ?? 10_000;
    const next = new Map<string, CapabilityRecord & { until: number }>();
    const keep = (r: CapabilityRecord, until: number) => {
      if (next.size >= maxRecords) return;
      const key = edgeKey(r);
      const known = next.get(key);
      // A restarted gateway's old record may still be stored beside its new one: the newest wins.
      if (!known || known.expiresAt < r.expiresAt) next.set(key, { ...r, until });
    };
    for (const r of local) keep(r, Number.POSITIVE_INFINITY);
    const seen = new Set<string>(start);
    /** `gateway from>to` for every edge a gateway's index says it offers, in this read. */
    const offered = new Set<string>();
    let frontier = [...new Set(start)];
    while (frontier.length > 0) {
      const level = await Promise.all(
        frontier.map(async (from) => {
          const targets = new Set<string>();
          for (const entry of await this.#o.lookup.capabilityIndex(from))
            for (const t of entry.to) {
              targets.add(t);
              offered.add(edgeKey({ gateway: entry.gateway, from, to: t }));
            }
          const found = await Promise.all(
            [...targets].sort().map((to) => this.#o.lookup.capabilities(edgeName(from, to))),
          );
          return found.flat();
        }),
      );
      const read = new Set(frontier);
      const found = level.flat().map((r) => ({ r, until: Math.min(r.expiresAt, now + this.#o.cacheTtl) }));
      // A record this read missed, though its gateway's index still offers the edge, is kept until
      // its earlier read's time is up: a lookup on a real DHT can miss a record (a lagging node), and
      // forgetting the edge until the next read answered "no route" for a reachable user. An edge its
      // gateway withdrew (gone from its index) goes now; a newer version replaces the record.
      for (const [key, r] of this.#records)
        if (read.has(r.from) && offered.has(key) && r.until > now && r.until !== Number.POSITIVE_INFINITY)
          found.push({ r, until: r.until });
      frontier = [];
      for (const { r, until } of found) {
        // A fresh record comes first, and an older version (a carried one) never replaces it.
        keep(r, until);
        // Chains pass through canonical forms only: a client protocol is where one starts or ends.
        if (isCanonicalFormat(r.to) && !seen.has(r.to) && seen.size < maxFormats) {
          seen.add(r.to);
          frontier.push(r.to);
        }
      }
    }
    this.#records = next;
    this.#memo = new Map();
    this.#gatewayUntil = new Map();
    this.#networkUntil = new Map();
    for (const r of next.values()) {
      // A chain ends at a gateway by its edge into a client protocol: one with only conversions or
      // exits serves its users (attached through a way in) as one without capabilities does, directly.
      if (!isCanonicalFormat(r.to) && !isExitFormat(r.to))
        this.#gatewayUntil.set(r.gateway, Math.max(this.#gatewayUntil.get(r.gateway) ?? 0, r.until));
      for (const n of r.networks)
        this.#networkUntil.set(n, Math.max(this.#networkUntil.get(n) ?? 0, r.until));
    }
    this.#refreshedAt = this.#now();
    for (const r of next.values()) for (const n of r.networks) this.#everReached.add(n);
  }

  /** Records usable now. */
  records(): CapabilityRecord[] {
    const now = this.#now();
    return [...this.#records.values()].filter((r) => r.until > now);
  }

  /**
   * Whether some record says `gateway` delivers into a client protocol (a chain can end there; the
   * view knows that gateway). Conversions and exits alone do not count.
   */
  knows(gateway: string): boolean {
    return (this.#gatewayUntil.get(gateway) ?? 0) > this.#now();
  }

  /** Whether some gateway delivers to `network` now. */
  delivers(network: string): boolean {
    return (this.#networkUntil.get(network) ?? 0) > this.#now();
  }

  /** Networks some gateway delivers to now. */
  networks(): Set<string> {
    const now = this.#now();
    return new Set([...this.#networkUntil].filter(([, until]) => until > now).map(([n]) => n));
  }

  /** Whether `network` was ever reachable through the view (it stays a foreign network when its gateways leave). */
  everReached(network: string): boolean {
    return this.#everReached.has(network);
  }

  /**
   * The cheapest loop-free route for the query from the records held: the first step by the
   * origin, then conversions between canonical forms by any gateway, then the last step into a
   * protocol that delivers to the network, by the recipient's gateway. Undefined when none.
   */
  route(query: RouteQuery): Route | undefined {
    const key = JSON.stringify([
      query.from,
      query.origin,
      query.network,
      query.gateway,
      query.require,
      query.avoid ? [...query.avoid].sort() : [],
      query.sourceFeatures,
      query.exit === true,
    ]);
    const now = this.#now();
    if (this.#memo.has(key)) {
      const memo = this.#memo.get(key);
      if (!memo || memo.steps.every((s) => (this.#records.get(edgeKey(s))?.until ?? 0) > now)) return memo;
    }
    const route = composeRoute(this.records(), query);
    this.#memo.set(key, route);
    return route;
  }
}

/** A record's (or a route step's) key in the view: `gateway from>to`. */
const edgeKey = (e: { gateway: string; from: string; to: string }) =>
  `${e.gateway} ${edgeName(e.from, e.to)}`;

/**
 * Composes a route over `records` (sans-IO; `CapabilityView.route` memoises it): the core graph's
 * cheapest loop-free chain, over the edges that may appear in a route for this query.
 */
export function composeRoute(records: readonly CapabilityRecord[], query: RouteQuery): Route | undefined {
  const graph = new CapabilityGraph();
  const sink = `net:${query.network}`;
  const byId = new Map<string, CapabilityRecord>();
  const into = new Set<string>();
  for (const r of records) {
    if (query.avoid?.has(r.gateway)) continue;
    const fromProtocol = !isCanonicalFormat(r.from);
    const toProtocol = !isCanonicalFormat(r.to);
    if (fromProtocol && toProtocol) continue;
    if (fromProtocol && (r.from !== query.from || (query.origin && r.gateway !== query.origin))) continue;
    if (toProtocol) {
      // A chain for a user ends in their protocol; a chain for an address only an exit serves, in the exit.
      if (isExitFormat(r.to) !== (query.exit === true)) continue;
      if (!r.networks.includes(query.network)) continue;
      if (query.gateway && r.gateway !== query.gateway) continue;
      into.add(r.to);
    }
    const id = `${r.gateway}:${edgeName(r.from, r.to)}`;
    if (byId.has(id)) continue;
    byId.set(id, r);
    graph.add({
      id,
      from: r.from,
      to: r.to,
      cost: r.cost,
      preserves: r.preserves,
      provider: { kind: 'remote', gateway: r.gateway },
    });
  }
  // One sink per network: a protocol delivering to it reaches it at no cost, keeping all it carries.
  for (const protocol of [...into].sort())
    graph.add({
      id: `${DELIVER}:${protocol}`,
      from: protocol,
      to: sink,
      cost: 0,
      preserves: [...ALL_FEATURES],
      provider: { kind: 'local', codec: protocol },
    });
  if (query.sourceFeatures) graph.setFormat(query.from, query.sourceFeatures);
  const chain = graph.compose(query.from, sink, query.require ? { require: query.require } : {});
  if (!chain) return undefined;
  return toRoute(chain, byId, query);
}

function toRoute(chain: Chain, byId: Map<string, CapabilityRecord>, query: RouteQuery): Route {
  const steps: RouteStep[] = [];
  for (const cap of chain.steps as Capability[]) {
    const r = byId.get(cap.id);
    if (!r) continue; // the delivery sink
    steps.push({
      from: r.from,
      to: r.to,
      gateway: r.gateway,
      contact: r.contact,
      cost: r.cost,
      preserves: r.preserves,
    });
  }
  let transfers = 0;
  for (let i = 1; i < steps.length; i++) if (steps[i]!.gateway !== steps[i - 1]!.gateway) transfers++;
  if (query.origin && steps[0] && steps[0].gateway !== query.origin) transfers++;
  // A roster is the client's own business with its server: it never travels, so it is never lost.
  const loses = chain.loses.filter((f) => f !== 'roster' && !f.startsWith('roster.'));
  return { steps, cost: chain.cost, preserves: [...chain.preserves], loses, transfers };
}
