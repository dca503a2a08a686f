import {
  type Address,
  type CanonicalEvent,
  type Codec,
  type Feature,
  formatAddress,
  type G2gContact,
  isDomainNetwork,
  NoTranslationPathError,
} from '@crosstalk/core';
import type { Logger } from 'pino';
import type { Directory, Location } from '../directory/directory.js';
import {
  ExitRefusedError,
  ForgedEnvelopeError,
  NoRouteError,
  NotNextHopError,
  SpoofedEventError,
  UserOfflineError,
} from '../errors/errors.js';
import type { CanonicalForm } from '../g2g/canonical-form.js';
import type { GatewayIdentity } from '../g2g/identity.js';
import { type G2gPeer, G2gRefusedError } from '../g2g/link.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { type CapabilityRecord, type OwnCapability, ownCapabilities } from './capability-records.js';
import { CapabilityView, type Route, type RouteQuery } from './capability-view.js';
import {
  decodeEnvelope,
  type EnvelopeHeader,
  type EnvelopeStep,
  encodeEnvelope,
  signEnvelope,
} from './envelope.js';
import { type ExitContext, isExitFormat, type NodeExit } from './exits.js';
import { carry, LossNotices, lossNotice, sortFeatures, wanted } from './feature-loss.js';
import { canonicalFormat, edgeName, FORMAT_PATTERN, formOf } from './formats.js';
import { checkHop, type HopPlan } from './hop-check.js';
import { SeenEnvelopes } from './seen-envelopes.js';

/** How long a send refused as spoofed waits before its one retry, ms: the time a DHT put takes to be seen. */
const SPOOFED_RETRY_MS = 1_000;

/** Tuning of capability routing (`GatewayOptions.routing`). */
export interface RoutingOptions {
  /** Cost this gateway advertises for each of its translations (default 1). */
  cost?: number;
  /** Most G2G transfers a chain may take (default 8). */
  maxHops?: number;
  /**
   * How often the gateway reads the capability graph again, ms (default a third of the soft TTL):
   * a gateway that starts is found within it, one that stops is dropped once its records lapse.
   */
  refreshInterval?: number;
  /** How old a routed event's signature may be when a hop takes it, ms (default 60 s). */
  maxAge?: number;
}

/** What the router needs from its gateway (ports: no sockets here). */
export interface CapabilityRouterOptions extends RoutingOptions {
  identity: GatewayIdentity;
  directory: Directory;
  codecs: readonly Codec[];
  /** The canonical forms this gateway speaks on G2G, the preferred first. */
  forms: readonly CanonicalForm[];
  contact: () => G2gContact;
  metrics: GatewayMetrics;
  log: Logger;
  now: () => number;
  /** How far ahead a signature may be dated, ms. */
  maxSkew: number;
  /** Default refresh interval when `refreshInterval` is not set, ms. */
  softTtl: number;
  /**
   * Sends bytes to a peer gateway: a plain EVENT frame (with `located`, the sender's location
   * record, a LOCATED frame), or a ROUTED frame (an envelope).
   */
  send(peer: G2gPeer, payload: Uint8Array, routed: boolean, located?: Uint8Array): Promise<string>;
  /** The recipient's location (cached unless `fresh`). */
  locate(user: Address, fresh: boolean): Promise<Location | undefined>;
  /** Forgets a cached location (a send to it failed). */
  forget(user: Address): void;
  /** Delivers an event to a user here; resolves with the protocol it was delivered in. */
  deliver(event: CanonicalEvent, lost: readonly Feature[]): Promise<string>;
  /** Tells a user of this gateway something, as an IM from the gateway's system address. */
  tell(user: Address, text: string): void;
  /** A refused envelope: counted, logged, reported. */
  refused(error: Error, context: Record<string, unknown>): void;
  /** A new id for a routed event. */
  newId(): string;
}

/** An event that may travel between gateways (a roster never does). */
type RoutableEvent = Exclude<CanonicalEvent, { kind: 'roster' }>;

/** How an event leaves this gateway. */
interface Plan {
  /** The route, or undefined when the recipient's gateway is not in the view (sent as before capability routing). */
  route: Route | undefined;
  /** What the route drops of this event. */
  lost: Feature[];
}

