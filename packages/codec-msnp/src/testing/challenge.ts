import { createHash } from 'node:crypto';

/**
 * `CHL 0 challenge` / `QRY trid productId 32` + answer. MSNP6-10 answer MD5(challenge + key) in
 * hex; MSNP11+ mix that MD5 with the challenge and product id in a 64-bit sum (MSNP wiki "QRY";
 * the arithmetic as libpurple msnutils.c `msn_handle_chl` describes it). Keys per product id
 * (Escargot msnp_ns.py `_QRY_ID_CODES`).
 */
export interface ChallengeProduct {
  key: string;
  /** `md5` up to MSNP10, `msnp11` from MSNP11. */
  scheme: 'md5' | 'msnp11';
}

/** Product ids and keys for answering `CHL` challenges (`QRY`), and which scheme each uses. */
export const CHALLENGE_PRODUCTS: Readonly<Record<string, ChallengeProduct>> = {
  'msmsgs@msnmsgr.com': { key: 'Q1P7W2E4J9R8U3S5', scheme: 'md5' },
  'PROD0038W!61ZTF9': { key: 'VT6PX?UQTM4WM%YR', scheme: 'md5' },
  'PROD0090YUAUV{2B': { key: 'YMM8C_H7KCQ2S_KL', scheme: 'msnp11' },
  'PROD0101{0RM?UBW': { key: 'CFHUR$52U_{VIX5T', scheme: 'msnp11' },
  PROD0113H11T8$X_: { key: 'RG@XY*28Q5QHS%Q5', scheme: 'msnp11' },
  'PROD0114ES4Z%Q5W': { key: 'PK}_A_0N_K%O?A9S', scheme: 'msnp11' },
};

/** The product id a client of that protocol version presents (MSN Messenger 6 and 7). */
export function defaultChallengeProduct(dialect: number): string {
  return dialect >= 11 ? 'PROD0090YUAUV{2B' : 'msmsgs@msnmsgr.com';
}

/** Lower-case hex MD5 of a Latin-1 string (the MD5 challenge scheme). */
export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'latin1').digest('hex');
}

const MOD = 0x7fff_ffffn;
const MAGIC = 0x0e79_a9c1n;

/** The MSNP11 challenge answer for `challenge` with a product id and key. */
export function msnp11ChallengeResponse(challenge: string, productId: string, productKey: string): string {
  const digest = createHash('md5')
    .update(challenge + productKey, 'latin1')
    .digest();
  const hash = [0, 1, 2, 3].map((i) => digest.readUInt32LE(i * 4));
  const parts = hash.map((h) => BigInt(h & 0x7fff_ffff));
  let padded = challenge + productId;
  if (padded.length % 8 !== 0) padded += '0'.repeat(8 - (padded.length % 8));
  const text = Buffer.from(padded, 'latin1');
  let high = 0n;
  let low = 0n;
  for (let i = 0; i < text.length; i += 8) {
    let temp = (MAGIC * BigInt(text.readUInt32LE(i))) % MOD;
    temp = (parts[0]! * (temp + low) + parts[1]!) % MOD;
    high += temp;
    temp = (BigInt(text.readUInt32LE(i + 4)) + temp) % MOD;
    low = (parts[2]! * temp + parts[3]!) % MOD;
    high += low;
  }
  low = (low + parts[1]!) % MOD;
  high = (high + parts[3]!) % MOD;
  const out = Buffer.alloc(16);
  const mix = [low, high, low, high];
  for (let i = 0; i < 4; i++) out.writeUInt32LE((hash[i]! ^ Number(mix[i]!)) >>> 0, i * 4);
  return out.toString('hex');
}

/** The answer a client gives, or undefined for a product id we have no key for. */
export function challengeResponse(challenge: string, productId: string): string | undefined {
  const product = CHALLENGE_PRODUCTS[productId];
  if (!product) return undefined;
  return product.scheme === 'md5'
    ? md5Hex(challenge + product.key)
    : msnp11ChallengeResponse(challenge, productId, product.key);
}
