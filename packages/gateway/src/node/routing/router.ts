import {
  type Address,
  addressKey,
  type CallInviteEvent,
  type CanonicalEvent,
  type Feature,
  formatAddress,
  type ImEvent,
  isCrossTalkError,
} from '@crosstalk/core';
import type { Location } from '../../directory/directory.js';
import { SpoofedEventError, UserOfflineError } from '../../errors/errors.js';
import type { UserManager } from '../../manager/user-manager.js';
import type { CapabilityRouter } from '../../routing/router.js';
import type { NodeCore } from '../core.js';
import type { PendingRequests } from '../pending/pending-requests.js';
import { RecentArrivals } from './recent-arrivals.js';

const LOCATION_CACHE_MS = 30_000;
/**
 * How long a peer whose attached location record the directory contradicted is not believed on its
 * attachments, ms: its events go through directory lookups, as from a gateway that attaches none.
 */
const DISTRUST_MS = 10 * 60_000;
const MAX_DISTRUSTED = 4096;

/**
 * Carries events between users: to a user on this node at once, to a user elsewhere along the chain
 * capability routing composes for it (routing/router.ts: straight to the node the directory names
 * for them, or hop by hop, or along a chain to an exit); and takes events arriving over G2G, checking
 * that the link's node is the one the directory names for their sender, or an exit to the sender's
 * network by its signed capability record (anti-spoofing; routed events carry their origin's
 * signature instead).
 */
export class Router {
  readonly #locationCache = new Map<string, { location: Location; until: number }>();
  /** The translated-events counter's child per label set (prom-client hashes the labels on each `inc`). */
  readonly #counters = new Map<string, { inc(): void }>();
  /** IMs that arrived over G2G lately: one resent by a sender that missed the ACK is shown once. */
  readonly #arrivals: RecentArrivals;
  /** Users whose lapsed cache entry the directory is being asked about in the background (by `addressKey`). */
  readonly #refreshing = new Set<string>();
  /** Senders whose attached location record the directory is being asked about (by `addressKey`). */
  readonly #confirming = new Set<string>();
  /** Peers whose attached record the directory contradicted: until when their attachments are ignored. */
  readonly #distrusted = new Map<string, number>();

