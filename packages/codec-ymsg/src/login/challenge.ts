import { randomBytes } from 'node:crypto';
import { md5crypt, md5Digest } from './md5crypt.js';
import { y64 } from './y64.js';

/** The fixed salt of Yahoo's pre-0x0b login (libpurple 2.4.3 yahoo_process_auth_old). */
export const YAHOO_CRYPT_SALT = '$1$_2S43d5f$';

/** The two password-derived strings the v1 answer mixes in: Y64(md5(pw)) and Y64(md5(md5crypt(pw))). */
export interface V1Secrets {
  passwordHash: string;
  cryptHash: string;
}

/** The two password hashes the pre-0x0b login answer is built from. */
export function v1Secrets(password: string): V1Secrets {
  return {
    passwordHash: y64(md5Digest(Buffer.from(password, 'utf8'))),
    cryptHash: y64(md5Digest(md5crypt(password, YAHOO_CRYPT_SALT))),
  };
}

/**
 * The YMSG9/10 "v1" answer to an AUTH challenge (key 94): AUTHRESP keys 6 and 96. A checksum
 * character picked from the challenge, then the user name, challenge and a password hash in an
 * order chosen by challenge[15] % 8 (libpurple 2.4.3 yahoo_process_auth_old, libyahoo2
 * yahoo_process_auth_pre_0x0b; Escargot pager.py _verify_challenge_v1 checks the same).
 */
export function v1Response(
  user: string,
  challenge: string,
  secrets: V1Secrets | string,
): { key6: string; key96: string } {
  const { passwordHash, cryptHash } = typeof secrets === 'string' ? v1Secrets(secrets) : secrets;
  const at = (i: number) => challenge.charCodeAt(i) || 0;
  const pick = (i: number) => challenge[at(i) % 16] ?? '';
  let layout: (hash: string) => string;
  switch (at(15) % 8) {
    case 1:
    case 6:
      layout = (h) => pick(9) + user + challenge + h;
      break;
    case 2:
    case 7:
      layout = (h) => pick(15) + challenge + h + user;
      break;
    case 3:
      layout = (h) => pick(1) + user + h + challenge;
      break;
    case 4:
      layout = (h) => pick(3) + h + challenge + user;
      break;
    default: // 0 and 5
      layout = (h) => pick(7) + h + user + challenge;
      break;
  }
  return {
    key6: y64(md5Digest(Buffer.from(layout(passwordHash), 'utf8'))),
    key96: y64(md5Digest(Buffer.from(layout(cryptHash), 'utf8'))),
  };
}

/** A fresh challenge as Escargot makes one: Y64 of 16 random bytes (pager.py generate_challenge_v1). */
export function v1Challenge(): string {
  return y64(randomBytes(16));
}
