/**
 * Channel-1 (FLAP) login, TLV 2: the password XORed with a fixed table, repeated
 * (PROTOCOLS.md; libpurple family_auth.c aim_encode_password; retro-aim-server ValidateRoastedPass).
 */
const ROAST = [
  0xf3, 0x26, 0x81, 0xc4, 0x39, 0x86, 0xdb, 0x92, 0x71, 0xa3, 0xb9, 0xe6, 0x53, 0x7a, 0x95, 0x7c,
];

/** Roasting is its own inverse: the same call unroasts. */
export function roastPassword(password: string | Uint8Array): Uint8Array {
  const bytes = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ ROAST[i % ROAST.length]!;
  return out;
}
