import { InvalidAddressError } from '../errors/errors.js';
import { rulesFor } from './networks.js';

/**
 * A user on one IM network, written `user@network` and parsed at the *last* `@`
 * (an MSN passport `a@hotmail.com` on network `msn` is `a@hotmail.com@msn`).
 */
export interface Address {
  /** The user's name on the network (screen name, Yahoo id, passport, JID localpart). */
  readonly user: string;
  /** The network id (`aol`, `icq`, `yahoo`, `msn`, or an XMPP domain). */
  readonly network: string;
}

const MAX_ADDRESS_LENGTH = 3071; // RFC 7622 §3.1: three 1023-octet parts; nothing we carry is longer

/** Parses `user@network`, validating the user part by the network's rules. Does not normalise. */
export function parseAddress(input: string): Address {
  if (typeof input !== 'string') throw new InvalidAddressError(String(input), 'not a string');
  if (input.length === 0) throw new InvalidAddressError(input, 'empty');
  if (input.length > MAX_ADDRESS_LENGTH) {
    throw new InvalidAddressError(input.slice(0, 64) + '…', `longer than ${MAX_ADDRESS_LENGTH} characters`);
  }
  const at = input.lastIndexOf('@');
  if (at < 0) throw new InvalidAddressError(input, 'missing "@network"');
  return address(input.slice(0, at), input.slice(at + 1), input);
}

/** Builds an address from its parts, validating both. */
export function address(user: string, network: string, input = `${user}@${network}`): Address {
  if (network.length === 0) throw new InvalidAddressError(input, 'empty network after the last "@"');
  if (user.length === 0) throw new InvalidAddressError(input, 'empty user before the last "@"');
  const rules = rulesFor(network);
  const networkProblem = rules.checkNetwork(network);
  if (networkProblem) throw new InvalidAddressError(input, networkProblem);
  const userProblem = rules.checkUser(user);
  if (userProblem) throw new InvalidAddressError(input, userProblem);
  return { user, network };
}

/** True when `input` parses as an address. */
export function isAddressString(input: string): boolean {
  try {
    parseAddress(input);
    return true;
  } catch {
    return false;
  }
}

/** Writes an address as `user@network` (what `parseAddress` reads back). */
export function formatAddress(a: Address): string {
  return `${a.user}@${a.network}`;
}

/**
 * The network's canonical spelling: AIM screen names lower-cased without spaces, Yahoo ids and
 * MSN passports lower-cased, XMPP localparts case-folded and domains lower-cased (RFC 7622 §3.2, §3.3).
 */
export function normalizeAddress(a: Address): Address {
  const rules = rulesFor(a.network);
  return { user: rules.normalizeUser(a.user), network: rules.normalizeNetwork(a.network) };
}

/** Counts `defineNetworkRules` calls (networks.ts), process-wide: a key worked out before one may be stale. */
const RULES_GENERATION = Symbol.for('@crosstalk/core/network-rules-generation');
const shared = globalThis as Record<symbol, unknown>;

interface KnownKey {
  address: Address | undefined;
  user: string;
  network: string;
  generation: unknown;
  key: string;
}

/**
 * The last two addresses keyed: one event's sender and recipient are keyed again and again on its
 * way (each of a user's connections asks whether the event is its conversation's). Checked against
 * the object, its strings and the rules' generation, so a changed object or new rules are worked
 * out again; two slots and no map, so a miss costs nothing.
 */
const recent: [KnownKey, KnownKey] = [
  { address: undefined, user: '', network: '', generation: undefined, key: '' },
  { address: undefined, user: '', network: '', generation: undefined, key: '' },
];
let nextSlot = 0;

/** A string key equal for two addresses exactly when `addressEquals` holds; use it in maps. */
export function addressKey(a: Address): string {
  const generation = shared[RULES_GENERATION];
  for (const k of recent) {
    if (k.address === a && k.user === a.user && k.network === a.network && k.generation === generation)
      return k.key;
  }
  const key = formatAddress(normalizeAddress(a));
  const slot = recent[nextSlot]!;
  nextSlot ^= 1;
  slot.address = a;
  slot.user = a.user;
  slot.network = a.network;
  slot.generation = generation;
  slot.key = key;
  return key;
}

/**
 * True when two addresses name the same user by their network's rules (case, spaces: see `normalizeAddress`).
 */
export function addressEquals(a: Address, b: Address): boolean {
  return addressKey(a) === addressKey(b);
}
