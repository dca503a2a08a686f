import { addressToJid, jidToAddress, parseJid } from '@crosstalk/codec-xmpp';
import type { Address } from '@crosstalk/core';

/**
 * Foreign users as JIDs on the component's domain, the way XMPP gateways name them (Spectrum 2,
 * Slidge, XEP-0100 §6.3 "JID escaping" left to the gateway): `bob%yahoo@crosstalk.localhost`.
 *
 * The localpart is codec-xmpp's own spelling of the address in SOCKS mode, `bob@yahoo` (XEP-0106
 * escaped where it must be: `a\40hotmail.com@msn`, `Alice\20Smith@aol`), with its last `@` written
 * `%`. Network ids never hold a `%`, so reading splits at the last one; an MSN passport with a `%`
 * of its own (`a%b@hotmail.com@msn` -> `a%b\40hotmail.com%msn`) reads back whole.
 */

/** The JID a foreign user has on the component: `bob%yahoo@<componentDomain>`. */
export function foreignJid(a: Address, componentDomain: string): string {
  const jid = addressToJid(a);
  const at = jid.lastIndexOf('@');
  return `${jid.slice(0, at)}%${jid.slice(at + 1)}@${componentDomain}`;
}

/**
 * The address behind a JID on the component's domain (its resource, if any, ignored), or undefined
 * when the JID is elsewhere, has no `user%network` localpart, or names a user the network's rules
 * refuse (`abc%icq`).
 */
export function foreignAddress(jid: string, componentDomain: string): Address | undefined {
  const parsed = parseJid(jid);
  if (!parsed || parsed.local === undefined) return undefined;
  if (parsed.domain.toLowerCase() !== componentDomain.toLowerCase()) return undefined;
  const percent = parsed.local.lastIndexOf('%');
  if (percent <= 0 || percent === parsed.local.length - 1) return undefined;
  return jidToAddress(`${parsed.local.slice(0, percent)}@${parsed.local.slice(percent + 1)}`);
}
