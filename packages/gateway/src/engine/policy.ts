import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which destinations a SOCKS client may reach. The embedded default allows loopback only; an
 * operator lists the IM servers' networks. Host names (SOCKS4a) are resolved and every address
 * must be allowed, so a name cannot smuggle a blocked address in.
 */
export interface UpstreamPolicy {
  /** The address to dial, or undefined when the destination is blocked. */
  resolve(host: string, port: number): Promise<string | undefined>;
}

export interface CidrPolicyOptions {
  /** CIDR blocks (`127.0.0.0/8`, `::1/128`) or single addresses. */
  allow: readonly string[];
  /** Allowed ports; all when absent. */
  ports?: readonly number[];
  /** Names the gateway maps itself (e.g. a server that names an unreachable host in a redirect). */
  hosts?: Readonly<Record<string, string>>;
}

export const LOOPBACK_ONLY: readonly string[] = ['127.0.0.0/8', '::1/128'];

export function cidrPolicy(options: CidrPolicyOptions): UpstreamPolicy {
  const list = new BlockList();
  for (const entry of options.allow) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!address || !isIP(address)) throw new TypeError(`"${entry}" is not an address or CIDR block`);
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  const allowed = (address: string) => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return {
    async resolve(host, port) {
      if (options.ports && !options.ports.includes(port)) return undefined;
      const mapped = options.hosts?.[host.toLowerCase()] ?? host;
      if (isIP(mapped)) return allowed(mapped) ? mapped : undefined;
      let addresses: { address: string }[];
      try {
        addresses = await lookup(mapped, { all: true });
      } catch {
        return undefined;
      }
      if (addresses.length === 0 || !addresses.every((a) => allowed(a.address))) return undefined;
      return addresses[0]!.address;
    },
  };
}
