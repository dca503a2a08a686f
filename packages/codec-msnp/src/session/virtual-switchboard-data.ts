import type { Address, CanonicalEvent } from '@crosstalk/core';

/**
 * What a notification session hands the engine when it rings the client into a conversation the
 * gateway plays (`ctx.endpoints.allocate('msnp', data)`); the session opened on that endpoint finds
 * it in `ctx.virtual.data`. The object is shared by reference: until the client connects
 * (`taken`), the notification session appends later events from the same buddy to `pending`.
 */
export interface VirtualSwitchboardData {
  readonly protocol: 'msnp';
  readonly kind: 'switchboard';
  /** The MSN user being rung. */
  readonly owner: Address;
  /** The foreign buddy who wrote first. */
  readonly peer: Address;
  /** Events to deliver as soon as the client has joined, in order. */
  readonly pending: CanonicalEvent[];
  /** The cookie and session id written into `RNG`; the client must present both in `ANS`. */
  readonly cookie: string;
  readonly sessid: string;
  /** The notification session's protocol version, for the lines the switchboard writes. */
  readonly dialect: number;
  /** The endpoint reserved for it. */
  endpoint: { readonly host: string; readonly port: number };
  /** Set by the switchboard session once the client connected. */
  taken: boolean;
}

/**
 * True when a virtual endpoint's data is an MSNP virtual switchboard's (what the gateway stored when it
 * answered an `XFR`).
 */
export function isVirtualSwitchboardData(value: unknown): value is VirtualSwitchboardData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<VirtualSwitchboardData>;
  return (
    v.protocol === 'msnp' &&
    v.kind === 'switchboard' &&
    typeof v.owner?.user === 'string' &&
    typeof v.peer?.user === 'string' &&
    Array.isArray(v.pending) &&
    typeof v.cookie === 'string' &&
    typeof v.sessid === 'string' &&
    typeof v.dialect === 'number'
  );
}

/** What the notification session records with a switchboard cookie it saw (XFR or RNG). */
export interface SwitchboardCookieData {
  readonly protocol: 'msnp';
  readonly via: 'XFR' | 'RNG';
  readonly dialect: number;
  /** RNG: the session id and who rang. */
  readonly sessid?: string;
  readonly caller?: string;
  readonly host: string;
  readonly port: number;
}

export function isSwitchboardCookieData(value: unknown): value is SwitchboardCookieData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<SwitchboardCookieData>;
  return v.protocol === 'msnp' && (v.via === 'XFR' || v.via === 'RNG') && typeof v.dialect === 'number';
}
