import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

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

/** The default upstream allow-list: loopback addresses only. */
export const LOOPBACK_ONLY: readonly string[] = ['127.0.0.0/8', '::1/128'];

/**
 * An `UpstreamPolicy` that allows the listed CIDR blocks (and ports), resolving names first and requiring
 * every address to be allowed.
 */
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

/** What `listener.address()` gives: where one of the gateway's own servers is bound. */
export interface BoundAddress {
  address: string;
  port: number;
}

/** An address as written plainly: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as IPv4, lower-case. */
export const unmapped = (address: string) =>
  address.toLowerCase().startsWith('::ffff:') && address.includes('.')
    ? address.slice(7)
    : address.toLowerCase();

/**
 * The gateway's own listeners (SOCKS, G2G, metrics), so that a client cannot CONNECT through the
 * proxy to the gateway itself: each hop of such a chain holds descriptors on both sides, and
 * chained hops multiply them without limit. Which destinations reach a listener, on Linux:
 * - its own address;
 * - any address of this host when it is bound to a wildcard (`0.0.0.0`: every IPv4 address,
 *   the whole of 127.0.0.0/8 included; `::`: IPv6 and, dual-stack, IPv4 too);
 * - `0.0.0.0` and `::` as destinations, which the kernel sends to this host.
 * Names (SOCKS4a, or names a custom policy returns) are resolved and every address is checked.
 */
export class OwnListeners {
  readonly #listeners: (() => BoundAddress | undefined)[] = [];
  readonly #localAddresses: () => readonly string[];

  constructor(options: { localAddresses?: () => readonly string[] } = {}) {
    this.#localAddresses = options.localAddresses ?? interfaceAddresses;
  }

  /** Adds a listener; `where` is read at each check (a server's `address()`), so it may start later. */
  add(where: () => BoundAddress | undefined): void {
    this.#listeners.push(where);
  }

  /** True when connecting to `host:port` would reach one of the listeners. */
  async reaches(host: string, port: number): Promise<boolean> {
    const bound = this.#listeners
      .map((where) => where())
      .filter((b): b is BoundAddress => b !== undefined && b.port === port);
    if (bound.length === 0) return false;
    let addresses: string[];
    if (isIP(host)) {
      addresses = [host];
    } else {
      try {
        addresses = (await lookup(host, { all: true })).map((a) => a.address);
      } catch {
        return false; // a name that does not resolve cannot be dialled either
      }
    }
    return addresses.some((a) => bound.some((b) => this.#reaches(unmapped(a), unmapped(b.address))));
  }

  #reaches(target: string, listener: string): boolean {
    if (target === listener || target === '0.0.0.0' || target === '::') return true;
    const family = isIP(target);
    if (listener === '0.0.0.0') return family === 4 && this.#isLocal(target);
    if (listener === '::') return this.#isLocal(target);
    return false;
  }

  #isLocal(address: string): boolean {
    if (isIP(address) === 4 && address.startsWith('127.')) return true;
    if (address === '::1') return true;
    return this.#localAddresses().some((a) => unmapped(a) === address);
  }
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}
