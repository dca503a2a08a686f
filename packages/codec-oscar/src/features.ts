import { type FeatureSet, featureSet } from '@crosstalk/core';

/**
 * What OSCAR carries (README "Mapping"): HTML messages, typing on/paused/off, presence with away,
 * busy (ICQ DND/occupied) and idle time, feedbag groups, aliases and "awaiting authorization",
 * authorization requests with a reason. Not carried: a buddy's status text in arrivals, the
 * inactive/gone chat states, invisible buddies (shown as offline), files and calls.
 */
export const OSCAR_FEATURES: FeatureSet = featureSet(
  'im',
  'im.html',
  'typing',
  'presence',
  'presence.idle',
  'presence.busy',
  'roster',
  'roster.groups',
  'roster.names',
  'roster.pending',
  'buddy-request',
  'buddy-request.message',
  'buddy-response',
);
