import {
  type Address,
  type CanonicalEvent,
  type Dht,
  formatAddress,
  type ImEvent,
  type PresenceEvent,
} from '@crosstalk/core';
import {
  type CanonicalForm,
  Directory,
  type GatewayIdentity,
  generateIdentity,
  type Location,
} from '@crosstalk/gateway';
import type { Meter } from './meter.js';
import type { EventQueue } from './queue.js';
import type { Rng } from './rng.js';

/**
 * The gateways of the simulation: each a real `Directory` (signed records, TTLs, verification and its
 * cache) over its own DHT store, and the per-user manager's steps as packages/gateway/src/gateway.ts
 * takes them (the methods below name the gateway's method each follows), over a modelled G2G:
 * frames are counted with the canonical form's real bytes, nothing goes over a socket.
 *
 * `Design` switches on the improvements the model compares with today's design:
 *
 * - `directed` (directed buddy search, after PresenceCloud): presence travels over G2G only. A login
 *   finds each buddy's gateway in the DHT (location records, cached) and sends each one a probe
 *   that says "online" and asks for the buddies' presence, which comes back in the answer; presence
 *   is no longer published in the DHT, and a change goes only to the buddies known to be online.
 * - `batch` (presence batching per destination gateway, as SIMPLE's batched NOTIFY): one frame per
 *   destination gateway carries a presence (or a probe) for all the buddies there.
 * - `lease` (one-hop location caching): a location record lives an hour and is cached for as long;
 *   whether its gateway still serves it is a per-gateway lease record (60 s, renewed every 20 s)
 *   and, for buddies already shown online, the G2G link's keepalive, instead of a DHT read per
 *   watched buddy.
 * - `slots` (built since: `DhtPutOptions.slot`, HyperDhtStore's slots): the DHT honours slots, so
 *   the real `Directory` re-signs its records in place, one mutable put of the same record with a
 *   higher sequence number from the nodes that hold it; off, it is the store before slots, on which
 *   a new value is put beside the old one and the old one removed (each of which reads the key first).
 */
export interface Design {
  name: string;
  directed: boolean;
  batch: boolean;
  lease: boolean;
  slots: boolean;
}

const design = (name: string, on: Partial<Design>): Design => ({
  name,
  directed: false,
  batch: false,
  lease: false,
  slots: true,
  ...on,
});

/** The designs, each on today's store (with slots); `beforeSlots` gives the same on the store before them. */
export const DESIGNS: readonly Design[] = [
  design('today', {}),
  design('directed search', { directed: true }),
  design('directed + batching', { directed: true, batch: true }),
  design('directed + batching + leases', { directed: true, batch: true, lease: true }),
];

/** `d` on a DHT without slots (the Directory puts and removes), named so. */
export const beforeSlots = (d: Design): Design => ({ ...d, name: `${d.name}, before slots`, slots: false });

/** The gateway's timings (packages/gateway/src/gateway.ts, directory.ts; docs/operating.md). */
export const TIMINGS = {
  /** Soft TTL of location and presence records (`softTtl`, default 60 s); refreshed at a third. */
  softTtl: 60_000,
  /** `LOCATION_CACHE_MS`: a looked-up location is used this long without asking again. */
  locationCache: 30_000,
  /** `WATCH_MARGIN_MS`: a watched buddy's location is read this long after it should have been renewed. */
  watchMargin: 50,
  /** Capability records live 10 minutes, re-signed at a third. */
  capabilityTtl: 10 * 60_000,
  /** Home records and held requests: 24 h, republished every 8 h. */
  hardRefresh: 8 * 60 * 60_000,
  /** `heldPoll`: held requests read for each online user every 5 minutes, at a refresh. */
  heldPoll: 5 * 60_000,
  /** HyperDhtStore re-puts its live values every 5 minutes. */
  storeRefresh: 5 * 60_000,
  /** Lease design: a location record's life, and the lease's. */
  leaseLocationTtl: 60 * 60_000,
  leaseTtl: 60_000,
  /** Lease design: G2G keepalive on a link (a ping and its answer). */
  keepalive: 20_000,
} as const;

