import { type Address, addressKey, nativeToAddress } from '@crosstalk/core';

/**
 * IRC names. RFC 2812 §2.3.1: nickname = ( letter / special ) *8( letter / digit / special / "-" ),
 * special = "[", "]", "\", "`", "_", "^", "{", "|", "}". Servers raise the 9 (NICKLEN in the 005
 * reply, ngIRCd's MaxNickLength); we accept up to 64.
 */
const NICK = /^[A-Za-z[-`{-}][A-Za-z0-9[-`{-}-]{0,63}$/;

export function checkNick(nick: string): string | undefined {
  return NICK.test(nick) ? undefined : 'not an IRC nickname (RFC 2812 §2.3.1)';
}

/** RFC 2812 §2.2: `{}|^` are the lower case of `[]\~`. */
export function foldNick(nick: string): string {
  return nick.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ '[': '{', ']': '}', '\\': '|', '~': '^' })[c]!);
}

/** Channels start with `#`, `&`, `+` or `!` (RFC 2812 §1.3): never a user, never foreign. */
export const isChannel = (target: string) => /^[#&+!]/.test(target);

/**
 * A foreign user as an IRC nick: `user%network`, and an `@` in the user (an MSN passport) is
 * written `%` too. `%` and `@` cannot occur in a nickname (RFC 2812 §2.3.1), so no IRC user holds
 * such a name, and `user % host` is a message target RFC 2812 §3.3.1 already allows.
 */
export function foreignNick(a: Address): string | undefined {
  // AIM ignores spaces in screen names (`dave smith` is `davesmith`); IRC has none.
  const squeezed = a.user.replace(/ /g, '');
  const user = addressKey({ ...a, user: squeezed }) === addressKey(a) ? squeezed : a.user;
  // What IRC cannot carry in a nick position: spaces, `,` (target lists), `!` (prefixes), `%` (ours).
  if (/[\s,!%*?\0]/.test(user) || /^[#&+!:$]/.test(user) || /[\s,!%@]/.test(a.network)) return undefined;
  return `${user.replace(/@/g, '%')}%${a.network}`;
}

/**
 * The address behind a target or sender the client sees: `bob%yahoo` (ours), or `bob@yahoo` (RFC
 * 2812 `user@servername`, how a user writes a foreign buddy anywhere else), when that network is
 * foreign; otherwise the nick itself on `network`.
 */
export function nickToAddress(nick: string, network: string, isForeign: (a: Address) => boolean): Address {
  // Network ids hold neither `%` nor `@`, so reading every `%` as `@` splits at the last separator.
  const a = nativeToAddress(nick.replace(/%/g, '@'), network, isForeign);
  return a.network === network ? { user: nick, network } : a;
}
