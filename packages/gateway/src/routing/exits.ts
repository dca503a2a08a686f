import type { Address, CanonicalEvent, Feature } from '@crosstalk/core';

/**
 * Exits (docs/ARCHITECTURE.md "Capability routing"; the paper's "exits to foreign networks"): a
 * node's way out to a network that has no CrossTalk users, such as SIP phones reached by a SIP
 * exit. An exit is a vertex `exit:<name>` of the capability graph; the node advertises an edge
 * `canonical:<form>>exit:<name>` for each canonical form it speaks, naming the networks (domains)
 * it exits to, so that a chain for an address no user location answers for can end in it.
 */

/** The prefix of an exit's vertex. */
export const EXIT_PREFIX = 'exit:';

/** Whether a vertex of the capability graph is an exit (`exit:sip`). */
export function isExitFormat(format: string): boolean {
  return format.startsWith(EXIT_PREFIX) && format.length > EXIT_PREFIX.length;
}

/** An exit a node performs (`node.addExit`). */
export interface NodeExit {
  /** Its vertex, `exit:<name>` (`exit:sip`). */
  readonly protocol: string;
  /** The networks (lower-case domains) it exits to: a chain to an address on one may end here. */
  readonly networks: readonly string[];
  /** The features it carries (a call exit: `call-invite`, `call-signal`). */
  readonly preserves: readonly Feature[];
  /** Its advertised cost (default the node's routing cost). */
  readonly cost?: number;
  /**
   * Takes an event whose chain ended at this exit, after every hop check: its recipient is on one
   * of `networks`, and its sender's node is the chain's origin. Resolves with what it was delivered
   * as (for metrics); throws a typed error to refuse it (the origin hears the refusal's code).
   */
  deliver(event: CanonicalEvent, context: ExitContext): Promise<string> | string;
}

/** What an exit knows of an event it takes. */
export interface ExitContext {
  /** The node that composed the chain (the sender's). */
  readonly origin: string;
  /** The features the chain dropped on the way. */
  readonly lost: readonly Feature[];
}

/** An exit added to a node: it sends on behalf of the addresses it exits to, and can be removed. */
export interface ExitHandle {
  /**
   * Sends an event from an address on one of the exit's networks (a phone answering, ringing,
   * hanging up) to a CrossTalk user: the recipient's node believes it because this node advertises
   * the exit for that network. Rejects as `node.attach`'s sessions do (offline, no route).
   */
  send(event: Exclude<CanonicalEvent, { kind: 'roster' }> & { to: Address }): Promise<string>;
  /** Stops advertising the exit (its capability records are withdrawn). */
  remove(): Promise<void>;
}