/**
 * Capability routing for one gateway (docs/ARCHITECTURE.md "Capability routing"): advertises what
 * it translates, keeps a view of the capability graph, composes a chain for each event that leaves
 * it and sends it along, checks and carries events other gateways route through it, and accounts
 * for what chains lose.
 */
export class CapabilityRouter {
  readonly view: CapabilityView;
  readonly #o: CapabilityRouterOptions;
  readonly #forms = new Map<string, CanonicalForm>();
  /** Its codecs over its forms, conversions between its forms. */
  readonly #base: readonly OwnCapability[];
  /** Its exits, by vertex (`exit:sip`). */
  readonly #exits = new Map<string, NodeExit>();
  #own: readonly OwnCapability[];
  #performs: Set<string>;
  readonly #seen: SeenEnvelopes;
  readonly #notices = new LossNotices();
  #timer: NodeJS.Timeout | undefined;
  #advertised: { edges: string[]; froms: string[] } = { edges: [], froms: [] };
  /** When the view was last read again on demand, per question, and that read. */
  readonly #asked = new Map<string, { at: number; reading: Promise<void> }>();

  constructor(options: CapabilityRouterOptions) {
    this.#o = options;
    for (const form of options.forms) this.#forms.set(form.name, form);
    this.#base = ownCapabilities(options.codecs, options.forms, options.cost ?? 1);
    this.#own = this.#base;
    this.#performs = new Set(this.#own.map((c) => edgeName(c.from, c.to)));
    this.#seen = new SeenEnvelopes(options.now);
    const interval = this.#refreshInterval;
    this.view = new CapabilityView({
      lookup: options.directory,
      now: options.now,
      // A record read is trusted for two refreshes: one failed read does not drop the graph.
      cacheTtl: interval * 2 + 1000,
    });
  }

