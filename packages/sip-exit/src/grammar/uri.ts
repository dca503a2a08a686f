import { SipSyntaxError } from '../errors/errors.js';
import { formatParams, getParam, parseParams, type SipParams } from './params.js';

/** A `sip:` or `sips:` URI (RFC 3261 §19.1), split into its parts. */
export interface SipUri {
  /** `sip` or `sips`. */
  scheme: 'sip' | 'sips';
  /** The user part, as written (escapes kept). */
  user?: string;
  /** The password, as written (RFC 3261 §19.1.1 advises against it). */
  password?: string;
  /** Host name, IPv4 address, or IPv6 reference with its brackets. */
  host: string;
  /** The port, when the URI names one. */
  port?: number;
  /** URI parameters (`;transport=tcp;lr`), in order. */
  params: SipParams;
  /** The `?` headers part, as written. */
  headers?: string;
}

/** Characters RFC 3261 §25.1 allows in a user part (unreserved, escaped, user-unreserved). */
const USER = /^[A-Za-z0-9\-_.!~*'()%&=+$,;?/]+$/;
const PASSWORD = /^[A-Za-z0-9\-_.!~*'()%&=+$,]*$/;
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]$/;

/** Parses a `sip:` or `sips:` URI; throws `SipSyntaxError` on anything else (a `tel:` URI too). */
export function parseSipUri(text: string): SipUri {
  const colon = text.indexOf(':');
  const scheme = text.slice(0, colon).toLowerCase();
  if (colon < 0 || (scheme !== 'sip' && scheme !== 'sips'))
    throw new SipSyntaxError(`not a sip: URI: ${JSON.stringify(text.slice(0, 64))}`);
  let rest = text.slice(colon + 1);
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (!USER.test(user) || (password !== undefined && !PASSWORD.test(password)))
      throw new SipSyntaxError(`bad user part in URI ${JSON.stringify(text.slice(0, 64))}`);
  }
  const semi = rest.indexOf(';');
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = semi >= 0 ? parseParams(rest.slice(semi)) : [];
  const { host, port } = parseHostPort(hostport);
  const uri: SipUri = { scheme, host, params };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  if (headers !== undefined) uri.headers = headers;
  return uri;
}

/** Splits `host[:port]` (IPv6 in brackets), checking both. */
export function parseHostPort(text: string): { host: string; port?: number } {
  let host = text;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    host = text.slice(0, end + 1);
    const after = text.slice(end + 1);
    if (after.startsWith(':')) portText = after.slice(1);
    else if (after.length > 0) throw new SipSyntaxError(`bad host ${JSON.stringify(text.slice(0, 64))}`);
    if (end < 0 || !IPV6.test(host))
      throw new SipSyntaxError(`bad IPv6 reference ${JSON.stringify(text.slice(0, 64))}`);
  } else {
    const c = text.indexOf(':');
    if (c >= 0) {
      host = text.slice(0, c);
      portText = text.slice(c + 1);
    }
    if (!HOSTNAME.test(host) || host.length > 255)
      throw new SipSyntaxError(`bad host ${JSON.stringify(text.slice(0, 64))}`);
  }
  if (portText === undefined) return { host: host.toLowerCase() };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    throw new SipSyntaxError(`bad port ${JSON.stringify(portText.slice(0, 16))}`);
  return { host: host.toLowerCase(), port: Number(portText) };
}

/** Writes a SIP URI back. */
export function formatSipUri(uri: SipUri): string {
  const userinfo =
    uri.user === undefined ? '' : `${uri.user}${uri.password === undefined ? '' : `:${uri.password}`}@`;
  const port = uri.port === undefined ? '' : `:${uri.port}`;
  const headers = uri.headers === undefined ? '' : `?${uri.headers}`;
  return `${uri.scheme}:${userinfo}${uri.host}${port}${formatParams(uri.params)}${headers}`;
}

/** The transport a URI asks for (`transport` parameter, RFC 3261 §19.1.1), lower-case; udp when absent. */
export function uriTransport(uri: SipUri): string {
  return (getParam(uri.params, 'transport') ?? 'udp').toLowerCase();
}

/** The host a URI names without IPv6 brackets (what a socket is given). */
export function socketHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
