import type { CanonicalEvent, EventKind } from './events.js';

/**
 * What a protocol or a translation hop can carry. A base feature per event kind, plus the optional
 * parts of each kind. Translation reports what it loses instead of dropping it silently.
 */
export const FEATURES = [
  'im',
  'im.html',
  'typing',
  'typing.states', // the full XEP-0085 set, not only composing / not composing
  'presence',
  'presence.text',
  'presence.idle',
  'presence.busy',
  'presence.invisible',
  'roster',
  'roster.groups',
  'roster.names',
  'roster.pending',
  'buddy-request',
  'buddy-request.message',
  'buddy-response',
  'file-offer',
  'call-invite',
  'call-signal',
] as const;

/** One thing a protocol or a translation hop can carry (see `FEATURES`). */
export type Feature = (typeof FEATURES)[number];
/** The features a codec or a format carries. */
export type FeatureSet = ReadonlySet<Feature>;

/** True when the string names a `Feature`. */
export function isFeature(value: string): value is Feature {
  return (FEATURES as readonly string[]).includes(value);
}

/** A `FeatureSet` of the features given. */
export function featureSet(...features: readonly Feature[]): FeatureSet {
  return new Set(features);
}

/** Every feature: what the canonical model itself carries. */
export const ALL_FEATURES: FeatureSet = new Set(FEATURES);

const KIND_FEATURE: Record<EventKind, Feature> = {
  im: 'im',
  typing: 'typing',
  presence: 'presence',
  roster: 'roster',
  'buddy-request': 'buddy-request',
  'buddy-response': 'buddy-response',
  'file-offer': 'file-offer',
  'call-invite': 'call-invite',
  'call-signal': 'call-signal',
};

/** The features one event uses; its base kind first. */
export function featuresOf(event: CanonicalEvent): Feature[] {
  const used: Feature[] = [KIND_FEATURE[event.kind]];
  switch (event.kind) {
    case 'im':
      if (event.html !== undefined) used.push('im.html');
      break;
    case 'typing':
      if (event.state !== 'composing' && event.state !== 'paused' && event.state !== 'active') {
        used.push('typing.states');
      }
      break;
    case 'presence':
      if (event.text !== undefined) used.push('presence.text');
      if (event.idleSince !== undefined) used.push('presence.idle');
      if (event.status === 'busy') used.push('presence.busy');
      if (event.status === 'invisible') used.push('presence.invisible');
      break;
    case 'roster':
      if (event.items.some((i) => i.groups.length > 0)) used.push('roster.groups');
      if (event.items.some((i) => i.name !== undefined)) used.push('roster.names');
      if (event.items.some((i) => i.pending)) used.push('roster.pending');
      break;
    case 'buddy-request':
      if (event.message !== undefined) used.push('buddy-request.message');
      break;
    default:
      break;
  }
  return used;
}

/** What `subtractFeatures` made of an event: the part the target carries, and what it lost. */
export interface Subtraction {
  /** The event reduced to what the target carries, or undefined when it cannot carry the kind at all. */
  event: CanonicalEvent | undefined;
  /** What was removed, in `FEATURES` order. */
  lost: Feature[];
}

/**
 * Reduces an event to the features a target supports and names what was removed ("feature
 * subtraction", the failure the CrossTalk paper set out to make visible).
 */
export function subtractFeatures(event: CanonicalEvent, supported: FeatureSet): Subtraction {
  const used = featuresOf(event);
  const lost = used.filter((f) => !supported.has(f));
  if (lost.length === 0) return { event, lost };
  if (!supported.has(used[0]!)) return { event: undefined, lost: used };
  const has = (f: Feature) => supported.has(f);
  let reduced: CanonicalEvent;
  switch (event.kind) {
    case 'im': {
      const { html: _html, ...rest } = event;
      reduced = rest;
      break;
    }
    case 'typing':
      reduced = {
        ...event,
        state: event.state === 'gone' || event.state === 'inactive' ? 'active' : event.state,
      };
      break;
    case 'presence': {
      const { text: t, idleSince, ...rest } = event;
      const status =
        (event.status === 'busy' && !has('presence.busy')) || event.status === 'idle' ? 'away' : event.status;
      reduced = {
        ...rest,
        status: event.status === 'invisible' && !has('presence.invisible') ? 'offline' : status,
        ...(t !== undefined && has('presence.text') ? { text: t } : {}),
        ...(idleSince !== undefined && has('presence.idle') ? { idleSince } : {}),
      };
      if (event.status === 'idle' && has('presence.idle')) reduced = { ...reduced, status: 'idle' };
      break;
    }
    case 'roster':
      reduced = {
        ...event,
        items: event.items.map((item) => {
          const { name: n, ...rest } = item;
          return {
            ...rest,
            groups: has('roster.groups') ? item.groups : [],
            pending: has('roster.pending') ? item.pending : false,
            ...(n !== undefined && has('roster.names') ? { name: n } : {}),
          };
        }),
      };
      break;
    case 'buddy-request': {
      const { message: _m, ...rest } = event;
      reduced = rest;
      break;
    }
    default:
      reduced = event;
  }
  return { event: reduced, lost };
}
