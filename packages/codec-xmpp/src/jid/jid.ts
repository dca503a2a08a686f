import { type Address, address, isDomainNetwork, rulesFor } from '@crosstalk/core';

/**
 * JIDs (RFC 7622) and how they map to CrossTalk addresses.
 *
 * - A JID `local@domain[/resource]` is the address `{ user, network: domain }`; the resource is
 *   dropped (canonical events name bare users).
 * - XMPP users (the domain is a DNS name or `localhost`): `user` is the localpart as written. Core
 *   requires it to be a valid localpart already, so `d\27artagnan@jabber.org` stays escaped.
 * - Users of other networks (`aol`, `icq`, `msn`, `yahoo`, third-party ids): `bob@yahoo` is already
 *   a valid JID; a user that is not a valid localpart, or that holds something an unescaper would
 *   read as an escape, is escaped per XEP-0106: the MSN passport `a@hotmail.com@msn` is the JID
 *   `a\40hotmail.com@msn`. Reading a JID unescapes the localpart for these networks. Both
 *   directions round-trip for every valid address.
 */

export interface Jid {
  local?: string;
  domain: string;
  resource?: string;
}

/** Splits a JID (RFC 7622 §3.1: the resource starts at the first "/", the localpart ends at the "@" before it). */
export function parseJid(s: string): Jid | undefined {
  if (s.length === 0 || s.length > 3071) return undefined;
  const slash = s.indexOf('/');
  const bare = slash < 0 ? s : s.slice(0, slash);
  const at = bare.indexOf('@');
  const domain = at < 0 ? bare : bare.slice(at + 1);
  if (domain.length === 0 || domain.includes('@')) return undefined;
  const jid: Jid = { domain };
  if (at >= 0) {
    if (at === 0) return undefined;
    jid.local = bare.slice(0, at);
  }
  if (slash >= 0) {
    if (slash === s.length - 1) return undefined;
    jid.resource = s.slice(slash + 1);
  }
  return jid;
}

/** Writes a JID as `local@domain/resource`, leaving out the parts it has not. */
export function formatJid(jid: Jid): string {
  const bare = jid.local === undefined ? jid.domain : `${jid.local}@${jid.domain}`;
  return jid.resource === undefined ? bare : `${bare}/${jid.resource}`;
}

/** The JID without its resource. */
export function bareJid(s: string): string {
  const slash = s.indexOf('/');
  return slash < 0 ? s : s.slice(0, slash);
}

// XEP-0106 §3.2 table: the nine characters RFC 7622 forbids in a localpart, and the backslash.
const ESCAPES: Readonly<Record<string, string>> = {
  ' ': '\\20',
  '"': '\\22',
  '&': '\\26',
  "'": '\\27',
  '/': '\\2f',
  ':': '\\3a',
  '<': '\\3c',
  '>': '\\3e',
  '@': '\\40',
  '\\': '\\5c',
};
const UNESCAPES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ESCAPES).map(([c, e]) => [e.slice(1), c]),
);
const ESCAPE_SEQUENCE = /\\(20|22|26|27|2f|3a|3c|3e|40|5c)/;

/**
 * XEP-0106 escaping of a localpart: the nine forbidden characters become `\xx`; a backslash is
 * escaped (`\5c`) only where it would otherwise read as an escape sequence (§4.2).
 */
export function escapeLocalpart(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') out += ESCAPE_SEQUENCE.test(s.slice(i, i + 3)) ? '\\5c' : '\\';
    else out += ESCAPES[c] ?? c;
  }
  return out;
}

/** XEP-0106 unescaping (§3.3): every `\xx` from the table becomes its character. */
export function unescapeLocalpart(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(20|22|26|27|2f|3a|3c|3e|40|5c)/g, (_m, code: string) => UNESCAPES[code]!);
}

function validLocalpart(user: string): boolean {
  return rulesFor('localhost').checkUser(user) === undefined;
}

/** The bare JID for an address (escaping the user per XEP-0106 where it must). */
export function addressToJid(a: Address): string {
  if (isDomainNetwork(a.network)) return `${a.user}@${a.network}`;
  const local = validLocalpart(a.user) && !ESCAPE_SEQUENCE.test(a.user) ? a.user : escapeLocalpart(a.user);
  return `${local}@${a.network}`;
}

/**
 * The address behind a JID, or undefined when it names no user (a server or component JID without
 * a localpart) or a user that is not valid on that network (e.g. `abc@icq`).
 */
export function jidToAddress(s: string | undefined): Address | undefined {
  if (s === undefined) return undefined;
  const jid = parseJid(s);
  if (!jid || jid.local === undefined) return undefined;
  const user = isDomainNetwork(jid.domain) ? jid.local : unescapeLocalpart(jid.local);
  try {
    return address(user, jid.domain);
  } catch {
    return undefined;
  }
}