  get #refreshInterval(): number {
    return this.#o.refreshInterval ?? Math.max(1000, Math.floor(this.#o.softTtl / 3));
  }

  get #preferred(): CanonicalForm {
    return this.#o.forms[0]!;
  }

  /** What this gateway translates: its codecs over its forms, conversions between its forms, its exits. */
  get own(): readonly OwnCapability[] {
    return this.#own;
  }

  /** Each exit as an edge from every canonical form this gateway speaks, naming the networks it exits to. */
  #recompute(): void {
    const exits: OwnCapability[] = [];
    for (const exit of this.#exits.values())
      for (const form of this.#o.forms)
        exits.push({
          from: canonicalFormat(form.name),
          to: exit.protocol,
          cost: exit.cost ?? this.#o.cost ?? 1,
          preserves: [...exit.preserves],
          networks: [...exit.networks],
        });
    this.#own = [...this.#base, ...exits];
    this.#performs = new Set(this.#own.map((c) => edgeName(c.from, c.to)));
  }

  /**
   * Adds an exit (docs/ARCHITECTURE.md "Capability routing", exits): from now on this gateway
   * performs `canonical:<form>>exit:<name>` for the networks it names, and takes the events whose
   * chain ends there. Its records are published with the next `advertise`.
   */
  addExit(exit: NodeExit): void {
    if (!isExitFormat(exit.protocol) || !FORMAT_PATTERN.test(exit.protocol))
      throw new ExitRefusedError(`an exit's vertex is exit:<name>, not ${exit.protocol}`);
    if (this.#exits.has(exit.protocol)) throw new ExitRefusedError(`${exit.protocol} is added already`);
    const networks = exit.networks.map((n) => n.toLowerCase());
    if (networks.length === 0 || networks.length > 16 || networks.some((n) => n.length < 1 || n.length > 64))
      throw new ExitRefusedError(`${exit.protocol}: 1 to 16 networks of 1 to 64 characters`);
    this.#exits.set(exit.protocol, { ...exit, networks, deliver: exit.deliver.bind(exit) });
    this.#recompute();
  }

  /** Removes an exit; its records are withdrawn. */
  async removeExit(protocol: string): Promise<void> {
    if (!this.#exits.delete(protocol)) return;
    const edges = this.#own.filter((c) => c.to === protocol).map((c) => edgeName(c.from, c.to));
    this.#recompute();
    await runLimited(
      edges.map((e) => () => this.#o.directory.withdrawCapability(e).catch(() => {})),
      4,
    );
    await this.advertise().catch(() => {});
  }

  /**
   * Whether `gateway` speaks for `user` as an exit: its verified capability record (read again once
   * when the view has none) names an exit to the user's network. Such a gateway may send events from
   * addresses on that network (a phone's answer), which have no location record.
   */
  async exitServes(gateway: string, user: Address): Promise<boolean> {
    const network = user.network.toLowerCase();
    const serves = () =>
      this.view
        .records()
        .some((r) => r.gateway === gateway && isExitFormat(r.to) && r.networks.includes(network));
    if (serves()) return true;
    await this.#refreshOnDemand(`exit of ${gateway} for ${network}`);
    return serves();
  }

  /**
   * Sends an event from an address one of this gateway's exits exits to (a phone ringing or
   * answering) to a CrossTalk user, as any of its users' events go (the exit's handle checked the
   * sender's network).
   */
  async sendFromExit(protocol: string, event: RoutableEvent & { to: Address }): Promise<string> {
    const exit = this.#exits.get(protocol);
    if (!exit) throw new ExitRefusedError(`${protocol} is not an exit of this gateway`);
    return this.send(event, event.to, protocol);
  }

  /** This gateway's own records, as the view holds them (no DHT read needed for them). */
  #local(): CapabilityRecord[] {
    const contact = this.#o.contact();
    return this.own.map((c) => ({
      gateway: this.#o.identity.id,
      from: c.from,
      to: c.to,
      cost: c.cost,
      preserves: c.preserves,
      networks: c.networks ?? [],
      contact,
      expiresAt: Number.POSITIVE_INFINITY,
    }));
  }

  /** The formats the view explores from: the canonical forms this gateway speaks. */
  #start(): string[] {
    return this.#o.forms.map((f) => canonicalFormat(f.name));
  }

  // ------------------------------------------------------------------ advertising

  /**
   * Publishes (or re-signs) every capability of this gateway, and the index of what it translates
   * each format into. Each is its own record, signed by this gateway and about it only.
   */
  async advertise(): Promise<void> {
    const contact = this.#o.contact();
    const byFrom = new Map<string, string[]>();
    for (const c of this.own) byFrom.set(c.from, [...(byFrom.get(c.from) ?? []), c.to]);
    const work: (() => Promise<void>)[] = [
      ...this.own.map(
        (c) => () =>
          this.#o.directory.publishCapability(edgeName(c.from, c.to), {
            cost: c.cost,
            preserves: c.preserves,
            ...(c.networks ? { networks: c.networks } : {}),
            contact,
          }),
      ),
      ...[...byFrom].map(
        ([from, to]) =>
          () =>
            this.#o.directory.publishCapabilityIndex(from, to),
      ),
    ];
    this.#advertised = { edges: this.own.map((c) => edgeName(c.from, c.to)), froms: [...byFrom.keys()] };
    await runLimited(work, 4);
  }

  /** Withdraws everything `advertise` published (on stop). */
  async withdraw(): Promise<void> {
    const { edges, froms } = this.#advertised;
    await runLimited(
      [
        ...edges.map((e) => () => this.#o.directory.withdrawCapability(e).catch(() => {})),
        ...froms.map((f) => () => this.#o.directory.withdrawCapabilityIndex(f).catch(() => {})),
      ],
      4,
    );
  }

  // ------------------------------------------------------------------ the view

  /** Reads the graph now, and then every refresh interval. */
  start(): void {
    void this.refresh().catch(() => {});
    this.#timer = setInterval(() => void this.refresh().catch(() => {}), this.#refreshInterval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads the capability graph from the directory again (joins one under way). */
  async refresh(): Promise<void> {
    try {
      await this.view.refresh(this.#start(), this.#local());
      this.#o.log.debug(
        { records: this.view.records().length, networks: [...this.view.networks()].sort() },
        'read the capability graph',
      );
    } catch (error) {
      this.#o.log.warn({ err: error }, 'could not read the capability graph; keeping what was known');
      throw error;
    }
  }

  /**
   * Whether addresses on `network` are foreign here because another gateway delivers to them: a
   * network the view reaches now or ever did (when its gateways go, its users get "no route", not
   * their own server).
   */
  reaches(network: string): boolean {
    return this.view.everReached(network) || this.view.delivers(network);
  }

  /** The route the view gives now, for `crosstalk route`-like inspection and tests. */
  routeFor(
    from: string,
    network: string,
    options: { gateway?: string; require?: readonly Feature[] } = {},
  ): Route | undefined {
    const query = {
      from: this.#sourceFormat(from),
      origin: this.#o.identity.id,
      ...(options.gateway ? { gateway: options.gateway } : {}),
      ...(options.require ? { require: options.require } : {}),
      ...this.#source(from),
    };
    // A network users are on, else one only an exit serves (where no location answers, chains end).
    return (
      this.view.route({ ...query, network: routedNetwork(network) }) ??
      this.view.route({ ...query, network: network.toLowerCase(), exit: true })
    );
  }

  /**
   * Reads the graph again for an event the view cannot route (a gateway it does not know, a network
   * no recipient is online on), at most once a second for the same question. An event asking again
   * within that second waits for the read it started: on a DHT busy with a login burst a read takes
   * seconds, and the events behind the first failed "no route" meanwhile (docs/benchmarks.md).
   */
  async #refreshOnDemand(question: string): Promise<void> {
    const now = this.#o.now();
    const asked = this.#asked.get(question);
    if (asked && now - asked.at <= 1000) return asked.reading;
    if (this.#asked.size >= 1024) this.#asked.clear();
    const reading = this.refresh().catch(() => {});
    this.#asked.set(question, { at: now, reading });
    await reading;
  }

  /**
   * A route the view composes now; when there is none and `question` names why the view may be
   * behind, the graph is read again (`#refreshOnDemand`) and the route composed once more.
   */
  async #composeOrReread(
    compose: () => Route | undefined,
    question: () => string | undefined,
  ): Promise<Route | undefined> {
    const route = compose();
    if (route) return route;
    const asked = question();
    if (asked === undefined) return undefined;
    await this.#refreshOnDemand(asked);
    return compose();
  }

  /**
   * Where a chain starts: the sender's protocol when a codec here speaks it, else (a user attached
   * through a way in with no codec, such as the client API) the preferred canonical form.
   */
  #sourceFormat(protocol: string): string {
    return this.#o.codecs.some((c) => c.protocol === protocol)
      ? protocol
      : canonicalFormat(this.#preferred.name);
  }

  #source(protocol: string): { sourceFeatures?: Feature[] } {
    const codec = this.#o.codecs.find((c) => c.protocol === protocol);
    return codec ? { sourceFeatures: [...codec.features] } : {};
  }

  /** The cheapest route for `query` within the hop limit, keeping `require` when given. */
  #fitting(query: RouteQuery, require?: readonly Feature[]): Route | undefined {
    const route = this.view.route(require ? { ...query, require } : query);
    return route && route.transfers <= (this.#o.maxHops ?? 8) ? route : undefined;
  }

  /** A route that keeps every feature the event uses, else one that keeps at least its kind (`used[0]`). */
  #keeping(query: RouteQuery, used: readonly Feature[]): Route | undefined {
    return this.#fitting(query, used) ?? this.#fitting(query, [used[0]!]);
  }

  /**
   * The route for one event: keeping every feature it uses if a chain can, else its kind at least.
   * Throws `NoRouteError` when no chain reaches the recipient's gateway, and `NoTranslationPathError`
   * when chains do but none carries the event's kind (after accounting for the loss).
   */
  async #plan(event: CanonicalEvent, fromProtocol: string, gateway: string, to: Address): Promise<Plan> {
    const self = this.#o.identity.id;
    if (gateway !== self && !this.view.knows(gateway)) {
      // A gateway that started since the last read: read again.
      await this.#refreshOnDemand(`gateway ${gateway}`);
      if (!this.view.knows(gateway)) return { route: undefined, lost: [] };
    }
    const used = wanted(event);
    const query = {
      from: this.#sourceFormat(fromProtocol),
      origin: self,
      network: routedNetwork(to.network),
      gateway,
      ...this.#source(fromProtocol),
    };
    // A known gateway whose edges the last read missed (it advertised after the read): read again.
    const route = await this.#composeOrReread(
      () => this.#keeping(query, used),
      () => (gateway !== self && !this.#fitting(query) ? `route to ${gateway}` : undefined),
    );
    if (route) return { route, lost: carry(event, route.steps).lost };
    const any = this.#fitting(query);
    if (!any)
      throw new NoRouteError(
        to.network,
        `no chain of translations from ${fromProtocol} reaches ${formatAddress(to)}'s gateway ${gateway.slice(0, 12)}…`,
      );
    // Chains exist, but none carries this kind of event: it is lost whole.
    this.#account(event, fromProtocol, any, used);
    throw new NoTranslationPathError(fromProtocol, any.steps.at(-1)?.to ?? to.network, [used[0]!]);
  }

  /** Counts what a chain drops of an event, and tells the sender once per conversation. */
  #account(event: CanonicalEvent, fromProtocol: string, route: Route, lost: readonly Feature[]): void {
    if (lost.length === 0) return;
    const toProtocol = route.steps.at(-1)?.to ?? 'unknown';
    for (const feature of lost)
      this.#o.metrics.featureLoss.inc({ from: fromProtocol, to: toProtocol, feature });
    const untold = this.#notices.untold(event, lost);
    if (untold.length > 0 && event.kind !== 'roster' && event.to)
      this.#o.tell(event.from, lossNotice(event.to, untold, `${formatAddress(event.to)} uses ${toProtocol}`));
  }

  /**
   * Accounts for an event delivered on this gateway (sender and recipient both here): the chain is
   * this gateway's own codecs.
   */
  accountLocal(event: CanonicalEvent, fromProtocol: string): void {
    if (!('to' in event) || !event.to) return;
    const route = this.routeFor(fromProtocol, routedNetwork(event.to.network), {
      gateway: this.#o.identity.id,
    });
    if (!route) return;
    this.#account(event, fromProtocol, route, carry(event, route.steps).lost);
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends an event to a user on another gateway along the chain the view composes: straight to the
   * recipient's gateway when the chain has one transfer (a plain EVENT frame in the form it takes),
   * hop by hop in a signed envelope when it has more, as before capability routing when the view
   * does not know the recipient's gateway. Resolves with the protocol it was delivered in.
   */
  async send(event: CanonicalEvent, to: Address, fromProtocol: string): Promise<string> {
    if (event.kind === 'roster') throw new SpoofedEventError('roster events do not travel between gateways');
    for (let attempt = 0; attempt < 2; attempt++) {
      const location = await this.#o.locate(to, attempt > 0);
      if (!location) {
        // No user location answers for the address: a chain that ends in an exit to its network may.
        const exit = await this.#exitPlan(event, fromProtocol, to);
        if (exit) return this.#sendToExit(event, fromProtocol, exit);
        await this.#unreachedNetwork(to);
        throw new UserOfflineError(`${formatAddress(to)} is not online at any gateway`);
      }
      const { route, lost } = await this.#plan(event, fromProtocol, location.gateway, to);
      try {
        const protocol = await this.#sendAlong(event, location, route);
        if (route) this.#account(event, fromProtocol, route, lost);
        return protocol;
      } catch (error) {
        if (error instanceof G2gRefusedError && error.refusal !== 'ERR_DELIVERY_FAILED') {
          // Refused as spoofed, though this gateway serves the sender: the recipient's gateway did
          // not find the sender's location yet (a DHT is eventually consistent). Once more, later.
          if (error.refusal === 'ERR_SPOOFED_EVENT' && attempt === 0) {
            await new Promise((resolve) => setTimeout(resolve, SPOOFED_RETRY_MS));
            continue;
          }
          if (error.refusal === 'ERR_USER_OFFLINE') {
            this.#o.forget(to);
            throw new UserOfflineError(`${formatAddress(to)} is not online at their gateway`);
          }
          throw error;
        }
        // A link failed, here or further down the chain: the cached location may be stale, and so
        // may the records the chain was composed from (a gateway that restarted elsewhere). Look again once.
        this.#o.forget(to);
        if (route && route.transfers > 1) await this.#refreshOnDemand(`failed ${location.gateway}`);
        if (attempt > 0) {
          // The record named a gateway that is gone (its withdrawal not yet read everywhere): when
          // gateways delivered to the network and none does now, that is no route, as with no record.
          // (A network never in the graph, such as client-API nodes' users, stays a failed delivery.)
          if (this.view.everReached(routedNetwork(to.network))) await this.#unreachedNetwork(to);
          throw error;
        }
      }
    }
    throw new UserOfflineError(formatAddress(to));
  }

  /**
   * The route to an exit for an address no user location answers for: the cheapest loop-free chain
   * from the sender's format that ends in an exit to the address's network, keeping what the event
   * uses (its kind at least). Undefined when no exit serves that network; `NoTranslationPathError`
   * when exits do but none carries this kind of event (an IM to a phone).
   */
  async #exitPlan(event: CanonicalEvent, fromProtocol: string, to: Address): Promise<Plan | undefined> {
    const network = to.network.toLowerCase();
    const query = {
      from: this.#sourceFormat(fromProtocol),
      origin: this.#o.identity.id,
      network,
      exit: true,
      ...this.#source(fromProtocol),
    };
    const used = wanted(event);
    // An exit that started since the last read: read again (at most once a second per network; the
    // same question as the one `send` asks next for a network no codec here serves, so it is read once).
    const route = await this.#composeOrReread(
      () => this.#keeping(query, used),
      () => (this.view.delivers(network) ? undefined : `network ${network}`),
    );
    if (route) return { route, lost: carry(event, route.steps).lost };
    const any = this.#fitting(query);
    if (!any) return undefined;
    this.#account(event, fromProtocol, any, used);
    throw new NoTranslationPathError(fromProtocol, any.steps.at(-1)!.to, [used[0]!]);
  }

  /**
   * Sends an event along a chain that ends in an exit: always in a signed envelope (the exit takes
   * nothing else), or to this gateway's own exit when the whole chain is here.
   */
  async #sendToExit(event: CanonicalEvent, fromProtocol: string, plan: Plan): Promise<string> {
    if (event.kind === 'roster') throw new SpoofedEventError('roster events do not travel between gateways');
    const route = plan.route!;
    const last = route.steps.at(-1)!;
    const self = this.#o.identity.id;
    let protocol: string;
    if (route.steps.every((s) => s.gateway === self)) {
      const carried = carry(event, route.steps);
      if (!carried.event) throw new NoTranslationPathError(route.steps[0]!.from, last.to, [event.kind]);
      protocol = await this.#deliverToExit(carried.event, last.to, { origin: self, lost: carried.lost });
    } else {
      try {
        protocol = await this.#sendAlong(event, undefined, route);
      } catch (error) {
        // The exit's own refusal comes back as its code: the caller gets the exit's typed error.
        if (error instanceof G2gRefusedError && error.refusal === 'ERR_EXIT_REFUSED')
          throw new ExitRefusedError(`the exit ${last.gateway.slice(0, 12)}… refused the ${event.kind}`, {
            cause: error,
          });
        throw error;
      }
    }
    this.#account(event, fromProtocol, route, plan.lost);
    return protocol;
  }

  /** Hands an event to one of this gateway's exits, once it is sure the exit exits to the recipient's network. */
  async #deliverToExit(event: CanonicalEvent, protocol: string, context: ExitContext): Promise<string> {
    const exit = this.#exits.get(protocol);
    if (!exit) throw new NotNextHopError(`this gateway has no exit ${protocol}`);
    const to = 'to' in event ? event.to : undefined;
    if (!to || !exit.networks.includes(to.network.toLowerCase()))
      throw new ExitRefusedError(
        `${protocol} does not exit to ${to ? to.network : 'nowhere'}: it exits to ${exit.networks.join(', ')}`,
      );
    return await exit.deliver(event, context);
  }

  /** Throws `NoRouteError` when only other gateways deliver to `to`'s network and none does now. */
  async #unreachedNetwork(to: Address): Promise<void> {
    const network = routedNetwork(to.network);
    if (this.#o.codecs.some((c) => c.networks.includes(network))) return;
    // Only other gateways deliver there: whether any still does is the directory's to say now.
    await this.#refreshOnDemand(`network ${network}`);
    if (!this.view.delivers(network))
      throw new NoRouteError(to.network, 'no gateway delivers to that network now');
  }

  /** Sends along a route: to `location` when it takes one transfer, else (and always to an exit: no location) in an envelope. */
  async #sendAlong(
    event: RoutableEvent,
    location: Location | undefined,
    route: Route | undefined,
  ): Promise<string> {
    const peer = location
      ? { id: location.gateway, contact: location.contact, signedAt: location.issuedAt }
      : undefined;
    // The sender's own record goes with a direct event, to a gateway that reads it: no lookup there.
    const located = (location?.g2g ?? 1) >= 2 ? this.#o.directory.ownLocation(event.from) : undefined;
    if (!route) {
      if (!peer) throw new NotNextHopError('an exit is reached by a route only');
      return this.#o.send(peer, this.#preferred.encode(event), false, located);
    }
    const self = this.#o.identity.id;
    // The origin's own steps (its client protocol into a form, maybe a conversion).
    let first = 0;
    while (first < route.steps.length && route.steps[first]!.gateway === self) first++;
    const mine = carry(event, route.steps.slice(0, first));
    if (!mine.event) throw new NoTranslationPathError(route.steps[0]!.from, route.steps.at(-1)!.to, []);
    const next = route.steps[first]!;
    const form = this.#forms.get(formOf(next.from) ?? '');
    if (!form)
      throw new NotNextHopError(`the chain hands on ${next.from}, which this gateway does not speak`);
    const payload = form.encode(mine.event);
    if (peer && route.transfers <= 1) return this.#o.send(peer, payload, false, located);
    const chain: EnvelopeStep[] = route.steps.map((s) => ({
      from: s.from,
      to: s.to,
      gateway: s.gateway,
      contact: s.contact,
    }));
    const header = signEnvelope(this.#o.identity, {
      id: this.#o.newId(),
      issuedAt: this.#o.now(),
      from: formatAddress(event.from),
      to: event.to ? formatAddress(event.to) : '',
      kind: event.kind,
      chain,
      hopLimit: route.transfers,
      next: first,
      form: form.name,
      lost: mine.lost,
    });
    this.#o.metrics.routed.inc({ role: 'origin' });
    return this.#o.send(
      { id: next.gateway, contact: next.contact },
      encodeEnvelope({ header, payload }),
      true,
    );
  }

  // ------------------------------------------------------------------ receiving

  /** One of this gateway's own capabilities (checkHop made sure it performs the step). */
  #ownStep(step: EnvelopeStep): OwnCapability {
    const own = this.own.find((c) => c.from === step.from && c.to === step.to);
    if (!own) throw new NotNextHopError(`this gateway does not perform ${edgeName(step.from, step.to)}`);
    return own;
  }

  /** An event arrived over a plain EVENT frame: read it in whichever of this gateway's forms it is in. */
  decodeDirect(payload: Uint8Array): CanonicalEvent {
    let first: unknown;
    for (const form of this.#o.forms) {
      try {
        return form.decode(payload);
      } catch (error) {
        first ??= error;
      }
    }
    throw first;
  }

  /**
   * A routed event arrived over a link authenticated as `sender`: every check of `checkHop`, then
   * this gateway's steps, then the next hop (or, for the last step, the recipient, once the
   * directory names the origin as the sender's gateway). A refusal is counted and thrown (the link
   * NACKs with its code); a refusal from further down the chain is passed back as it came. The same
   * envelope again gets the first one's outcome (`SeenEnvelopes`).
   */
  async receive(sender: string, bytes: Uint8Array): Promise<string | undefined> {
    let header: EnvelopeHeader;
    let payload: Uint8Array;
    let plan: HopPlan;
    const maxAge = this.#o.maxAge ?? 60_000;
    try {
      ({ header, payload } = decodeEnvelope(bytes));
      plan = checkHop(header, {
        self: this.#o.identity.id,
        sender,
        now: this.#o.now(),
        maxAge,
        maxSkew: this.#o.maxSkew,
        performs: (from, to) => this.#performs.has(edgeName(from, to)),
      });
    } catch (error) {
      this.#refused(error, sender, 'check');
      throw error;
    }
    // The same envelope again (its origin's send gone again on a new link, or a replay): the first
    // outcome, not a second delivery.
    return this.#seen.once(
      header.origin,
      header.id,
      header.issuedAt + maxAge,
      () => this.#handle(sender, header, payload, plan),
      () => this.#o.metrics.routed.inc({ role: 'repeat' }),
    );
  }

  /** Counts and logs a refusal of this hop's own (what further hops refused is theirs to count). */
  #refused(error: unknown, sender: string, stage: string): void {
    if (!(error instanceof G2gRefusedError))
      this.#o.refused(error instanceof Error ? error : new Error(String(error)), {
        peer: sender.slice(0, 12),
        stage,
      });
  }

  /** An envelope that passed `checkHop`, the first time it arrived: this gateway's steps, then on. */
  async #handle(
    sender: string,
    header: EnvelopeHeader,
    payload: Uint8Array,
    plan: HopPlan,
  ): Promise<string | undefined> {
    let stage = 'check';
    try {
      const form = this.#forms.get(header.form);
      if (!form || canonicalFormat(form.name) !== plan.mine[0]!.from)
        throw new NotNextHopError(
          `the payload is in ${header.form}; step ${header.next} takes ${plan.mine[0]!.from}`,
        );
      const event = form.decode(payload);
      if (
        event.kind === 'roster' ||
        formatAddress(event.from) !== header.from ||
        !event.to ||
        formatAddress(event.to) !== header.to ||
        event.kind !== header.kind
      )
        throw new ForgedEnvelopeError('the payload is not the event its origin signed for');
      const carried = carry(
        event,
        plan.mine.map((s) => this.#ownStep(s)),
      );
      const lost = sortFeatures([...header.lost, ...carried.lost]);
      if (!carried.event)
        throw new NoTranslationPathError(plan.mine[0]!.from, plan.mine.at(-1)!.to, [event.kind]);
      // An exit takes only a chain that ends in it, for a recipient on a network it exits to.
      const exitStep = plan.mine.find((s) => isExitFormat(s.to));
      if (exitStep) {
        const exit = this.#exits.get(exitStep.to);
        if (plan.next || exitStep !== plan.mine.at(-1))
          throw new ExitRefusedError(`the chain goes on past the exit ${exitStep.to}`);
        if (!exit?.networks.includes(event.to.network.toLowerCase()))
          throw new ExitRefusedError(
            `${exitStep.to} does not exit to ${event.to.network} (${header.to}); it exits to ${exit?.networks.join(', ')}`,
          );
      }
      if (!plan.next) {
        // The last step: believed only when the origin is the sender's gateway (as a direct link is),
        // or an exit to the sender's network (a phone's answer has no location record).
        let location = await this.#o.locate(event.from, false);
        if (location?.gateway !== header.origin) location = await this.#o.locate(event.from, true);
        if (location?.gateway !== header.origin && !(await this.exitServes(header.origin, event.from)))
          throw new SpoofedEventError(
            `routed event from ${header.from} signed by ${header.origin.slice(0, 12)}…, which does not serve them`,
          );
        if (exitStep) {
          stage = 'deliver';
          this.#o.metrics.routed.inc({ role: 'delivery' });
          return await this.#deliverToExit(carried.event, exitStep.to, { origin: header.origin, lost });
        }
        stage = 'deliver';
        this.#o.metrics.routed.inc({ role: 'delivery' });
        return await this.#o.deliver(carried.event, lost);
      }
      const out = this.#forms.get(formOf(plan.next.from) ?? '');
      if (!out) throw new NotNextHopError(`this gateway cannot hand on ${plan.next.from}`);
      stage = 'forward';
      this.#o.metrics.routed.inc({ role: 'relay' });
      this.#o.log.debug(
        {
          origin: header.origin.slice(0, 12),
          id: header.id,
          next: plan.next.gateway.slice(0, 12),
          kind: header.kind,
        },
        'relayed a routed event',
      );
      return await this.#o.send(
        { id: plan.next.gateway, contact: plan.next.contact },
        encodeEnvelope({
          header: { ...header, next: plan.after, hops: header.hops - 1, form: out.name, lost },
          payload: out.encode(carried.event),
        }),
        true,
      );
    } catch (error) {
      // A delivery that failed is the recipient's absence, not an attack.
      if (stage === 'check') this.#refused(error, sender, stage);
      throw error;
    }
  }
}

/**
 * The network a codec declares for an address's network: an XMPP domain (`jabber.org`) is served
 * by whatever declares `xmpp`, as the registry's foreign-address rule has it.
 */
export function routedNetwork(network: string): string {
  return isDomainNetwork(network) ? 'xmpp' : network;
}

/** Runs thunks at most `limit` at a time; rejects with the first failure once all have settled. */
async function runLimited(work: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < work.length) {
      const job = work[next++]!;
      try {
        await job();
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, work.length) }, worker));
  if (failed !== undefined) throw failed;
}
