import type { PresenceStatus } from '@crosstalk/core';

/**
 * MSN status codes (Escargot front/msn/misc.py `MSNStatus`): NLN online, BSY busy, IDL idle, BRB be
 * right back, AWY away, PHN on the phone, LUN out to lunch, HDN invisible (own status only), FLN
 * offline. The canonical set is smaller: BRB and LUN read as away, PHN as busy.
 */
const TO_CANONICAL: Record<string, PresenceStatus> = {
  NLN: 'online',
  BSY: 'busy',
  IDL: 'idle',
  BRB: 'away',
  AWY: 'away',
  PHN: 'busy',
  LUN: 'away',
  HDN: 'invisible',
  FLN: 'offline',
};

const FROM_CANONICAL: Record<PresenceStatus, string> = {
  online: 'NLN',
  away: 'AWY',
  busy: 'BSY',
  idle: 'IDL',
  invisible: 'HDN',
  offline: 'FLN',
};

/** The canonical status of an MSN status code (`NLN`, `AWY`, `BSY`, ...), or undefined for an unknown one. */
export function statusFromMsn(code: string | undefined): PresenceStatus | undefined {
  return code === undefined ? undefined : TO_CANONICAL[code];
}

/** The MSN status code for a canonical status. */
export function statusToMsn(status: PresenceStatus): string {
  return FROM_CANONICAL[status];
}
