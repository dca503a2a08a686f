import type { PresenceStatus } from '@crosstalk/core';
import { findTlv, type Tlv, tlvU16Value, tlvU32Value } from '../tlv/tlv.js';
import { UserFlag, type UserInfo, UserInfoTlv } from '../user-info/user-info.js';

/** ICQ status bits in user-info TLV 6, low 16 bits (retro-aim-server OServiceUserStatus*). */
export const IcqStatus = {
  online: 0x0000,
  away: 0x0001,
  dnd: 0x0002,
  na: 0x0004,
  occupied: 0x0010,
  freeForChat: 0x0020,
  invisible: 0x0100,
} as const;

export interface OscarPresence {
  status: PresenceStatus;
  idleSince?: number;
}

function uint(value: Uint8Array | undefined): number | undefined {
  if (!value || value.length === 0 || value.length > 4) return undefined;
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return n;
}

/** ICQ status (TLV 6 low bits) to a canonical status; invisible outranks busy outranks away. */
export function icqStatusToPresence(status: number): PresenceStatus {
  const s = status & 0xffff;
  if (s & IcqStatus.invisible) return 'invisible';
  if (s & (IcqStatus.dnd | IcqStatus.occupied)) return 'busy';
  if (s & (IcqStatus.na | IcqStatus.away)) return 'away';
  return 'online';
}

export function presenceToIcqStatus(status: PresenceStatus): number {
  switch (status) {
    case 'away':
      return IcqStatus.away;
    case 'busy':
      return IcqStatus.occupied;
    case 'invisible':
      return IcqStatus.invisible;
    default:
      return IcqStatus.online;
  }
}

/**
 * Presence from a user-info block (buddy arrived 0x03/0x0B): the ICQ status TLV 6 when it says
 * more than "online", else the away flag 0x20 in TLV 1; idle minutes in TLV 4 (PROTOCOLS.md).
 */
export function userInfoToPresence(u: UserInfo, now: number): OscarPresence {
  const flags = uint(findTlv(u.tlvs, UserInfoTlv.userFlags)) ?? 0;
  const icq = uint(findTlv(u.tlvs, UserInfoTlv.status));
  let status: PresenceStatus = icq !== undefined ? icqStatusToPresence(icq) : 'online';
  if (status === 'online' && flags & UserFlag.away) status = 'away';
  const idle = uint(findTlv(u.tlvs, UserInfoTlv.idleMinutes)) ?? 0;
  const out: OscarPresence = { status };
  if (idle > 0) {
    out.idleSince = now - idle * 60_000;
    if (status === 'online') out.status = 'idle';
  }
  return out;
}

/** A user-info block announcing `presence` for `screenName` (flags, sign-on time, idle, ICQ status). */
export function presenceToUserInfo(
  screenName: string,
  presence: { status: PresenceStatus; idleSince?: number | undefined },
  now: number,
  icq: boolean,
): UserInfo {
  const away = presence.status === 'away' || presence.status === 'busy';
  let flags: number = UserFlag.oscarFree;
  if (icq) flags |= UserFlag.icq;
  if (away) flags |= UserFlag.away;
  const tlvs: Tlv[] = [
    tlvU16Value(UserInfoTlv.userFlags, flags),
    tlvU32Value(UserInfoTlv.signonTime, Math.floor(now / 1000)),
  ];
  if (presence.idleSince !== undefined && presence.idleSince < now) {
    tlvs.push(
      tlvU16Value(
        UserInfoTlv.idleMinutes,
        Math.min(0xffff, Math.max(1, Math.round((now - presence.idleSince) / 60_000))),
      ),
    );
  }
  tlvs.push(tlvU32Value(UserInfoTlv.status, presenceToIcqStatus(presence.status)));
  return { screenName, warning: 0, tlvs };
}
