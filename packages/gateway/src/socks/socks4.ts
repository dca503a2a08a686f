import { SocksProtocolError } from '../errors/errors.js';

/**
 * SOCKS4 and SOCKS4a requests, sans-IO. Wire facts from NEC's "SOCKS: A protocol for TCP proxy
 * across firewalls" (SOCKS4) and "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol":
 *   request: VN=4 | CD (1 CONNECT, 2 BIND) | DSTPORT u16 | DSTIP u32 | USERID | NUL
 *   SOCKS4a: DSTIP = 0.0.0.x (x != 0), then DOMAIN | NUL after the USERID.
 *   reply:   VN=0 | CD (90 granted, 91 rejected/failed, 92 no identd, 93 identd mismatch) | DSTPORT | DSTIP
 */
export const SOCKS4_CONNECT = 1;
/** SOCKS4 command 2, BIND (always refused: the gateway only proxies CONNECT). */
export const SOCKS4_BIND = 2;

/** SOCKS4 reply codes. */
export const SocksReply = {
  granted: 90,
  rejected: 91,
  noIdentd: 92,
  identMismatch: 93,
} as const;

/** A parsed SOCKS4 or SOCKS4a request. */
export interface Socks4Request {
  /** 1 CONNECT, 2 BIND. */
  command: number;
  /** The destination: an IPv4 address, or the name a SOCKS4a request carries (lower-cased). */
  host: string;
  /** The destination port. */
  port: number;
  /** The USERID field as the client sent it (Latin-1). */
  userId: string;
  /** The client sent a domain name (SOCKS4a) rather than an IPv4 address. */
  socks4a: boolean;
}

export type Socks4Parse = { done: false } | { done: true; request: Socks4Request; consumed: number };

/** Longest USERID or domain accepted; the spec sets none, a NUL-terminated field must end somewhere. */
export const MAX_SOCKS_FIELD = 255;

function field(buf: Uint8Array, from: number, what: string): { value: string; end: number } | undefined {
  const limit = Math.min(buf.length, from + MAX_SOCKS_FIELD + 1);
  for (let i = from; i < limit; i++) {
    if (buf[i] === 0) return { value: Buffer.from(buf.subarray(from, i)).toString('latin1'), end: i + 1 };
  }
  if (buf.length - from > MAX_SOCKS_FIELD) {
    throw new SocksProtocolError(`${what} longer than ${MAX_SOCKS_FIELD} bytes`, { offset: from });
  }
  return undefined;
}

/** Parses one request from the start of `buf`, or says more bytes are needed. */
export function parseSocks4Request(buf: Uint8Array): Socks4Parse {
  if (buf.length === 0) return { done: false };
  if (buf[0] !== 4) throw new SocksProtocolError(`version ${buf[0]} is not SOCKS4`, { offset: 0 });
  if (buf.length < 8) return { done: false };
  const command = buf[1]!;
  const port = (buf[2]! << 8) | buf[3]!;
  const ip = [buf[4]!, buf[5]!, buf[6]!, buf[7]!];
  const user = field(buf, 8, 'USERID');
  if (!user) return { done: false };
  const socks4a = ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0;
  if (!socks4a) {
    return {
      done: true,
      request: { command, host: ip.join('.'), port, userId: user.value, socks4a },
      consumed: user.end,
    };
  }
  const domain = field(buf, user.end, 'SOCKS4a domain');
  if (!domain) return { done: false };
  if (domain.value.length === 0) throw new SocksProtocolError('empty SOCKS4a domain', { offset: user.end });
  if (!/^[A-Za-z0-9.-]+$/.test(domain.value)) {
    throw new SocksProtocolError('SOCKS4a domain has characters a host name cannot', { offset: user.end });
  }
  return {
    done: true,
    request: { command, host: domain.value.toLowerCase(), port, userId: user.value, socks4a },
    consumed: domain.end,
  };
}

/** The 8-byte reply. The address fields are ignored by clients for CONNECT (zeros, as dante sends). */
export function socks4Reply(code: number): Uint8Array {
  return Uint8Array.of(0, code, 0, 0, 0, 0, 0, 0);
}

/** A SOCKS4 (IPv4) or SOCKS4a (host name) CONNECT request, for clients and tests. */
export function socks4ConnectRequest(host: string, port: number, userId = ''): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  const head = [4, SOCKS4_CONNECT, port >> 8, port & 0xff];
  const user = [...Buffer.from(userId, 'latin1'), 0];
  if (v4) return Uint8Array.from([...head, ...v4.slice(1).map(Number), ...user]);
  return Uint8Array.from([...head, 0, 0, 0, 1, ...user, ...Buffer.from(host, 'latin1'), 0]);
}
