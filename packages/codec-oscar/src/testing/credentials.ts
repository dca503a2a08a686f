import { createHash } from 'node:crypto';

/**
 * Password proofs (PROTOCOLS.md "BUCP login"; libpurple family_auth.c aim_encode_password_md5 and
 * aim_encode_password; retro-aim-server state/user.go ValidateHash / ValidateRoastedPass).
 */

/** Appended to every BUCP MD5 input (libpurple AIM_MD5_STRING). */
export const AIM_MD5_STRING = 'AOL Instant Messenger (SM)';

/** BUCP TLV 0x4C: present when the client sends the "strong" hash of MD5(password). */
export const TLV_STRONG_HASH_FLAG = 0x4c;

const md5 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('md5');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
  return new Uint8Array(h.digest());
};

/** Strong hash: MD5(key + MD5(password) + AIM_MD5_STRING) (sent with TLV 0x4C). */
export function bucpStrongHash(key: string, password: string): Uint8Array {
  return md5(key, md5(password), AIM_MD5_STRING);
}

/** Weak hash: MD5(key + password + AIM_MD5_STRING). */
export function bucpWeakHash(key: string, password: string): Uint8Array {
  return md5(key, password, AIM_MD5_STRING);
}
