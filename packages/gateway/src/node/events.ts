import { eventToJson, formatAddress } from '@crosstalk/core';
import type { GatewayEvent } from './api.js';

/** A node event as JSON (addresses and canonical events in their JSON form); not for `session`. */
export function gatewayEventToJson(
  event: Exclude<GatewayEvent, { type: 'session' }>,
): Record<string, unknown> {
  switch (event.type) {
    case 'verified':
    case 'offline':
      return { ...event, user: formatAddress(event.user) };
    case 'translated':
    case 'delivered':
    case 'undeliverable':
    case 'pending-held':
      return { ...event, event: eventToJson(event.event) };
    default:
      return { ...event };
  }
}