/** G2G framing around a canonical event: the G2G frame header (5), message id (4), secret-stream (3 + 17). */
const G2G_OVERHEAD = 5 + 4 + 20;
/** The codecs a gateway advertises (one capability record each way). */
const CODECS: readonly [string, readonly string[]][] = [
  ['oscar', ['im', 'presence', 'typing', 'buddy-request', 'file-offer', 'away-message']],
  ['ymsg', ['im', 'presence', 'typing', 'buddy-request', 'file-offer', 'status-text']],
  ['msnp', ['im', 'presence', 'typing', 'buddy-request', 'file-offer', 'personal-message']],
  ['xmpp', ['im', 'presence', 'typing', 'buddy-request', 'file-offer', 'status-text', 'call-invite']],
];

/** The canonical form the modelled gateways speak, as capability records name it. */
const FORM = 'canonical:json';
/** A G2G contact in capability records (its size is what the model needs). */
const CONTACT = { transport: 'tcp', host: '127.0.0.1', port: 40_000 };
/** The contact a location record carries in the model (as the calibration's records do). */
const LOCATION = { transport: 'hyperdht' };

/** What the receiving gateway answered. */
type Reply = { ok: true; presences?: PresenceEvent[] } | { ok: false; code: string };

/** Who the users are: what the gateways need to know of the simulated population. */
export interface People {
  readonly users: number;
  readonly gateways: number;
  /** The gateway user `i` logs in through. */
  gatewayOf(i: number): number;
  /** User `i`'s buddies (all mutual, all reached through CrossTalk). */
  buddiesOf(i: number): Int32Array;
  address(i: number): Address;
  /** The user an address names. */
  indexOf(address: Address): number;
}

/** Options of `SimNetwork`. */
export interface SimNetworkOptions {
  population: People;
  /** Lifetime of location and presence records (default `TIMINGS.softTtl`). */
  softTtl?: number;
  queue: EventQueue;
  meter: Meter;
  design: Design;
  canonical: CanonicalForm;
  /** Gateway `g`'s DHT store. */
  dhtFor(gateway: number): Dht;
  /** Charges the DHT work of opening a G2G link from `from` to `to` (hyperdht: find the peer, handshake). */
  linkCost(from: number, to: number): void;
  /**
   * Called every 5 minutes for each gateway: its store's re-put of the live values whose keys `which`
   * selects (HyperDhtStore `refreshOwn`; a real store does this by itself).
   */
  storeRefresh?(gateway: number, which: (key: string) => boolean): void;
  rng: Rng;
}

/** One user online at a gateway (the gateway's `UserManager`). */
interface Manager {
  user: number;
  address: Address;
  presence: PresenceEvent;
  /** Bumped when the user leaves, so timers of this session do nothing afterwards. */
  session: number;
  /** Directed design: buddies this gateway has shown online to the user (their presence came in). */
  known: Set<number>;
}

export class SimNetwork {
  readonly gateways: SimGateway[] = [];
  /** Whether each user is online (the workload's truth, not any gateway's view). */
  readonly online: Uint8Array;
  readonly #links = new Set<number>();
  readonly #byId = new Map<string, number>();

  constructor(readonly o: SimNetworkOptions) {
    this.online = new Uint8Array(o.population.users);
    for (let g = 0; g < o.population.gateways; g++) {
      const gateway = new SimGateway(this, g, generateIdentity(), o.dhtFor(g));
      this.gateways.push(gateway);
      this.#byId.set(gateway.id, g);
    }
  }

  get queue(): EventQueue {
    return this.o.queue;
  }
  get meter(): Meter {
    return this.o.meter;
  }
  get design(): Design {
    return this.o.design;
  }
  get population(): People {
    return this.o.population;
  }

  /** The gateway index of a gateway id (a location record's publisher). */
  indexOf(id: string): number {
    const g = this.#byId.get(id);
    if (g === undefined) throw new Error(`no simulated gateway ${id.slice(0, 12)}`);
    return g;
  }

  /** The user an address names. */
  userOf(address: Address): number {
    return this.o.population.indexOf(address);
  }

  /** The gateway a user logs in through. */
  home(user: number): SimGateway {
    return this.gateways[this.o.population.gatewayOf(user)]!;
  }

  /** G2G bytes of one canonical event. */
  eventBytes(event: CanonicalEvent): number {
    return this.o.canonical.encode(event).length;
  }

