import { bareJid, parseJid } from '@crosstalk/codec-xmpp';
import { type Address, address, SYSTEM_NETWORK } from '@crosstalk/core';
import { foreignAddress } from '../addresses/foreign-jid.js';
import { SenderNotAllowedError, UnknownForeignUserError } from '../errors/errors.js';

/**
 * Who may say what through the component (README "Who may say what"). The XMPP server vouches for
 * its local users: a stanza reaches the component only over its authenticated stream (XEP-0114
 * handshake), and the server stamps `from` on what its clients send (RFC 6120 §8.1.2.1). So the
 * component believes `from`, but only for the user domains it was told to serve: never its own
 * domain (foreign users live there; only the component itself speaks for them), never another
 * domain the server routes (other virtual hosts, other components, s2s peers).
 */
export interface StanzaPolicy {
  /** The component's own domain (`crosstalk.localhost`). */
  componentDomain: string;
  /** The server's user domains whose users may use the component (`['localhost']`). */
  userDomains: readonly string[];
  /** Foreign networks reachable through the component: `user%network` with another network is refused. */
  networks: readonly string[];
}

/** A sender the component serves: the user (a canonical address) and the JID they wrote from. */
export interface Sender {
  user: Address;
  /** The full or bare JID of the stanza's `from`. */
  jid: string;
  /** The bare JID (`carol@localhost`). */
  bare: string;
  /** The resource, when `from` is a full JID. */
  resource: string | undefined;
}

/** The sender of a stanza, or `SenderNotAllowedError`. */
export function checkSender(from: string | undefined, policy: StanzaPolicy): Sender {
  if (from === undefined) throw new SenderNotAllowedError('a stanza without a sender');
  const jid = parseJid(from);
  const domain = jid?.domain.toLowerCase();
  if (!jid || jid.local === undefined || domain === undefined) {
    throw new SenderNotAllowedError(`${from} is not a user's JID`);
  }
  if (domain === policy.componentDomain.toLowerCase()) {
    throw new SenderNotAllowedError(`${from} is on the component's own domain`);
  }
  if (!policy.userDomains.some((d) => d.toLowerCase() === domain)) {
    throw new SenderNotAllowedError(`${domain} is not a user domain this component serves`);
  }
  let user: Address;
  try {
    user = address(jid.local, domain);
  } catch (error) {
    throw new SenderNotAllowedError(`${from} is not a valid user`, { cause: error });
  }
  return { user, jid: from, bare: bareJid(from), resource: jid.resource };
}

/** The foreign user a stanza is for, or `UnknownForeignUserError`. */
export function checkRecipient(to: string | undefined, policy: StanzaPolicy): Address {
  const buddy = to === undefined ? undefined : foreignAddress(to, policy.componentDomain);
  if (!buddy)
    throw new UnknownForeignUserError(`${to ?? '(nobody)'} is not user%network@${policy.componentDomain}`);
  const network = buddy.network.toLowerCase();
  if (!policy.networks.includes(network) || policy.userDomains.some((d) => d.toLowerCase() === network)) {
    throw new UnknownForeignUserError(`${network} is not a foreign network reachable here`);
  }
  return buddy;
}

/** The default foreign networks: the built-in ones and those codecs defined, and the gateway's own `crosstalk` (plugins' `/plugins`). */
export function defaultNetworks(known: readonly string[]): string[] {
  return [...known, SYSTEM_NETWORK];
}
