import {
  type Address,
  addressToNative,
  formatAddress,
  isAddressString,
  isDomainNetwork,
  networkRulesGeneration,
} from '@crosstalk/core';

/** The network id of MSN users; addresses are `passport@msn` (`a@hotmail.com@msn`). */
export const MSN_NETWORK = 'msn';
const OWN = [MSN_NETWORK] as const;

/** What a name can be, worked out once per name: a foreign `user@network`, an MSN passport, both, or neither. */
interface Shape {
  foreign: Address | undefined;
  passport: Address | undefined;
}

/**
 * Maps names in MSN lists and commands to addresses. A foreign buddy is written `bob@yahoo`; a
 * passport is itself an e-mail address, so `carol@jabber.org` could be an MSN passport or an XMPP
 * user: a domain is taken as foreign only when `knownForeign` says so (the gateway's foreign
 * roster, or a foreign user who wrote first), never on its shape alone. The validation of a name's
 * shape (core's network rules) is cached, since every message names its sender.
 */
export class PassportResolver {
  readonly #isForeign: (a: Address) => boolean;
  readonly #knownForeign: ((a: Address) => boolean) | undefined;

  constructor(isForeign: (a: Address) => boolean, knownForeign?: (a: Address) => boolean) {
    this.#isForeign = isForeign;
    this.#knownForeign = knownForeign;
  }

  /** The foreign user a name stands for, or else the MSN passport (which may be malformed). */
  address(name: string): Address {
    return resolveName(name, this.#isForeign, this.#knownForeign) ?? { user: name, network: MSN_NETWORK };
  }

  /** As `address`, or undefined when the name is no valid address anywhere (`doesnotexist`). */
  validAddress(name: string): Address | undefined {
    return resolveName(name, this.#isForeign, this.#knownForeign);
  }
}

/**
 * The shapes of names seen lately, shared by every connection (a name's shape depends on the name
 * and the network rules alone): one cache per connection was a map per MSN connection (issue 20).
 * Bounded (a gateway's users and their buddies: 20 each for 800 users); cleared when full, and
 * when `defineNetworkRules` changed the rules the shapes were checked under.
 */
const shapes = new Map<string, Shape>();
const MAX_SHAPES = 16_384;
let shapesGeneration = -1;

function shapeOf(name: string): Shape {
  const generation = networkRulesGeneration();
  if (generation !== shapesGeneration) {
    shapes.clear();
    shapesGeneration = generation;
  }
  let shape = shapes.get(name);
  if (shape) return shape;
  const at = name.lastIndexOf('@');
  const foreign =
    at > 0 && at < name.length - 1 ? { user: name.slice(0, at), network: name.slice(at + 1) } : undefined;
  const passport = { user: name, network: MSN_NETWORK };
  shape = Object.freeze({
    foreign: foreign && isAddressString(formatAddress(foreign)) ? Object.freeze(foreign) : undefined,
    passport: isAddressString(formatAddress(passport)) ? Object.freeze(passport) : undefined,
  });
  if (shapes.size >= MAX_SHAPES) shapes.clear();
  shapes.set(name, shape);
  return shape;
}

/**
 * The foreign user a name stands for, else its passport, else undefined (no valid address). Called
 * with the hooks' owner as `this` (`host`), so a translator passes one object, not a closure each.
 */
export function resolveName(
  name: string,
  isForeign: (a: Address) => boolean,
  knownForeign: ((a: Address) => boolean) | undefined,
  host?: unknown,
): Address | undefined {
  const shape = shapeOf(name);
  const foreign = shape.foreign;
  if (foreign) {
    const yes = isDomainNetwork(foreign.network)
      ? isForeign.call(host, foreign) && (knownForeign?.call(host, foreign) ?? false)
      : isForeign.call(host, foreign);
    if (yes) return foreign;
  }
  return shape.passport;
}

/** One-off form of `PassportResolver.address`. */
export function passportToAddress(
  passport: string,
  isForeign: (a: Address) => boolean,
  knownForeign?: (a: Address) => boolean,
): Address {
  return new PassportResolver(isForeign, knownForeign).address(passport);
}

/** The name an address has inside MSN: the passport itself for MSN users, `user@network` otherwise. */
export function addressToPassport(a: Address): string {
  return addressToNative(a, OWN);
}

export function passportKey(passport: string): string {
  return passport.toLowerCase();
}
