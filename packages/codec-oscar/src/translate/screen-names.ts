import { type Address, addressToNative, nativeToAddress, normalizeAddress } from '@crosstalk/core';

/** The networks OSCAR's own users live on: numeric UINs are ICQ, everything else AIM. */
export const OSCAR_NETWORKS = ['aol', 'icq'] as const;

const UIN = /^[0-9]{5,10}$/;

/** The own network of a screen name: a UIN (5 to 10 digits) is `icq`, anything else `aol`. */
export function networkOf(screenName: string): 'aol' | 'icq' {
  return UIN.test(screenName) ? 'icq' : 'aol';
}

/**
 * The address behind a screen name: `bob@yahoo` is `{ bob, yahoo }` when `isForeign` says so
 * (core nativeToAddress), otherwise the screen name itself on `aol` or `icq`.
 */
export function screenNameToAddress(screenName: string, isForeign: (a: Address) => boolean): Address {
  return nativeToAddress(screenName, networkOf(screenName), isForeign);
}

/** The screen name for an address: own-network users by name, foreign ones as `user@network`. */
export function addressToScreenName(a: Address): string {
  return addressToNative(a, OSCAR_NETWORKS);
}

/** OSCAR compares screen names without case or spaces (retro-aim-server state.NewIdentScreenName). */
export function sameScreenName(a: string, b: string): boolean {
  return a.replace(/ /g, '').toLowerCase() === b.replace(/ /g, '').toLowerCase();
}

export function sameAddress(a: Address, b: Address): boolean {
  const x = normalizeAddress(a);
  const y = normalizeAddress(b);
  return x.user === y.user && x.network === y.network;
}
