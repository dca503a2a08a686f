import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseAuthValue } from '../grammar/auth.js';
import { quote } from '../grammar/params.js';

/** Why a request's credentials were not accepted. */
export type DigestRefusal =
  /** No Authorization header (or none for our realm): challenge. */
  | 'missing'
  /** The header does not parse or lacks a field RFC 2617 requires. */
  | 'malformed'
  /** The nonce is ours but too old: challenge again with `stale=true` (RFC 2617 §3.2.1). */
  | 'stale'
  /** The nonce is not one we issued. */
  | 'bad-nonce'
  /** The user is not in the credentials. */
  | 'unknown-user'
  /** The digest does not match (wrong password, or another URI or method). */
  | 'wrong'
  /** A nonce count seen before with this nonce (a replay, RFC 2617 §3.2.2). */
  | 'replay';

/** The outcome of `DigestAuthenticator.verify`. */
export type DigestResult =
  | {
      /** The credentials are good. */
      ok: true;
      /** The user they are for. */
      user: string;
    }
  | {
      /** The credentials were refused. */
      ok: false;
      /** Why. */
      reason: DigestRefusal;
    };

/** Options of a `DigestAuthenticator`. */
export interface DigestOptions {
  /** The realm (RFC 3261 §22.1: usually the SIP domain). */
  realm: string;
  /** The password of a user name, or undefined when there is no such user. */
  password(user: string): string | undefined;
  /** How long a nonce stays good, ms (default 5 minutes); an older one is answered `stale=true`. */
  nonceLifetime?: number;
  /** The clock. */
  now?: () => number;
  /** Most nonces whose counts are remembered for replay detection (default 10,000; oldest forgotten first). */
  maxTrackedNonces?: number;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** What a digest response is computed from (RFC 2617 §3.2.2). */
export interface DigestInput {
  /** The user name. */
  user: string;
  /** The realm. */
  realm: string;
  /** The password. */
  password: string;
  /** The request's method. */
  method: string;
  /** The digest-uri (the Request-URI). */
  uri: string;
  /** The server's nonce. */
  nonce: string;
  /** With `qop=auth`: the nonce count and the client nonce. */
  qop?: {
    /** The nonce count, 8 hex digits. */
    nc: string;
    /** The client nonce. */
    cnonce: string;
  };
}

/** The `response` value of RFC 2617 §3.2.2.1 (MD5; with `qop=auth` when `qop` is given). */
export function digestResponse(input: DigestInput): string {
  const ha1 = md5(`${input.user}:${input.realm}:${input.password}`);
  const ha2 = md5(`${input.method}:${input.uri}`);
  return input.qop
    ? md5(`${ha1}:${input.nonce}:${input.qop.nc}:${input.qop.cnonce}:auth:${ha2}`)
    : md5(`${ha1}:${input.nonce}:${ha2}`);
}

/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617; MD5 with `qop=auth`, what
 * baresip and sipp speak; RFC 8760's SHA-256 is not offered). Nonces are stateless: a timestamp and
 * an HMAC of it under a key of this process, so a restart only makes phones re-authenticate; nonce
 * counts are tracked per nonce to refuse replays.
 */
export class DigestAuthenticator {
  /** The realm challenges name. */
  readonly realm: string;
  readonly #password: (user: string) => string | undefined;
  readonly #key = randomBytes(32);
  readonly #lifetime: number;
  readonly #now: () => number;
  readonly #counts = new Map<string, number>();
  readonly #maxTracked: number;

  constructor(options: DigestOptions) {
    this.realm = options.realm;
    this.#password = options.password;
    this.#lifetime = options.nonceLifetime ?? 5 * 60 * 1000;
    this.#now = options.now ?? Date.now;
    this.#maxTracked = options.maxTrackedNonces ?? 10_000;
  }

