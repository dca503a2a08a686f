import { readTlvCount, type Tlv, tlvChainSize, writeTlvChain } from '../tlv/tlv.js';
import type { ByteReader } from '../wire/byte-reader.js';
import type { ByteWriter } from '../wire/byte-writer.js';
import { checkLength } from '../wire/byte-writer.js';

/**
 * User info block: u8-length screen name, warning level u16, TLV count u16, TLVs
 * (retro-aim-server wire/user.go TLVUserInfo; libpurple oscar.c aim_info_extract).
 */
export interface UserInfo {
  screenName: string;
  warning: number;
  tlvs: Tlv[];
}

/** User-info TLV types (retro-aim-server wire/snacs.go OServiceUserInfo*). */
export const UserInfoTlv = {
  userFlags: 0x01,
  signonTime: 0x03,
  idleMinutes: 0x04,
  status: 0x06,
  capabilities: 0x0d,
} as const;

/** Flag bits in TLV 0x01 (retro-aim-server OServiceUserFlag*). */
export const UserFlag = {
  oscarFree: 0x0010,
  away: 0x0020,
  icq: 0x0040,
} as const;

export function readUserInfo(r: ByteReader): UserInfo {
  const screenName = r.string8('user info screen name');
  const warning = r.u16('user info warning level');
  const count = r.u16('user info TLV count');
  return { screenName, warning, tlvs: readTlvCount(r, count) };
}

export function userInfoSize(u: UserInfo): number {
  return 1 + u.screenName.length + 4 + tlvChainSize(u.tlvs);
}

export function writeUserInfo(w: ByteWriter, u: UserInfo): void {
  w.string8(u.screenName, 'user info screen name');
  w.u16(u.warning);
  checkLength(u.tlvs.length, 0xffff, 'user info TLV count');
  w.u16(u.tlvs.length);
  writeTlvChain(w, u.tlvs);
}
