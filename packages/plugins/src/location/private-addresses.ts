import { BlockList, isIP } from 'node:net';

// Addresses no database places: this host, private networks (RFC 1918), shared address space
// (RFC 6598), link-local (RFC 3927, RFC 4291 §2.5.6), unique local (RFC 4193), unspecified.
const PRIVATE = new BlockList();
for (const [network, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  PRIVATE.addSubnet(network, bits, 'ipv4');
for (const [network, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE.addSubnet(network, bits, 'ipv6');

/** True for loopback, private, link-local and other addresses that say nothing about a place. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return true;
  return PRIVATE.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}
