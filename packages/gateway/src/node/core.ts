import type {
  Address,
  CanonicalEvent,
  Feature,
  G2gContact,
  PluginUser,
  PresenceEvent,
} from '@crosstalk/core';
import type { Logger } from 'pino';
import type { Directory } from '../directory/directory.js';
import type { UserManager } from '../manager/user-manager.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { PluginHost } from '../plugins/plugin-host.js';
import type { StateStore } from '../store/state-store.js';
import type { GatewayEvent } from './api.js';

/**
 * What the node's parts (routing, pending requests, presence watches, publishing, sessions) share:
 * the node itself, seen from inside. Not exported from the package.
 */
export interface NodeCore {
  /** The node's id (its public key, hex). */
  readonly id: string;
  readonly log: Logger;
  readonly now: () => number;
  readonly metrics: GatewayMetrics;
  /** Users online here, by `addressKey`. */
  readonly managers: Map<string, UserManager>;
  readonly directory: Directory;
  readonly store: StateStore;
  readonly pluginHost: PluginHost;
  /** What other nodes dial (published in location records). */
  readonly contact: G2gContact;
  /** Set once `close` began: nothing new is scheduled. */
  readonly closing: boolean;
  emit(event: GatewayEvent): void;
  /** Work `close` lets finish before it flushes state. */
  track(work: Promise<unknown>): void;
  newId(): string;
  /** Shows an event to a user here; false when none of their endpoints could. */
  deliverTo(m: UserManager, event: CanonicalEvent, lost?: readonly Feature[]): boolean;
  /** Tells one (new) buddy this user's current presence, in the background. */
  presenceTo(m: UserManager, buddy: Address): void;
  /** Sends a presence to every foreign buddy who may see it. */
  tellBuddies(
    m: UserManager,
    presence: PresenceEvent,
    where?: 'here' | 'elsewhere' | 'everywhere',
  ): Promise<void>;
  /** Publishes the user's location record with their current presence; a failure is retried. */
  publishUser(m: UserManager): Promise<void>;
  /** A local user as plugins see them. */
  pluginUser(m: UserManager): PluginUser;
  /** Tells a user here something from the node itself: an IM from the system address. */
  tell(user: Address, text: string): void;
  /** One refusal: counted by its code, logged in one line, reported to observers. */
  refuse(error: Error, context: Record<string, unknown> & { connection?: string }): void;
}