  /** A WWW-Authenticate value with a fresh nonce (RFC 2617 §3.2.1). */
  challenge(stale = false): string {
    const parts = [
      `realm=${quote(this.realm)}`,
      `nonce=${quote(this.#nonce(this.#now()))}`,
      'algorithm=MD5',
      'qop="auth"',
    ];
    if (stale) parts.push('stale=true');
    return `Digest ${parts.join(', ')}`;
  }

  #nonce(at: number): string {
    const stamp = Buffer.alloc(8);
    stamp.writeBigUInt64BE(BigInt(at));
    const mac = createHmac('sha256', this.#key).update(stamp).update(this.realm).digest().subarray(0, 16);
    return Buffer.concat([stamp, mac]).toString('base64url');
  }

  /** The time a nonce of ours was issued, or undefined when it is not ours. */
  #issuedAt(nonce: string): number | undefined {
    if (!/^[A-Za-z0-9_-]{32}$/.test(nonce)) return undefined;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 24) return undefined;
    const at = Number(raw.readBigUInt64BE(0));
    const expected = Buffer.from(this.#nonce(at), 'base64url');
    return timingSafeEqual(raw, expected) ? at : undefined;
  }

  /**
   * Checks the Authorization header values of a request for `method` to `uri` (RFC 2617 §3.2.2):
   * our realm, a nonce of ours that is not stale, a nonce count not seen before, and the digest
   * of the user's password.
   */
  verify(method: string, uri: string, authorizations: readonly string[]): DigestResult {
    let params: Map<string, string> | undefined;
    for (const value of authorizations) {
      try {
        const parsed = parseAuthValue(value);
        if (parsed.scheme.toLowerCase() === 'digest' && parsed.params.get('realm') === this.realm) {
          params = parsed.params;
          break;
        }
      } catch {
        return { ok: false, reason: 'malformed' };
      }
    }
    if (!params) return { ok: false, reason: 'missing' };
    const user = params.get('username');
    const nonce = params.get('nonce');
    const digestUri = params.get('uri');
    const response = params.get('response');
    const algorithm = params.get('algorithm') ?? 'MD5';
    const qop = params.get('qop');
    if (!user || !nonce || !digestUri || !response || !/^[0-9a-f]{32}$/i.test(response))
      return { ok: false, reason: 'malformed' };
    if (algorithm.toUpperCase() !== 'MD5') return { ok: false, reason: 'malformed' };
    const issued = this.#issuedAt(nonce);
    if (issued === undefined) return { ok: false, reason: 'bad-nonce' };
    if (this.#now() - issued > this.#lifetime) return { ok: false, reason: 'stale' };
    const password = this.#password(user);
    if (password === undefined) return { ok: false, reason: 'unknown-user' };
    // RFC 2617 §3.2.2.5: the digest-uri is the Request-URI (a proxy may not change it).
    if (digestUri !== uri) return { ok: false, reason: 'wrong' };
    let expected: string;
    let nc: number | undefined;
    const base = { user, realm: this.realm, password, method, uri: digestUri, nonce };
    if (qop === undefined) {
      expected = digestResponse(base);
    } else {
      const ncText = params.get('nc');
      const cnonce = params.get('cnonce');
      if (qop !== 'auth' || !ncText || !/^[0-9a-f]{8}$/i.test(ncText) || !cnonce)
        return { ok: false, reason: 'malformed' };
      nc = Number.parseInt(ncText, 16);
      expected = digestResponse({ ...base, qop: { nc: ncText, cnonce } });
    }
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(response.toLowerCase())))
      return { ok: false, reason: 'wrong' };
    if (nc !== undefined) {
      const seen = this.#counts.get(nonce) ?? 0;
      if (nc <= seen) return { ok: false, reason: 'replay' };
      this.#counts.delete(nonce);
      if (this.#counts.size >= this.#maxTracked) {
        const oldest = this.#counts.keys().next().value;
        if (oldest !== undefined) this.#counts.delete(oldest);
      }
      this.#counts.set(nonce, nc);
    }
    return { ok: true, user };
  }
}