  /**
   * One G2G frame from `from` to `to`, carrying `bytes` of payload, answered (ACK/NACK with
   * `replyBytes`) by `deliver` at the receiver. The first frame between two gateways opens the link.
   */
  async frame(from: number, to: number, bytes: number, deliver: () => Promise<Reply>): Promise<Reply> {
    const pair = from < to ? from * this.gateways.length + to : to * this.gateways.length + from;
    if (!this.#links.has(pair)) {
      this.#links.add(pair);
      this.meter.linksOpened++;
      this.o.linkCost(from, to);
    }
    this.meter.g2g(from, to, G2G_OVERHEAD + bytes);
    const reply = await deliver();
    const replyBytes = reply.ok
      ? 4 + (reply.presences ?? []).reduce((sum, p) => sum + this.eventBytes(p), 0)
      : reply.code.length;
    this.meter.g2g(to, from, G2G_OVERHEAD + replyBytes);
    return reply;
  }

  /** G2G links open now. */
  get links(): number {
    return this.#links.size;
  }
}

export class SimGateway {
  readonly id: string;
  readonly directory: Directory;
  /** Lease design: the gateway's lease, a record of its own (carried as a capability record here). */
  readonly #leases: Directory | undefined;
  readonly managers = new Map<number, Manager>();
  /** `#locationCache`: looked-up locations, by user. */
  readonly #cache = new Map<number, { location: Location; until: number }>();
  /** Users whose lapsed cache entry is being looked up in the background. */
  readonly #refreshing = new Set<number>();
  /** `#watches`: foreign buddies shown online to users here, by buddy. */
  readonly #watches = new Map<number, { users: Set<number>; timer: number }>();
  /** Lease design: each peer gateway's lease, as last read. */
  readonly #leaseSeen = new Map<number, number>();
  #timers = 0;

  constructor(
    readonly net: SimNetwork,
    readonly index: number,
    identity: GatewayIdentity,
    readonly dht: Dht,
  ) {
    this.id = identity.id;
    const now = () => net.queue.now;
    const lease = net.design.lease;
    this.directory = new Directory({
      dht,
      identity,
      now,
      softTtl: lease ? TIMINGS.leaseLocationTtl : (net.o.softTtl ?? TIMINGS.softTtl),
      capabilityTtl: TIMINGS.capabilityTtl,
    });
    this.#leases = lease ? new Directory({ dht, identity, now, capabilityTtl: TIMINGS.leaseTtl }) : undefined;
  }

