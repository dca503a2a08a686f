import { isIPv4, isIPv6 } from 'node:net';
import { SipOutboundTargetError } from '../errors/errors.js';
import type { SipDestination } from '../transaction/context.js';

/**
 * Where an exit sends calls for the SIP domains it exits to (`createSipExit`'s `outbound`): a
 * domain's phones are not registered here but reached at a fixed address, such as a SIP server of
 * that domain. Only loopback addresses are allowed (this project's targets are all local).
 */

const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/;

/** Whether an IP literal is a loopback address (127.0.0.0/8, ::1). */
function isLoopback(host: string): boolean {
  if (isIPv4(host)) return host.startsWith('127.');
  return isIPv6(host) && (host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host));
}

/**
 * Reads one target: `[udp:|tcp:]host:port` (an IPv6 host in brackets), UDP when no transport is
 * named. Throws `SipOutboundTargetError` for anything but a loopback IP literal and a port 1 to 65535.
 */
export function parseOutboundTarget(value: string): SipDestination {
  const m = /^(?:(udp|tcp):)?(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new SipOutboundTargetError(`not [udp:|tcp:]host:port: ${value.slice(0, 100)}`);
  const host = m[2]!.replace(/^\[(.*)\]$/, '$1');
  const port = Number(m[3]);
  if (!isLoopback(host))
    throw new SipOutboundTargetError(`${host} is not a loopback address (only loopback targets are allowed)`);
  if (port < 1 || port > 65_535) throw new SipOutboundTargetError(`not a port: ${m[3]}`);
  return { transport: (m[1] as 'udp' | 'tcp' | undefined) ?? 'udp', host, port };
}

/** Reads the whole map, domain -> target; domains are lower-cased host names. */
export function parseOutboundTargets(targets: Readonly<Record<string, string>>): Map<string, SipDestination> {
  const out = new Map<string, SipDestination>();
  for (const [domain, value] of Object.entries(targets)) {
    const d = domain.toLowerCase();
    if (d.length > 64 || !DOMAIN.test(d))
      throw new SipOutboundTargetError(`not a SIP domain: ${domain.slice(0, 100)}`);
    out.set(d, parseOutboundTarget(value));
  }
  if (out.size > 16) throw new SipOutboundTargetError(`at most 16 outbound domains (${out.size} given)`);
  return out;
}
