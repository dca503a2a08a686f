import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { getParam } from '../grammar/params.js';
import { type SipUri, socketHost, uriTransport } from '../grammar/uri.js';
import type { Via } from '../grammar/via.js';
import type { SipDestination } from '../transaction/context.js';

/** Where this exit listens, and the domain it serves. */
export interface ExitAddresses {
  /** The address its sockets are bound to (written into Via and Record-Route). */
  host: string;
  /** Its UDP port, if it listens on UDP. */
  udpPort?: number;
  /** Its TCP port, if it listens on TCP. */
  tcpPort?: number;
  /** The SIP domain of its AORs (`alice@<domain>`), also the digest realm. */
  domain: string;
  /** Other names requests may use for this exit's host (`localhost`, a DNS name). */
  aliases: readonly string[];
}

/** True when a host names this exit's listening address (or one of its aliases). */
export function isOwnHost(host: string, addresses: ExitAddresses): boolean {
  const h = socketHost(host).toLowerCase();
  return h === addresses.host.toLowerCase() || addresses.aliases.some((a) => a.toLowerCase() === h);
}

/** True when `port` (or 5060 when absent, RFC 3261 §19.1.2) is one of this exit's ports. */
export function isOwnPort(port: number | undefined, addresses: ExitAddresses): boolean {
  const p = port ?? 5060;
  return p === addresses.udpPort || p === addresses.tcpPort;
}

/** True when a URI (a Route, the Request-URI of a request to the exit itself) names this exit. */
export function isOwnUri(uri: SipUri, addresses: ExitAddresses): boolean {
  return isOwnHost(uri.host, addresses) && isOwnPort(uri.port, addresses);
}

/** True when a Via (a response's top one) was written by this exit. */
export function isOwnVia(via: Via, addresses: ExitAddresses): boolean {
  const port = via.transport === 'TCP' ? addresses.tcpPort : addresses.udpPort;
  return isOwnHost(via.host, addresses) && (via.port ?? 5060) === port;
}

/**
 * The AOR (`user@domain`) a URI stands for: the exit's own host (with one of its ports, or none)
 * or its domain are the exit's domain; any other host is a domain of its own, found through the
 * directory. Undefined for a URI without a user.
 */
export function aorOf(uri: SipUri, addresses: ExitAddresses): string | undefined {
  if (uri.user === undefined || uri.user.length === 0) return undefined;
  const host = socketHost(uri.host).toLowerCase();
  const ours =
    host === addresses.domain.toLowerCase() ||
    (isOwnHost(host, addresses) && (uri.port === undefined || isOwnPort(uri.port, addresses)));
  return `${uri.user}@${ours ? addresses.domain.toLowerCase() : host}`;
}

/** True when the AOR is in this exit's domain. */
export function isLocalAor(aor: string, addresses: ExitAddresses): boolean {
  return aor.slice(aor.lastIndexOf('@') + 1) === addresses.domain.toLowerCase();
}

/** Where a request to `uri` goes (RFC 3263 without NAPTR/SRV: the URI's transport, host and port, 5060 by default). */
export async function destinationOf(uri: SipUri): Promise<SipDestination> {
  const transport = uriTransport(uri) === 'tcp' ? 'tcp' : 'udp';
  const host = socketHost(uri.host);
  const address = isIP(host) ? host : (await lookup(host)).address;
  return { transport, host: address, port: uri.port ?? 5060 };
}

/** Where a response goes by its Via (RFC 3261 §18.2.2, RFC 3581 §4): `received` and `rport` first. */
export function viaDestination(via: Via): SipDestination {
  const received = getParam(via.params, 'received');
  const rport = getParam(via.params, 'rport');
  return {
    transport: via.transport === 'TCP' ? 'tcp' : 'udp',
    host: socketHost(received || via.host),
    port: rport && /^\d+$/.test(rport) ? Number(rport) : (via.port ?? 5060),
  };
}
