import { type Address, addressToNative, isDomainNetwork, nativeToAddress } from '@crosstalk/core';

/** The network id of MSN users; addresses are `passport@msn` (`a@hotmail.com@msn`). */
export const MSN_NETWORK = 'msn';
const OWN = [MSN_NETWORK] as const;

/**
 * The address behind a name in an MSN list or command. A foreign buddy is written `bob@yahoo`;
 * a passport is itself an e-mail address, so `carol@jabber.org` could be an MSN passport or an XMPP
 * user: a domain is taken as foreign only when `knownForeign` says so (the gateway's foreign
 * roster, or a foreign user who wrote first), never on its shape alone.
 */
export function passportToAddress(
  passport: string,
  isForeign: (a: Address) => boolean,
  knownForeign?: (a: Address) => boolean,
): Address {
  return nativeToAddress(passport, MSN_NETWORK, (a) =>
    isDomainNetwork(a.network) ? (knownForeign?.(a) ?? false) && isForeign(a) : isForeign(a),
  );
}

/** The name an address has inside MSN: the passport itself for MSN users, `user@network` otherwise. */
export function addressToPassport(a: Address): string {
  return addressToNative(a, OWN);
}

export function passportKey(passport: string): string {
  return passport.toLowerCase();
}
