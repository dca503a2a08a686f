import { createHash } from 'node:crypto';

/**
 * FreeBSD MD5-crypt (`$1$salt$hash`, Poul-Henning Kamp's crypt-md5), written from the published
 * algorithm: Yahoo's pre-0x0b login hashes md5crypt(password, "$1$_2S43d5f$") (libpurple 2.4.3
 * yahoo_process_auth_old; captures/README.md). node:crypto has MD5 but not this construction.
 */
const MAGIC = '$1$';
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function md5(...parts: (Uint8Array | string)[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

function to64(value: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) {
    out += ITOA64[value & 0x3f];
    value >>>= 6;
  }
  return out;
}

/** FreeBSD MD5-crypt of a password with a salt (`$1$salt$`), as `$1$salt$hash`. */
export function md5crypt(password: string | Uint8Array, saltSpec: string): string {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  // The salt is what follows "$1$", up to the next "$", at most 8 characters.
  let salt = saltSpec.startsWith(MAGIC) ? saltSpec.slice(MAGIC.length) : saltSpec;
  const dollar = salt.indexOf('$');
  if (dollar >= 0) salt = salt.slice(0, dollar);
  salt = salt.slice(0, 8);
  const saltBytes = Buffer.from(salt, 'latin1');

  const alternate = md5(pw, saltBytes, pw);
  const ctx = createHash('md5');
  ctx.update(pw);
  ctx.update(MAGIC);
  ctx.update(saltBytes);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(alternate.subarray(0, Math.min(16, left)));
  // One bit per length bit: a NUL byte for a 1, the first password byte for a 0.
  for (let bits = pw.length; bits > 0; bits >>>= 1) {
    ctx.update(bits & 1 ? Buffer.of(0) : pw.subarray(0, 1));
  }
  let digest = ctx.digest();
  // 1000 rounds to slow brute force down.
  for (let round = 0; round < 1000; round++) {
    const r = createHash('md5');
    r.update(round & 1 ? pw : digest);
    if (round % 3) r.update(saltBytes);
    if (round % 7) r.update(pw);
    r.update(round & 1 ? digest : pw);
    digest = r.digest();
  }
  const d = digest;
  const encoded =
    to64((d[0]! << 16) | (d[6]! << 8) | d[12]!, 4) +
    to64((d[1]! << 16) | (d[7]! << 8) | d[13]!, 4) +
    to64((d[2]! << 16) | (d[8]! << 8) | d[14]!, 4) +
    to64((d[3]! << 16) | (d[9]! << 8) | d[15]!, 4) +
    to64((d[4]! << 16) | (d[10]! << 8) | d[5]!, 4) +
    to64(d[11]!, 2);
  return `${MAGIC}${salt}$${encoded}`;
}

export { md5 as md5Digest };
