import { decodeUtf8 } from '@crosstalk/core';
import { PROTOCOL } from '../protocol.js';

/**
 * The user a client names in its SASL exchange (RFC 6120 §6.4.2), read so a session can report
 * `identified` before the server answers. Only what the mechanisms send in the clear:
 * PLAIN (RFC 4616: authzid NUL authcid NUL password), X-OAUTH2 (same layout), SCRAM (RFC 5802
 * client-first-message `n=user`) and DIGEST-MD5 (RFC 2831 `username="..."` in the first
 * response). The password is never kept.
 */
export function saslUsername(mechanism: string | undefined, base64: string): string | undefined {
  const payload = decodeBase64Text(base64);
  if (payload === undefined) return undefined;
  const mech = (mechanism ?? '').toUpperCase();
  if (mech === 'PLAIN' || mech === 'X-OAUTH2') {
    const parts = payload.split('\u0000');
    if (parts.length < 3) return undefined;
    return parts[1] || parts[0] || undefined;
  }
  if (mech.startsWith('SCRAM-')) {
    const m = /(?:^|,)n=([^,]*)/.exec(payload.replace(/^[npy][^,]*,[^,]*,/, ''));
    return m ? m[1]!.replace(/=2C/g, ',').replace(/=3D/g, '=') || undefined : undefined;
  }
  if (mech === 'DIGEST-MD5') {
    const m = /(?:^|,)\s*username\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(payload);
    return m ? m[1]!.replace(/\\(.)/g, '$1') || undefined : undefined;
  }
  return undefined;
}

function decodeBase64Text(s: string): string | undefined {
  const text = s.trim();
  if (text === '' || text === '=' || text.length > 16 * 1024) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return decodeUtf8(
      Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
      PROTOCOL,
    );
  } catch {
    return undefined; // not base64 of UTF-8: nothing to learn
  }
}
