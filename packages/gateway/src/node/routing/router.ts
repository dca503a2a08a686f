import { type Address, addressKey, type CanonicalEvent, formatAddress } from '@crosstalk/core';
import type { Location } from '../../directory/directory.js';
import { SpoofedEventError, UserOfflineError } from '../../errors/errors.js';
import type { CanonicalForm } from '../../g2g/canonical-form.js';
import { type G2gNode, G2gRefusedError } from '../../g2g/link.js';
import type { UserManager } from '../../manager/user-manager.js';
import type { NodeCore } from '../core.js';
import type { PendingRequests } from '../pending/pending-requests.js';

const LOCATION_CACHE_MS = 30_000;

/**
 * Carries events between users: to a user on this node at once, to a user elsewhere over G2G to the
 * node the directory names for them; and takes events arriving over G2G, checking that the link's
 * node is the one the directory names for their sender (anti-spoofing).
 */
export class Router {
  readonly #locationCache = new Map<string, { location: Location; until: number }>();

  constructor(
    readonly core: NodeCore,
    readonly canonical: CanonicalForm,
    readonly g2g: () => G2gNode,
    readonly pending: PendingRequests,
  ) {}

  /** Carries an event to its recipient: locally when they are here, else over G2G. */
  async route(m: UserManager, event: CanonicalEvent, fromProtocol = m.protocol ?? 'unknown'): Promise<void> {
    const { core } = this;
    const to = 'to' in event ? event.to : undefined;
    if (!to) return;
    const started = process.hrtime.bigint();
    const local = core.managers.get(addressKey(to));
    let protocol: string;
    if (local) {
      protocol = await this.accept(event);
    } else {
      protocol = await this.#sendRemote(to, event);
    }
    core.metrics.deliveryLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    core.metrics.translated.inc({ from: fromProtocol, to: protocol || 'unknown', kind: event.kind });
    core.emit({ type: 'translated', event, from: fromProtocol, to: protocol });
  }

  async #sendRemote(to: Address, event: CanonicalEvent): Promise<string> {
    const payload = this.canonical.encode(event);
    for (let attempt = 0; attempt < 2; attempt++) {
      const location = await this.#locate(to, attempt > 0);
      if (!location) throw new UserOfflineError(`${formatAddress(to)} is not online at any gateway`);
      try {
        return await this.g2g().send({ id: location.gateway, contact: location.contact }, payload);
      } catch (error) {
        if (error instanceof G2gRefusedError) {
          if (error.refusal === 'ERR_USER_OFFLINE') {
            this.#locationCache.delete(addressKey(to));
            throw new UserOfflineError(`${formatAddress(to)} is not online at their gateway`);
          }
          throw error;
        }
        // The link failed: the cached location may be stale; look again once.
        this.#locationCache.delete(addressKey(to));
        if (attempt > 0) throw error;
      }
    }
    throw new UserOfflineError(formatAddress(to));
  }

  async #locate(user: Address, fresh: boolean): Promise<Location | undefined> {
    const key = addressKey(user);
    const cached = this.#locationCache.get(key);
    if (!fresh && cached && cached.until > this.core.now()) return cached.location;
    const location = await this.core.directory.lookupLocation(user);
    // Cached for a while; a failed send or a sender seen on another link looks again at once.
    if (location) this.#locationCache.set(key, { location, until: this.core.now() + LOCATION_CACHE_MS });
    else this.#locationCache.delete(key);
    return location;
  }

  /** The location last seen for a user (by `addressKey`), if cached. */
  cachedLocation(key: string): Location | undefined {
    return this.#locationCache.get(key)?.location;
  }

  /** Forgets a user's cached location (their record lapsed). */
  forgetLocation(key: string): void {
    this.#locationCache.delete(key);
  }

  /** An event arrived over G2G from `peerId`: check who may send it, then deliver. */
  async receive(peerId: string, payload: Uint8Array): Promise<string | undefined> {
    const { core } = this;
    const event = this.canonical.decode(payload);
    if (event.kind === 'roster') throw new SpoofedEventError('roster events do not travel between gateways');
    // Anti-spoofing: the directory must name this link's gateway as the sender's.
    let location = await this.#locate(event.from, false);
    if (location?.gateway !== peerId) location = await this.#locate(event.from, true);
    if (location?.gateway !== peerId) {
      core.metrics.refused.inc({ reason: 'ERR_SPOOFED_EVENT' });
      core.log.warn(
        { peer: peerId.slice(0, 12), from: formatAddress(event.from) },
        'refused an event from a gateway that does not serve its sender',
      );
      throw new SpoofedEventError(
        `gateway ${peerId.slice(0, 12)}… does not serve ${formatAddress(event.from)}`,
      );
    }
    return this.accept(event);
  }

  /** Delivers an event to a user on this node; returns the protocol it was delivered in. */
  async accept(event: CanonicalEvent): Promise<string> {
    const { core } = this;
    const to = 'to' in event ? event.to : undefined;
    const m = to ? core.managers.get(addressKey(to)) : undefined;
    if (!m) throw new UserOfflineError(`${to ? formatAddress(to) : 'nobody'} is not online here`);
    await m.ready;
    if (event.kind === 'buddy-response') await this.pending.recordAnswer(event);
    if (!core.deliverTo(m, event))
      throw new UserOfflineError(`no connection of ${formatAddress(m.address)} can take a ${event.kind}`);
    if (event.kind === 'buddy-response' && event.accepted) core.presenceTo(m, event.from);
    // The plugin at Y: the IM reached Y; a command Y has on is answered on Y's behalf.
    if (event.kind === 'im') {
      const answering = core.pluginHost.answer(() => core.pluginUser(m), event);
      if (answering) core.track(answering);
    }
    return m.protocol ?? 'unknown';
  }
}
