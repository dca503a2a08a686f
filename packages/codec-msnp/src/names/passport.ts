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

/** Names seen so far, shared by every connection (one per process, not one per connection: issue 20). */
const shapes = new Map<string, Shape>();
/** The network rules' generation the cached shapes were checked under. */
let shapesGeneration = -1;
/** At most this many names are cached; past it the cache starts over. */
const MAX_SHAPES = 16_384;

/** The validated readings of `name` (a foreign `user@network`, an MSN passport), cached. */
function shapeOf(name: string): Shape {
  const generation = networkRulesGeneration();
  if (generation !== shapesGeneration || shapes.size >= MAX_SHAPES) {
    shapes.clear();
    shapesGeneration = generation;
  }
  let shape = shapes.get(name);
  if (shape) return shape;
  const at = name.lastIndexOf('@');
  const foreign =
    at > 0 && at < name.length - 1 ? { user: name.slice(0, at), network: name.slice(at + 1) } : undefined;
  const passport = { user: name, network: MSN_NETWORK };
  shape = {
    foreign: foreign && isAddressString(formatAddress(foreign)) ? foreign : undefined,
    passport: isAddressString(formatAddress(passport)) ? passport : undefined,
  };
  shapes.set(name, shape);
  return shape;
}

/**
 * Maps names in MSN lists and commands to addresses. A foreign buddy is written `bob@yahoo`; a
 * passport is itself an e-mail address, so `carol@jabber.org` could be an MSN passport or an XMPP
 * user: a domain is taken as foreign only when `knownForeign` says so (the gateway's foreign
 * roster, or a foreign user who wrote first), never on its shape alone. The validation of a name's
 * shape (core's network rules) is cached, since every message names its sender.
 */
export class PassportResolver {
  readonly #isForeign: ((a: Address) => boolean) | { isForeign(a: Address): boolean };
  readonly #knownForeign: ((a: Address) => boolean) | undefined;

  /**
   * `isForeign` is a function or an object whose `isForeign` method is called (a session's
   * context, shared: no closure per connection).
   */
  constructor(
    isForeign: ((a: Address) => boolean) | { isForeign(a: Address): boolean },
    knownForeign?: (a: Address) => boolean,
  ) {
    this.#isForeign = isForeign;
    this.#knownForeign = knownForeign;
  }

  #isForeignAddress(a: Address): boolean {
    const test = this.#isForeign;
    return typeof test === 'function' ? test(a) : test.isForeign(a);
  }

  #foreign(a: Address): boolean {
    if (isDomainNetwork(a.network)) return this.#isForeignAddress(a) && (this.#knownForeign?.(a) ?? false);
    return this.#isForeignAddress(a);
  }

  /** The foreign user a name stands for, or else the MSN passport (which may be malformed). */
  address(name: string): Address {
    const shape = shapeOf(name);
    if (shape.foreign && this.#foreign(shape.foreign)) return shape.foreign;
    return shape.passport ?? { user: name, network: MSN_NETWORK };
  }

  /** As `address`, or undefined when the name is no valid address anywhere (`doesnotexist`). */
  validAddress(name: string): Address | undefined {
    const shape = shapeOf(name);
    if (shape.foreign && this.#foreign(shape.foreign)) return shape.foreign;
    return shape.passport;
  }
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