  #translated(from: string, to: string, kind: string): { inc(): void } {
    const key = `${from}\u0000${to}\u0000${kind}`;
    let counter = this.#counters.get(key);
    if (!counter) {
      counter = this.core.metrics.translated.labels({ from, to, kind });
      this.#counters.set(key, counter);
    }
    return counter;
  }

  constructor(
    readonly core: NodeCore,
    readonly capabilities: () => CapabilityRouter,
    readonly pending: PendingRequests,
  ) {
    this.#arrivals = new RecentArrivals(core.now, () => core.metrics.resentIms.inc());
  }

  /** Carries an event to its recipient: locally when they are here, else over G2G. */
  async route(m: UserManager, event: CanonicalEvent, fromProtocol = m.protocol ?? 'unknown'): Promise<void> {
    const { core } = this;
    const to = 'to' in event ? event.to : undefined;
    if (!to) return;
    const started = performance.now();
    const local = core.managers.get(addressKey(to));
    let protocol: string;
    if (local) {
      this.capabilities().accountLocal(event, fromProtocol);
      protocol = await this.accept(event);
    } else {
      try {
        protocol = await this.capabilities().send(event, to, fromProtocol);
      } catch (error) {
        // No chain carries calls to the callee's protocol: they are told by IM who called (issue 19).
        if (event.kind === 'call-invite' && isCrossTalkError(error, 'ERR_NO_TRANSLATION_PATH'))
          await this.capabilities()
            .send(missedCallNotice(event, core.now()), to, fromProtocol)
            .catch(() => {});
        throw error;
      }
    }
    core.metrics.deliveryLatency.observe((performance.now() - started) / 1000);
    this.#translated(fromProtocol, protocol || 'unknown', event.kind).inc();
    core.emit({ type: 'translated', event, from: fromProtocol, to: protocol });
  }

  /**
   * Where a user is online (cached for a while unless `fresh`). A cached location past the cache's
   * time whose record has not expired is still used, while the directory is asked again in the
   * background: a lookup on a busy DHT takes hundreds of ms, and every send to a user whose cache
   * entry lapsed waited on it (the users who logged in together lapse together); the record's
   * signature holds until its expiry, and a send that fails looks again at once (`fresh`).
   */
  async locate(user: Address, fresh: boolean): Promise<Location | undefined> {
    const key = addressKey(user);
    const cached = this.#locationCache.get(key);
    if (!fresh && cached) {
      const now = this.core.now();
      if (cached.until > now) return cached.location;
      if (cached.location.expiresAt > now) {
        this.#refresh(key, user, cached);
        return cached.location;
      }
    }
    const location = await this.core.directory.lookupLocation(user);
    // Cached for a while; a failed send or a sender seen on another link looks again at once.
    if (location) this.#remember(key, location);
    else this.#locationCache.delete(key);
    return location;
  }

  /** A lapsed cache entry's lookup in the background, one per user at a time. */
  #refresh(key: string, user: Address, lapsed: { location: Location; until: number }): void {
    if (this.#refreshing.has(key)) return;
    this.#refreshing.add(key);
    const done = this.core.directory.lookupLocation(user).then(
      (found) => {
        // Only the entry it was asked for: one forgotten meanwhile (the user left) or replaced stays so.
        if (this.#locationCache.get(key) !== lapsed) return;
        if (found) this.#remember(key, found);
        else this.#locationCache.delete(key);
      },
      // The DHT did not answer: the cached location serves until its record expires.
      () => {},
    );
    this.core.track(done.finally(() => this.#refreshing.delete(key)));
  }

  /** A location a directory read found for `user`: cached as `locate` would, unless a newer one is. */
  noteLocation(user: Address, location: Location): void {
    const key = addressKey(user);
    const now = this.core.now();
    const known = this.#locationCache.get(key);
    if (known && known.until > now && known.location.issuedAt > location.issuedAt) return;
    this.#remember(key, location);
  }

  /**
   * Caches a location for `LOCATION_CACHE_MS`, never past its record's expiry (a lookup may find a
   * record signed long ago); the entry is returned, so a background answer can tell it is still there.
   */
  #remember(key: string, location: Location): { location: Location; until: number } {
    const entry = { location, until: Math.min(this.core.now() + LOCATION_CACHE_MS, location.expiresAt) };
    this.#locationCache.set(key, entry);
    return entry;
  }

  /** The location last seen for a user (by `addressKey`), if cached. */
  cachedLocation(key: string): Location | undefined {
    return this.#locationCache.get(key)?.location;
  }

  /** Forgets a user's cached location (their record lapsed). */
  forgetLocation(key: string): void {
    this.#locationCache.delete(key);
  }

  /**
   * An event arrived over G2G from `peerId` (with `located`, the sender's location record the peer
   * attached): check who may send it, then deliver.
   */
  async receive(peerId: string, payload: Uint8Array, located?: Uint8Array): Promise<string | undefined> {
    const { core } = this;
    const event = this.capabilities().decodeDirect(payload);
    if (event.kind === 'roster') throw new SpoofedEventError('roster events do not travel between gateways');
    if (located) this.#takeAttached(peerId, event.from, located);
    // Anti-spoofing: the directory must name this link's gateway as the sender's.
    let location = await this.locate(event.from, false);
    if (location?.gateway !== peerId) location = await this.locate(event.from, true);
    // Or the link's node is an exit to the sender's network (a phone answering through its exit).
    if (location?.gateway !== peerId && !(await this.capabilities().exitServes(peerId, event.from))) {
      core.metrics.refused.inc({ reason: 'ERR_SPOOFED_EVENT' });
      core.log.warn(
        { peer: peerId.slice(0, 12), from: formatAddress(event.from) },
        'refused an event from a gateway that does not serve its sender',
      );
      throw new SpoofedEventError(
        `gateway ${peerId.slice(0, 12)}… does not serve ${formatAddress(event.from)}`,
      );
    }
    return this.acceptFromAfar(event);
  }

  /**
   * The sender's location record a peer attached to an event. Believed (for the sender check, and
   * for sends to the sender) only where this node knows no location for the sender, and only as a
   * valid record the link's gateway signed about the sender: it says what that gateway could
   * publish in the directory, and saves the receiver a lookup that takes seconds while a DHT is
   * busy with logins. The directory is then asked in the background and decides: a record there
   * naming another gateway replaces it, and the peer's attachments are not believed for
   * `DISTRUST_MS` (its events are checked against the directory, as without one). A location
   * already known, or a record that fails its checks (counted as rejected), leaves the check to the
   * directory too.
   */
  #takeAttached(peerId: string, from: Address, located: Uint8Array): void {
    const key = addressKey(from);
    const now = this.core.now();
    const known = this.#locationCache.get(key);
    if (known && known.until > now) return;
    if ((this.#distrusted.get(peerId) ?? 0) > now) return;
    let attached: Location;
    try {
      attached = this.core.directory.readLocation(from, located, peerId);
    } catch {
      return;
    }
    const entry = this.#remember(key, attached);
    if (this.#confirming.has(key)) return;
    this.#confirming.add(key);
    const confirmed = this.core.directory.lookupLocation(from).then(
      (found) => {
        // Not there yet (a DHT behind the login), or replaced meanwhile (a send failed, the user left).
        if (!found || this.#locationCache.get(key) !== entry) return;
        if (found.gateway === attached.gateway && found.issuedAt < attached.issuedAt) return;
        this.#remember(key, found);
        if (found.gateway === attached.gateway) return;
        this.#distrust(peerId);
        this.core.metrics.rejectedRecords.inc();
        this.core.log.warn(
          { peer: peerId.slice(0, 12), from: key, gateway: found.gateway.slice(0, 12) },
          'the directory names another gateway for a sender whose record a peer attached',
        );
      },
      // The DHT did not answer: the attached location lapses with the cache.
      () => {},
    );
    this.core.track(confirmed.finally(() => this.#confirming.delete(key)));
  }

  /** The peer's attachments are not believed for a while (at most `MAX_DISTRUSTED` peers at once). */
  #distrust(peerId: string): void {
    const now = this.core.now();
    if (this.#distrusted.size >= MAX_DISTRUSTED)
      for (const [peer, until] of this.#distrusted) if (until <= now) this.#distrusted.delete(peer);
    // Full of live entries (keys cost nothing to make): the directory still answers each sender.
    if (this.#distrusted.size < MAX_DISTRUSTED) this.#distrusted.set(peerId, now + DISTRUST_MS);
  }

  /** Delivers an event that came over G2G (straight or along a chain): a resent IM is shown once. */
  acceptFromAfar(event: CanonicalEvent, lost: readonly Feature[] = []): Promise<string> {
    return this.#arrivals.once(event, () => this.accept(event, lost));
  }

  /** Delivers an event to a user on this node; returns the protocol it was delivered in. */
  async accept(event: CanonicalEvent, lost: readonly Feature[] = []): Promise<string> {
    const { core } = this;
    const to = 'to' in event ? event.to : undefined;
    const m = to ? core.managers.get(addressKey(to)) : undefined;
    if (!m) throw new UserOfflineError(`${to ? formatAddress(to) : 'nobody'} is not online here`);
    if (!m.isReady) await m.ready;
    const request = event.kind === 'buddy-request' || event.kind === 'buddy-response' ? event : undefined;
    // Already shown here (its held copy at a login): delivered, not shown twice.
    if (request && this.pending.isCopy(request)) return m.protocol ?? 'unknown';
    if (event.kind === 'buddy-response') await this.pending.recordAnswer(event);
    if (!core.deliverTo(m, event, lost)) {
      // A call to a user whose connections cannot take calls (a legacy protocol): an IM saying who
      // called and how to call back, and a decline from their node so the caller stops ringing.
      if (
        event.kind === 'call-invite' &&
        m.sessions.size > 0 &&
        core.deliverTo(m, missedCallNotice(event, core.now()))
      ) {
        const decline: CanonicalEvent = {
          kind: 'call-signal',
          id: event.id,
          from: m.address,
          to: event.from,
          signal: 'decline',
          reason: `${m.protocol ?? 'this protocol'} has no calls; told by IM`,
        };
        core.track(this.route(m, decline, 'api').catch(() => {}));
        return m.protocol ?? 'unknown';
      }
      throw new UserOfflineError(`no connection of ${formatAddress(m.address)} can take a ${event.kind}`);
    }
    if (request) await this.pending.shown(request);
    if (event.kind === 'buddy-response' && event.accepted) core.presenceTo(m, event.from);
    // Their gateway says they left: where they were is no longer worth remembering.
    if (event.kind === 'presence' && event.status === 'offline') this.forgetLocation(addressKey(event.from));
    // The plugin at Y: the IM reached Y; a command Y has on is answered on Y's behalf.
    if (event.kind === 'im') {
      const answering = core.pluginHost.answer(() => core.pluginUser(m), event);
      if (answering) core.track(answering);
    }
    return m.protocol ?? 'unknown';
  }
}

/**
 * The IM a user whose protocol has no calls gets instead of a call invitation: who called, with
 * what, and how to call back (issue 19: "nothing crashes on a protocol that has no calls").
 */
export function missedCallNotice(invite: CallInviteEvent, now: number): ImEvent {
  const caller = formatAddress(invite.from);
  const what = invite.media.includes('video') ? 'a video call' : 'a voice call';
  return {
    kind: 'im',
    id: `ct-call-${invite.id}`.slice(0, 256),
    from: invite.from,
    to: invite.to,
    text:
      `[CrossTalk] ${caller} called you (${what}), but your messenger cannot take calls. ` +
      `To call back, call ${caller} from a CrossTalk client (dialCall) or from a SIP phone registered at a CrossTalk SIP exit.`,
    sentAt: now,
  };
}
