import { type Address, formatAddress } from './address.js';
import { isKnownNetwork, rulesFor } from './networks.js';

/**
 * Foreign buddies live inside native buddy lists under a native name: `bob@yahoo` as an AIM
 * screen name or MSN contact, `a\40hotmail.com@msn` as a JID (XEP-0106, in codec-xmpp). These
 * helpers are the generic mapping every codec starts from.
 */

/** Default foreign test when no gateway says otherwise: a known network (built in, or defined by a codec) other than the own one. */
export function defaultIsForeign(ownNetworks: readonly string[]): (a: Address) => boolean {
  return (a) => isKnownNetwork(a.network) && !ownNetworks.includes(a.network);
}

/** The native name of `a` on a network whose own users are on `ownNetworks`. */
export function addressToNative(a: Address, ownNetworks: readonly string[]): string {
  return ownNetworks.includes(a.network) ? a.user : formatAddress(a);
}

/**
 * The address behind a native name: `user@net` when `net` is foreign (per `isForeign`) and the user
 * part is valid there; otherwise the native name itself on `ownNetwork`.
 */
export function nativeToAddress(
  native: string,
  ownNetwork: string,
  isForeign: (a: Address) => boolean,
): Address {
  const at = native.lastIndexOf('@');
  if (at > 0 && at < native.length - 1) {
    const candidate = { user: native.slice(0, at), network: native.slice(at + 1) };
    const rules = rulesFor(candidate.network);
    if (
      rules.checkNetwork(candidate.network) === undefined &&
      rules.checkUser(candidate.user) === undefined &&
      isForeign(candidate)
    ) {
      return candidate;
    }
  }
  return { user: native, network: ownNetwork };
}
