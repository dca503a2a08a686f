import { isCrossTalkError, parseAddress } from '@crosstalk/core';
import type { G2gNode } from '../../g2g/link.js';
import type { UserManager } from '../../manager/user-manager.js';
import type { CapabilityRouter } from '../../routing/router.js';
import type { NodeCore } from '../core.js';
import type { PendingRequests } from '../pending/pending-requests.js';

/** The first retry of a failed publish, ms (then doubling, up to a third of the soft TTL). */
export const RETRY_FIRST_MS = 1000;

/**
 * What the node keeps in the directory: its users' location and presence (soft state, re-signed at
 * a third of their TTL), its codecs' capabilities, and its hard state (held requests, home records).
 * A publish that fails on a DHT that may answer again is retried with a backoff until it all goes
 * through.
 */
export class Publisher {
  #hardRefresh: NodeJS.Timeout | undefined;
  #capabilityRefresh: NodeJS.Timeout | undefined;
  readonly #retry: { failing: boolean; delay: number; timer: NodeJS.Timeout | undefined } = {
    failing: false,
    delay: RETRY_FIRST_MS,
    timer: undefined,
  };

  constructor(
    readonly core: NodeCore,
    readonly capabilities: () => CapabilityRouter,
    readonly pending: PendingRequests,
    readonly g2g: () => G2gNode,
  ) {}

  /** At start: hard state back into the DHT, capabilities advertised and refreshed. */
  async start(): Promise<void> {
    const { core } = this;
    // A DHT that does not answer yet does not stop the node: what fails is retried.
    await this.republishHardState().catch((error) => this.failed(error));
    await this.advertiseCapabilities().catch((error) => this.failed(error));
    this.#capabilityRefresh = setInterval(
      () => void this.advertiseCapabilities().catch((error) => this.failed(error)),
      Math.max(1000, Math.floor(core.directory.capabilityTtl / 3)),
    );
    this.#capabilityRefresh.unref();
  }

  /** Stops every timer (closing, or a start that failed). */
  stop(): void {
    clearInterval(this.#hardRefresh);
    clearInterval(this.#capabilityRefresh);
    clearTimeout(this.#retry.timer);
  }

  /**
   * Publishes a user's location record, their presence in it (and, at login, their home record); a
   * failure is retried. Not once the user has left: their record is withdrawn, and would stand
   * again for a soft TTL. `located` is told once the location record is through (or failed), before
   * the home record is put: what waits for the location need not wait for that second put.
   */
  async publishUser(m: UserManager, home?: number, located?: () => void): Promise<void> {
    if (this.core.managers.get(m.key) !== m) return located?.();
    try {
      try {
        // At a login the buddies are told anyway (`located`); a refresh tells them only after a lapse.
        await this.#putLocation(m, home !== undefined);
      } finally {
        located?.();
      }
      if (home !== undefined) await this.core.directory.publishHome(m.address, home);
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * Puts `m`'s location record (their presence in it). When the one before had lapsed first (or
   * none had gone through since the login), the buddies elsewhere may have been shown the user
   * offline (their watch found no record) or refused the login's presence (no record to check it
   * against): they are told the presence again. Only those users: after one failed put in a login
   * burst, telling every user's buddies again was a flood of presence on the G2G links.
   */
  async #putLocation(m: UserManager, login: boolean): Promise<void> {
    const { core } = this;
    const signing = core.now();
    await core.directory.publishLocation(m.address, core.contact, m.presence);
    const before = m.locationSignedAt;
    m.locationSignedAt = signing;
    if (login || core.managers.get(m.key) !== m) return;
    if (before === undefined || core.now() >= before + core.directory.softTtl)
      core.track(core.tellBuddies(m, m.presence, 'elsewhere'));
  }

  /**
   * A publish failed. When the DHT may answer again (a retryable error), everything this node
   * keeps in it is republished after a backoff (1 s, doubling up to a third of the soft TTL, the
   * refresh period), and again until it all goes through: records that expired, or were lost with
   * the nodes that held them, come back without waiting for their next refresh.
   */
  failed(error: unknown): void {
    const { core } = this;
    if (core.closing) return;
    if (!isCrossTalkError(error) || !error.isRetryable) {
      core.log.warn({ err: error }, 'could not publish to the directory');
      return;
    }
    if (!this.#retry.failing) {
      this.#retry.failing = true;
      core.log.warn({ err: error }, 'could not publish to the directory; retrying');
    }
    if (this.#retry.timer) return;
    const delay = this.#retry.delay;
    this.#retry.delay = Math.min(delay * 2, Math.max(RETRY_FIRST_MS, Math.floor(core.directory.softTtl / 3)));
    this.#retry.timer = setTimeout(() => {
      this.#retry.timer = undefined;
      core.track(this.#republishAll());
    }, delay);
    this.#retry.timer.unref();
  }

  /** Everything this node keeps in the DHT: its users' soft state, its capabilities, its hard state. */
  async #republishAll(): Promise<void> {
    const { core } = this;
    if (core.closing) return;
    try {
      for (const m of [...core.managers.values()]) await this.#putLocation(m, false);
      await this.advertiseCapabilities();
      await this.republishHardState();
    } catch (error) {
      this.failed(error);
      return;
    }
    this.#retry.failing = false;
    this.#retry.delay = RETRY_FIRST_MS;
    // Peers must find this node again too, not only its records (buddies elsewhere of users whose
    // record lapsed meanwhile were told again as each went through: `#published`).
    this.g2g().reannounce();
    core.log.info('republished to the directory after a failure');
  }

  /**
   * Hard state back into the DHT: the requests this node holds and its users' home records (with
   * the login time they were first published with, so a restart never outbids a later login
   * elsewhere). Run on start and then at a third of the pending TTL, so neither expires while held.
   */
  async republishHardState(): Promise<void> {
    const { core } = this;
    let failed = await this.pending.republish();
    for (const [key, user] of Object.entries(core.store.state.users)) {
      if (user.home === undefined) continue;
      try {
        await core.directory.publishHome(parseAddress(key), user.home);
      } catch (error) {
        core.log.warn({ user: key, err: error }, 'could not republish a home record');
        failed ??= error;
      }
    }
    if (!this.#hardRefresh) {
      this.#hardRefresh = setInterval(
        () => {
          core.track(this.republishHardState().catch((error) => this.failed(error)));
        },
        Math.max(1000, Math.floor(core.directory.pendingTtl / 3)),
      );
      this.#hardRefresh.unref();
    }
    if (failed !== undefined) throw failed;
  }

  /**
   * What this node translates, as capability records (its codecs over each canonical form it speaks,
   * conversions between its forms) and their index (routing/router.ts).
   */
  async advertiseCapabilities(): Promise<void> {
    await this.capabilities().advertise();
  }

  /** Withdraws the capability records (closing). */
  async withdrawCapabilities(): Promise<void> {
    await this.capabilities().withdraw();
  }
}
