/**
 * Yahoo's base64 ("Y64"): standard base64 with `.` for `+`, `_` for `/` and `-` for `=`
 * (libpurple util.c to_y64; Escargot front/ymsg/Y64.py).
 */
export function y64(bytes: Uint8Array): string {
  let b64 = '';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    b64 += alphabet[a >> 2];
    b64 += alphabet[((a & 3) << 4) | ((b ?? 0) >> 4)];
    b64 += b === undefined ? '-' : alphabet[((b & 15) << 2) | ((c ?? 0) >> 6)];
    b64 += c === undefined ? '-' : alphabet[c & 63];
  }
  return b64;
}