  get #now(): number {
    return this.net.queue.now;
  }

  get #design(): Design {
    return this.net.design;
  }

  #address(user: number): Address {
    return this.net.population.address(user);
  }

  /** Foreign buddies: every buddy (the model's lists are all reached through CrossTalk). */
  #buddies(user: number): Int32Array {
    return this.net.population.buddiesOf(user);
  }

  // ------------------------------------------------------------ a user's session (gateway.ts #attach ... #offline)

  /**
   * `#online`: a user logged in here. Counted as two operations: `login: publish` (their records)
   * and `login: buddies` (finding buddies, telling them, reading their presence and held requests).
   */
  async login(user: number): Promise<void> {
    const m: Manager = {
      user,
      address: this.#address(user),
      presence: { kind: 'presence', from: this.#address(user), status: 'online' },
      session: ++this.#timers,
      known: new Set(),
    };
    this.managers.set(user, m);
    const meter = this.net.meter;
    await meter.measure('login: publish', async () => {
      // `#publishUser(m, since)`: location (with presence), home.
      await this.directory.publishLocation(m.address, LOCATION, this.#published(m));
      await this.directory.publishHome(m.address, this.#now);
    });
    const refresh = this.directory.softTtl / 3;
    const first = refresh * (0.5 + this.net.o.rng.next() * 0.5);
    this.#every(m, first, refresh, 'refresh', () => this.#refresh(m));
    // `heldPoll`: the requests held for the user read at every n-th refresh (create-node.ts
    // #online), counted apart from the refresh.
    const pollEvery = Math.max(1, Math.round(TIMINGS.heldPoll / refresh));
    this.#every(m, first + (pollEvery - 1) * refresh, pollEvery * refresh, 'held poll', async () => {
      await this.directory.pendingFor(m.address);
    });
    await meter.measure('login: buddies', async () => {
      // `toldHere`: buddies on this gateway hear at once (no network).
      await this.#tellBuddies(m, m.presence, 'here');
      if (this.#design.directed) {
        await this.#probe(m);
      } else {
        // `toldElsewhere`, then each buddy's presence read from the directory.
        await this.#tellBuddies(m, m.presence, 'elsewhere');
        for (const buddy of this.#buddies(user)) {
          const presence = await this.directory.lookupPresence(this.#address(buddy));
          if (presence) this.#deliverTo(m, { ...presence, to: m.address });
        }
      }
      // `#deliverPending`: held buddy requests (none in this workload; the read is made all the same).
      await this.directory.pendingFor(m.address);
    });
  }

  /** `#offline`: the user's last connection closed. */
  async logout(user: number): Promise<void> {
    const m = this.managers.get(user);
    if (!m) return;
    this.managers.delete(user);
    m.session = -1;
    for (const [key, watch] of this.#watches) {
      watch.users.delete(user);
      if (watch.users.size === 0) this.#watches.delete(key);
    }
    const offline: PresenceEvent = { kind: 'presence', from: m.address, status: 'offline' };
    await this.#tellBuddies(m, offline, 'here');
    if (this.#design.directed) {
      // Told first, while the records they check the sender against still stand.
      await this.#tellKnown(m, offline);
      await this.directory.withdrawLocation(m.address);
      return;
    }
    // Today: told first, then withdrawn (create-node.ts #offline), so a receiver that has not
    // cached the sender's location still finds the record it checks the sender against.
    await this.#tellBuddies(m, offline, 'elsewhere');
    await this.directory.withdrawLocation(m.address);
  }

  /** `#ownEvent`: the user changed their own presence. */
  async setPresence(user: number, status: PresenceEvent['status'], text?: string): Promise<void> {
    const m = this.managers.get(user);
    if (!m) return;
    m.presence = { kind: 'presence', from: m.address, status, ...(text ? { text } : {}) };
    if (this.#design.directed) {
      await this.#tellBuddies(m, m.presence, 'here');
      await this.#tellKnown(m, m.presence);
      return;
    }
    await this.directory.publishLocation(m.address, LOCATION, m.presence);
    await this.#tellBuddies(m, m.presence, 'everywhere');
  }

  /** `#outbound` of an IM: routed to the recipient. */
  async im(user: number, to: number, text: string, id: string): Promise<boolean> {
    const m = this.managers.get(user);
    if (!m) return false;
    const event: ImEvent = {
      kind: 'im',
      id,
      from: m.address,
      to: this.#address(to),
      text,
      sentAt: this.#now,
    };
    try {
      await this.#route(m, event);
      return true;
    } catch {
      return false;
    }
  }

  /** The soft state's refresh (`#publishUser(m)` on the refresh timer). */
  async #refresh(m: Manager): Promise<void> {
    await this.directory.publishLocation(m.address, LOCATION, this.#published(m));
  }

  /** The presence the location record carries: none in a directed design (buddies are told directly). */
  #published(m: Manager): PresenceEvent | undefined {
    return this.#design.directed ? undefined : m.presence;
  }

  // ------------------------------------------------------------ the gateway's own upkeep

  /** Starts the gateway's periodic work (each at a random phase, as gateways start at different times). */
  start(): void {
    const rng = this.net.o.rng;
    const caps = TIMINGS.capabilityTtl / 3;
    this.#periodic(rng.next() * caps, caps, 'capabilities', () => this.#advertise());
    // The store's refresh, its users' values apart from the gateway's own (capabilities, lease).
    const phase = rng.next() * TIMINGS.storeRefresh;
    const own = (key: string) => key.startsWith('cap:');
    this.#periodic(phase, TIMINGS.storeRefresh, 'store refresh', async () =>
      this.net.o.storeRefresh?.(this.index, (key) => !own(key)),
    );
    this.#periodic(phase, TIMINGS.storeRefresh, 'store refresh (gateway)', async () =>
      this.net.o.storeRefresh?.(this.index, own),
    );
    if (this.#leases) {
      const renew = TIMINGS.leaseTtl / 3;
      this.#periodic(rng.next() * renew, renew, 'lease', () =>
        this.#leases!.publishCapability(`lease>${this.id}`, { cost: 0, preserves: [], contact: CONTACT }),
      );
      this.#periodic(rng.next() * TIMINGS.keepalive, TIMINGS.keepalive, 'keepalive', async () =>
        this.#keepalive(),
      );
    }
  }

  /** `#republishHardState` for one user: their home record, re-signed with their first login's time. */
  async republishHome(user: number, since: number): Promise<void> {
    await this.directory.publishHome(this.#address(user), since);
  }

  /**
   * `CapabilityRouter.advertise`: each codec over the gateway's canonical form (JSON, the default of
   * `createGateway`) both ways, and the index of what each format is translated into.
   */
  async #advertise(): Promise<void> {
    for (const [protocol, preserves] of CODECS) {
      const body = { cost: 1, preserves: [...preserves], contact: CONTACT };
      await this.directory.publishCapability(`${protocol}>${FORM}`, body);
      await this.directory.publishCapability(`${FORM}>${protocol}`, body);
      await this.directory.publishCapabilityIndex(protocol, [FORM]);
    }
    await this.directory.publishCapabilityIndex(
      FORM,
      CODECS.map(([protocol]) => protocol),
    );
  }

  /** Lease design: a ping and its answer on each link to a gateway whose users are watched here. */
  #keepalive(): void {
    const peers = new Set<number>();
    for (const buddy of this.#watches.keys()) peers.add(this.net.population.gatewayOf(buddy));
    for (const peer of peers) {
      this.net.meter.g2g(this.index, peer, G2G_OVERHEAD - 4);
      this.net.meter.g2g(peer, this.index, G2G_OVERHEAD - 4);
    }
  }

  // ------------------------------------------------------------ presence to buddies

  /** `#tellBuddies`: a presence to every buddy, here (no network) or elsewhere (over G2G). */
  async #tellBuddies(
    m: Manager,
    presence: PresenceEvent,
    where: 'here' | 'elsewhere' | 'everywhere',
  ): Promise<void> {
    for (const buddy of this.#buddies(m.user)) {
      const here = this.managers.has(buddy);
      if (where !== 'everywhere' && here !== (where === 'here')) continue;
      await this.#route(m, { ...presence, to: this.#address(buddy) }).catch(() => {});
    }
  }

  /** Directed design: a presence to the buddies known online elsewhere, one frame per gateway with `batch`. */
  async #tellKnown(m: Manager, presence: PresenceEvent): Promise<void> {
    const elsewhere = [...m.known].filter((b) => !this.managers.has(b));
    for (const [gateway, buddies] of await this.#byGateway(elsewhere)) {
      await this.#sendPresence(presence, gateway, buddies, false).catch(() => {});
    }
    if (presence.status === 'offline') m.known.clear();
  }

  /**
   * Directed design, at login: each buddy's gateway found in the directory (cached), then a probe
   * to it that carries the user's presence and brings back the presence of the buddies online there.
   */
  async #probe(m: Manager): Promise<void> {
    const elsewhere = [...this.#buddies(m.user)].filter((b) => !this.managers.has(b));
    for (const buddy of this.#buddies(m.user)) if (this.managers.has(buddy)) m.known.add(buddy);
    for (const [gateway, buddies] of await this.#byGateway(elsewhere)) {
      const reply = await this.#sendPresence(m.presence, gateway, buddies, true).catch(() => undefined);
      if (!reply?.ok) continue;
      for (const presence of reply.presences ?? []) this.#deliverTo(m, { ...presence, to: m.address });
    }
  }

  /** Buddies online somewhere (by their location record), grouped by gateway. */
  async #byGateway(buddies: readonly number[]): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    for (const buddy of buddies) {
      const location = await this.#locate(buddy, false);
      if (!location) continue;
      const g = this.net.indexOf(location.gateway);
      out.set(g, [...(out.get(g) ?? []), buddy]);
    }
    return out;
  }

  /** One presence (or probe) frame per buddy, or one for all of them with `batch`. */
  async #sendPresence(
    presence: PresenceEvent,
    gateway: number,
    buddies: number[],
    probe: boolean,
  ): Promise<Reply> {
    const groups = this.#design.batch ? [buddies] : buddies.map((b) => [b]);
    let last: Reply = { ok: false, code: 'ERR_USER_OFFLINE' };
    const presences: PresenceEvent[] = [];
    for (const group of groups) {
      const first = { ...presence, to: this.#address(group[0]!) };
      // A batch lists its other recipients after the event: their addresses and a separator each.
      const bytes =
        this.net.eventBytes(first) +
        group.slice(1).reduce((sum, b) => sum + formatAddress(this.#address(b)).length + 1, 0);
      const peer = this.net.gateways[gateway]!;
      last = await this.net.frame(this.index, gateway, bytes, () =>
        peer.receiveBatch(this.index, presence, group, probe),
      );
      if (last.ok) presences.push(...(last.presences ?? []));
      else if (last.code === 'ERR_USER_OFFLINE') for (const b of group) this.#cache.delete(b);
    }
    return last.ok || presences.length > 0 ? { ok: true, presences } : last;
  }

  // ------------------------------------------------------------ routing (gateway.ts #route, #sendRemote, #locate)

  async #route(m: Manager, event: Exclude<CanonicalEvent, { kind: 'roster' }>): Promise<void> {
    const to = 'to' in event && event.to ? this.net.userOf(event.to) : undefined;
    if (to === undefined) return;
    if (this.managers.has(to)) {
      const reply = this.#accept(event);
      if (!reply.ok) throw new Error(reply.code);
      return;
    }
    // `#sendRemote`: a second look-up follows only a broken link, which the model has none of.
    const location = await this.#locate(to, false);
    if (!location) throw new Error('ERR_USER_OFFLINE');
    const g = this.net.indexOf(location.gateway);
    const peer = this.net.gateways[g]!;
    const reply = await this.net.frame(this.index, g, this.net.eventBytes(event), () =>
      peer.receive(this.index, event),
    );
    if (!reply.ok) {
      if (reply.code === 'ERR_USER_OFFLINE') this.#cache.delete(to);
      throw new Error(reply.code);
    }
    if (event.kind === 'presence' && event.status !== 'offline') m.known.add(to);
  }

  async #locate(user: number, fresh: boolean): Promise<Location | undefined> {
    const cached = this.#cache.get(user);
    if (!fresh && cached) {
      if (cached.until > this.#now) return cached.location;
      // As the router: a lapsed location whose record holds is used, and looked up in the background.
      if (cached.location.expiresAt > this.#now) {
        this.#refreshLocation(user, cached);
        return cached.location;
      }
    }
    let location = await this.directory.lookupLocation(this.#address(user));
    if (location && this.#design.lease && !(await this.#leaseLive(this.net.indexOf(location.gateway))))
      location = undefined;
    if (location)
      this.#cache.set(user, {
        location,
        until: this.#design.lease ? location.expiresAt : this.#cacheUntil(location),
      });
    else this.#cache.delete(user);
    return location;
  }

  /** The router's `#remember`: the cache's time, never past the record's expiry. */
  #cacheUntil(location: Location): number {
    return Math.min(this.#now + TIMINGS.locationCache, location.expiresAt);
  }

  /** The router's `#refresh` of a location: one background look-up per user at a time, of the lapsed entry only. */
  #refreshLocation(user: number, lapsed: { location: Location; until: number }): void {
    if (this.#refreshing.has(user)) return;
    this.#refreshing.add(user);
    void this.directory
      .lookupLocation(this.#address(user))
      .then(
        (found) => {
          if (this.#cache.get(user) !== lapsed) return;
          if (found) this.#cache.set(user, { location: found, until: this.#cacheUntil(found) });
          else this.#cache.delete(user);
        },
        () => {},
      )
      .finally(() => this.#refreshing.delete(user));
  }

  /** Lease design: whether a gateway's lease is live (read once per lease period, then remembered). */
  async #leaseLive(gateway: number): Promise<boolean> {
    if (gateway === this.index) return true;
    const seen = this.#leaseSeen.get(gateway);
    if (seen !== undefined && seen > this.#now) return true;
    const id = this.net.gateways[gateway]!.id;
    const records = await this.directory.capabilities(`lease>${id}`);
    const until = Math.max(0, ...records.filter((r) => r.gateway === id).map((r) => r.expiresAt));
    this.#leaseSeen.set(gateway, until);
    return until > this.#now;
  }

  // ------------------------------------------------------------ receiving (gateway.ts #receive, #accept)

  /** `#receive`: an event over G2G from gateway `peer`; the sender's location must name `peer`. */
  async receive(peer: number, event: Exclude<CanonicalEvent, { kind: 'roster' }>): Promise<Reply> {
    if (!(await this.#vouched(peer, this.net.userOf(event.from))))
      return { ok: false, code: 'ERR_SPOOFED_EVENT' };
    return this.#accept(event);
  }

  /** Directed design: a presence for several users here; a probe also asks for theirs. */
  async receiveBatch(
    peer: number,
    presence: PresenceEvent,
    users: readonly number[],
    probe: boolean,
  ): Promise<Reply> {
    const sender = this.net.userOf(presence.from);
    if (!(await this.#vouched(peer, sender))) return { ok: false, code: 'ERR_SPOOFED_EVENT' };
    const presences: PresenceEvent[] = [];
    for (const user of users) {
      const m = this.managers.get(user);
      if (!m) continue;
      this.#deliverTo(m, { ...presence, to: m.address });
      if (probe) presences.push(m.presence);
    }
    if (presences.length === 0 && !users.some((u) => this.managers.has(u)))
      return { ok: false, code: 'ERR_USER_OFFLINE' };
    return { ok: true, presences };
  }

  /** Anti-spoofing: the directory must say `peer` serves `sender` (looked up again once if not). */
  async #vouched(peer: number, sender: number): Promise<boolean> {
    const peerId = this.net.gateways[peer]!.id;
    let location = await this.#locate(sender, false);
    if (location?.gateway !== peerId) location = await this.#locate(sender, true);
    return location?.gateway === peerId;
  }

  #accept(event: CanonicalEvent): Reply {
    const to = 'to' in event && event.to ? this.net.userOf(event.to) : -1;
    const m = this.managers.get(to);
    if (!m) return { ok: false, code: 'ERR_USER_OFFLINE' };
    this.#deliverTo(m, event);
    // As the router: their gateway says they left, so where they were is not worth remembering.
    if (event.kind === 'presence' && event.status === 'offline')
      this.#cache.delete(this.net.userOf(event.from));
    return { ok: true };
  }

  #deliverTo(m: Manager, event: CanonicalEvent): void {
    if (event.kind !== 'presence') return;
    const buddy = this.net.userOf(event.from);
    if (event.status === 'offline') m.known.delete(buddy);
    else m.known.add(buddy);
    this.#watchPresence(m, event);
  }

  // ------------------------------------------------------------ watching foreign buddies (gateway.ts #watchPresence)

  #watchPresence(m: Manager, presence: PresenceEvent): void {
    const key = this.net.userOf(presence.from);
    if (key === m.user || this.managers.has(key)) return;
    let watch = this.#watches.get(key);
    if (presence.status === 'offline') {
      watch?.users.delete(m.user);
      if (watch && watch.users.size === 0) this.#watches.delete(key);
      return;
    }
    if (!watch) {
      watch = { users: new Set(), timer: ++this.#timers };
      this.#watches.set(key, watch);
      // Lease design: the link's keepalive watches the buddy's gateway; no DHT read per buddy.
      if (!this.#design.lease)
        this.#scheduleWatch(key, this.#cache.get(key)?.location.expiresAt ?? this.#now);
    }
    watch.users.add(m.user);
  }

  #scheduleWatch(key: number, at: number): void {
    const watch = this.#watches.get(key);
    if (!watch) return;
    const timer = ++this.#timers;
    watch.timer = timer;
    this.net.queue.at(Math.max(at, this.#now) + TIMINGS.watchMargin, () => {
      if (this.#watches.get(key)?.timer !== timer) return;
      return this.net.meter.measure('watch', () => this.#checkWatch(key));
    });
  }

  /** `#checkWatch`: the buddy's location read again; gone means they are offline. */
  async #checkWatch(key: number): Promise<void> {
    const watch = this.#watches.get(key);
    if (!watch) return;
    const location = await this.directory.lookupLocation(this.#address(key));
    if (location) {
      this.#scheduleWatch(key, location.expiresAt);
      return;
    }
    this.#cache.delete(key);
    for (const user of watch.users) this.managers.get(user)?.known.delete(key);
    this.#watches.delete(key);
  }

  // ------------------------------------------------------------ timers

  /** A timer of one user's session: first after `first` ms, then every `period`; stops when they leave. */
  #every(m: Manager, first: number, period: number, label: string, work: () => Promise<void>): void {
    const session = m.session;
    const tick = () => {
      if (m.session !== session || this.managers.get(m.user) !== m) return;
      this.net.queue.after(period, tick);
      return this.net.meter.measure(label, work);
    };
    this.net.queue.after(first, tick);
  }

  #periodic(first: number, period: number, label: string, work: () => Promise<void>): void {
    const tick = () => {
      this.net.queue.after(period, tick);
      return this.net.meter.measure(label, work);
    };
    this.net.queue.after(first, tick);
  }
}
