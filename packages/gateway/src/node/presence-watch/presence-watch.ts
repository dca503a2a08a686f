import { type Address, addressKey, type PresenceEvent } from '@crosstalk/core';
import type { Location } from '../../directory/directory.js';
import type { UserManager } from '../../manager/user-manager.js';
import type { NodeCore } from '../core.js';
import { RETRY_FIRST_MS } from '../publishing/publisher.js';
import type { Router } from '../routing/router.js';

/** How long after a watched buddy's location record lapses the node looks again, ms. */
const WATCH_MARGIN_MS = 50;

interface Watch {
  address: Address;
  /** Users here (by `addressKey`) who were shown the buddy online. */
  users: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * A foreign buddy was shown online to a user here: their location record is watched, and when it
 * lapses (their node stopped re-signing it: it crashed, or lost the DHT), the buddy is shown
 * offline. Their node says "offline" itself when they log out; a crashed one cannot.
 */
export class PresenceWatch {
  readonly #watches = new Map<string, Watch>();

  constructor(
    readonly core: NodeCore,
    readonly router: Router,
  ) {}

  /** A presence of a buddy was shown to `m`: start (or stop, for offline) watching the buddy for them. */
  saw(m: UserManager, presence: PresenceEvent): void {
    const key = addressKey(presence.from);
    // A user of this node: it says itself when they leave.
    if (key === m.key || this.core.managers.has(key)) return;
    let watch = this.#watches.get(key);
    if (presence.status === 'offline') {
      watch?.users.delete(m.key);
      if (watch && watch.users.size === 0) this.#unwatch(key);
      return;
    }
    if (!watch) {
      watch = { address: presence.from, users: new Set(), timer: undefined };
      this.#watches.set(key, watch);
      // The location the sender's link was checked against says when to look next; else look now.
      this.#schedule(key, this.router.cachedLocation(key)?.expiresAt ?? this.core.now());
    }
    watch.users.add(m.key);
  }

  /** `m` logged out: nothing is watched for them any more. */
  forget(m: UserManager): void {
    for (const [key, watch] of this.#watches) {
      watch.users.delete(m.key);
      if (watch.users.size === 0) this.#unwatch(key);
    }
  }

  /** Stops every watch (the node is closing). */
  clear(): void {
    for (const key of [...this.#watches.keys()]) this.#unwatch(key);
  }

  #schedule(key: string, at: number): void {
    const watch = this.#watches.get(key);
    if (!watch || this.core.closing) return;
    clearTimeout(watch.timer);
    watch.timer = setTimeout(
      () => this.core.track(this.#check(key)),
      Math.max(0, at - this.core.now()) + WATCH_MARGIN_MS,
    );
    watch.timer.unref();
  }

  #unwatch(key: string): void {
    clearTimeout(this.#watches.get(key)?.timer);
    this.#watches.delete(key);
  }

  async #check(key: string): Promise<void> {
    const { core } = this;
    const watch = this.#watches.get(key);
    if (!watch) return;
    watch.timer = undefined;
    let location: Location | undefined;
    try {
      location = await core.directory.lookupLocation(watch.address);
    } catch {
      // The DHT does not answer: nothing says the buddy left. Look again a little later.
      this.#schedule(key, core.now() + Math.max(RETRY_FIRST_MS, Math.floor(core.directory.softTtl / 3)));
      return;
    }
    if (this.#watches.get(key) !== watch) return;
    if (location) {
      this.#schedule(key, location.expiresAt);
      return;
    }
    this.router.forgetLocation(key);
    core.log.info({ buddy: key, users: watch.users.size }, 'a foreign buddy is no longer online anywhere');
    for (const userKey of [...watch.users]) {
      const m = core.managers.get(userKey);
      if (m) core.deliverTo(m, { kind: 'presence', from: watch.address, to: m.address, status: 'offline' });
    }
    this.#unwatch(key);
  }
}
