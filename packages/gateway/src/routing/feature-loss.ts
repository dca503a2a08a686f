import {
  type Address,
  addressKey,
  type CanonicalEvent,
  FEATURES,
  type Feature,
  featuresOf,
  formatAddress,
  subtractFeatures,
} from '@crosstalk/core';

/**
 * Feature loss along a chain: what each step drops of an event (core's `subtractFeatures`, step by
 * step), and the notices that tell the sending user once per conversation what their messages lose
 * on the way ("feature subtraction", the failure the paper set out to make visible).
 */

/** An event carried through steps: what is left of it (undefined when a step cannot carry its kind) and what it lost. */
export interface Carried {
  /** The event as the last step leaves it; undefined when a step drops it whole. */
  event: CanonicalEvent | undefined;
  /** What the steps removed, in `FEATURES` order. */
  lost: Feature[];
}

/** Carries `event` through steps that each keep `preserves`. */
export function carry(event: CanonicalEvent, steps: readonly { preserves: readonly Feature[] }[]): Carried {
  const lost = new Set<Feature>();
  let current: CanonicalEvent | undefined = event;
  for (const step of steps) {
    if (!current) break;
    const result = subtractFeatures(current, new Set(step.preserves));
    for (const f of result.lost) lost.add(f);
    current = result.event;
  }
  return { event: current, lost: sortFeatures(lost) };
}

/** Features in `FEATURES` order, each once. */
export function sortFeatures(features: Iterable<string>): Feature[] {
  const set = new Set(features);
  return FEATURES.filter((f) => set.has(f));
}

/** Kinds a user is told about: what they said to someone (a presence goes to every buddy: no conversation). */
const CONVERSATION_KINDS = new Set<CanonicalEvent['kind']>(['im', 'typing', 'file-offer', 'call-invite']);

/**
 * Which losses a user has been told about, per conversation (sender and recipient): each feature
 * once. Bounded: past `max` conversations the oldest are forgotten (and may be told again).
 */
export class LossNotices {
  readonly #told = new Map<string, Set<Feature>>();

  constructor(private readonly max = 10_000) {}

  /**
   * The features of `lost` the sender of `event` has not been told about in this conversation, now
   * marked told; empty when there is nothing new to say (or the event is not a conversation's).
   */
  untold(event: CanonicalEvent, lost: readonly Feature[]): Feature[] {
    if (lost.length === 0 || !CONVERSATION_KINDS.has(event.kind) || !('to' in event) || !event.to) return [];
    // Joined, not a template: a Map keeps a template's pieces alive as a rope (recent-arrivals.ts).
    const key = [addressKey(event.from), addressKey(event.to)].join(' ');
    let told = this.#told.get(key);
    if (!told) {
      if (this.#told.size >= this.max) this.#told.delete(this.#told.keys().next().value as string);
      told = new Set();
      this.#told.set(key, told);
    }
    const fresh = lost.filter((f) => !told.has(f));
    for (const f of fresh) told.add(f);
    return fresh;
  }
}

/** What each feature is, for people. */
const FEATURE_WORDS: Partial<Record<Feature, string>> = {
  im: 'messages',
  'im.html': 'formatting (bold, colours, links)',
  typing: 'typing notifications',
  'typing.states': 'detailed typing states',
  presence: 'presence',
  'presence.text': 'status messages',
  'presence.idle': 'idle times',
  'presence.busy': 'the busy status',
  'presence.invisible': 'invisibility',
  'buddy-request': 'buddy requests',
  'buddy-request.message': 'the message of a buddy request',
  'buddy-response': 'answers to buddy requests',
  'file-offer': 'file transfers',
  'call-invite': 'calls',
  'call-signal': 'call answers and hangups',
};

/** The notice a user gets the first time their messages to `recipient` lose `lost` on the way. */
export function lossNotice(recipient: Address, lost: readonly Feature[], why?: string): string {
  const words = lost.map((f) => FEATURE_WORDS[f] ?? f);
  const list = words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)}` : words[0];
  return (
    `CrossTalk: ${list} cannot reach ${formatAddress(recipient)}` +
    (why ? ` (${why})` : '') +
    '; the rest of what you send gets there.'
  );
}

/** The features of an event a chain must keep for nothing to be lost; the first is its kind's. */
export function wanted(event: CanonicalEvent): Feature[] {
  return featuresOf(event);
}
