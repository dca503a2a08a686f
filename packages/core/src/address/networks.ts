/**
 * Per-network naming rules. Built-in: `aol`, `icq`, `msn`, `yahoo`, and any DNS domain (an XMPP
 * server). Third-party codecs add theirs with `defineNetworkRules`.
 */
export interface NetworkRules {
  /** A problem with the user part, or undefined when it is valid. */
  checkUser(user: string): string | undefined;
  /** A problem with the network id, or undefined when it is valid. */
  checkNetwork(network: string): string | undefined;
  /** The user part's canonical spelling (case, spaces). */
  normalizeUser(user: string): string;
  /** The network id's canonical spelling. */
  normalizeNetwork(network: string): string;
}

const NETWORK_ID = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function checkNetworkId(network: string): string | undefined {
  return NETWORK_ID.test(network)
    ? undefined
    : `network "${network}" is not a lower-case network id or domain name`;
}

// AIM screen names: letters, digits and spaces, case- and space-insensitive; AIM also accepted
// e-mail addresses and `.`/`_`/`-` in later years (retro-aim-server wire/user.go).
const aol: NetworkRules = {
  checkUser(user) {
    if (user.length > 97) return 'AIM screen names are at most 97 characters';
    if (user.trim() !== user) return 'screen name has leading or trailing spaces';
    if (!/^[A-Za-z0-9 @._+-]+$/.test(user))
      return 'AIM screen names use letters, digits, spaces and @ . _ + -';
    if (user.replace(/ /g, '').length === 0) return 'screen name is only spaces';
    return undefined;
  },
  checkNetwork: checkNetworkId,
  normalizeUser: (user) => user.replace(/ /g, '').toLowerCase(),
  normalizeNetwork: (n) => n,
};

// ICQ users are numeric UINs (5 to 10 digits); OSCAR also lets ICQ clients talk to AIM names.
const icq: NetworkRules = {
  checkUser(user) {
    return /^[0-9]{5,10}$/.test(user) ? undefined : 'ICQ users are UINs of 5 to 10 digits';
  },
  checkNetwork: checkNetworkId,
  normalizeUser: (user) => user,
  normalizeNetwork: (n) => n,
};

// Yahoo ids: a letter first, then letters, digits, `_` and `.`, at most 32 (libpurple yahoo).
const yahoo: NetworkRules = {
  checkUser(user) {
    if (user.length > 64) return 'Yahoo ids are at most 64 characters';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(user)) return 'Yahoo ids use letters, digits and _ . + -';
    return undefined;
  },
  checkNetwork: checkNetworkId,
  normalizeUser: (user) => user.toLowerCase(),
  normalizeNetwork: (n) => n,
};

// MSN passports are e-mail addresses: local@domain (Escargot front/msn misc.py checks the same).
const msn: NetworkRules = {
  checkUser(user) {
    if (user.length > 129) return 'MSN passports are at most 129 characters';
    const at = user.indexOf('@');
    if (at <= 0 || at !== user.lastIndexOf('@') || at === user.length - 1) {
      return 'MSN passports are e-mail addresses (local@domain)';
    }
    if (/[\s<>()[\]\\,;:"]/.test(user)) return 'MSN passport contains a character e-mail does not allow';
    return undefined;
  },
  checkNetwork: checkNetworkId,
  normalizeUser: (user) => user.toLowerCase(),
  normalizeNetwork: (n) => n,
};

// RFC 7622 §3.3.1: localpart excludes " & ' / : < > @ and whitespace; at most 1023 octets.
const XMPP_LOCALPART_FORBIDDEN = /["&'/:<>@\s]/u;
const encoder = new TextEncoder();

const xmppDomain: NetworkRules = {
  checkUser(user) {
    if (encoder.encode(user).length > 1023) return 'an XMPP localpart is at most 1023 octets (RFC 7622 §3.3)';
    if (XMPP_LOCALPART_FORBIDDEN.test(user)) {
      return 'an XMPP localpart may not contain " & \' / : < > @ or spaces (RFC 7622 §3.3.1); escape it (XEP-0106)';
    }
    if (/[\u0000-\u001f\u007f]/u.test(user)) return 'an XMPP localpart may not contain control characters';
    return undefined;
  },
  checkNetwork(network) {
    if (network.length > 253) return 'an XMPP domain is at most 253 characters';
    const labels = network.split('.');
    for (const label of labels) {
      if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label)) {
        return `"${network}" is not a domain name (RFC 7622 §3.2)`;
      }
    }
    return undefined;
  },
  // RFC 7622 §3.3.2: UsernameCaseMapped (case-folded, NFC); §3.2.2: domain lower-cased.
  normalizeUser: (user) => user.normalize('NFC').toLowerCase(),
  normalizeNetwork: (n) => n.toLowerCase(),
};

// Networks a third-party codec defined; anything else is treated as an XMPP-style domain.
const generic: NetworkRules = {
  checkUser(user) {
    return /[\u0000-\u001f\u007f]/u.test(user) ? 'user contains control characters' : undefined;
  },
  checkNetwork: checkNetworkId,
  normalizeUser: (user) => user,
  normalizeNetwork: (n) => n,
};

/**
 * The network of a gateway's own system address, `crosstalk@crosstalk` (plugins: `/plugins`,
 * `/help`). Reserved and known to every protocol, so each treats it as foreign and hands what its
 * users send there to the gateway; no codec serves it, and no gateway routes it further.
 */
export const SYSTEM_NETWORK = 'crosstalk';

const system: NetworkRules = {
  checkUser(user) {
    return /^[a-z][a-z0-9-]{0,63}$/.test(user) ? undefined : 'system users are lower-case ids';
  },
  checkNetwork: checkNetworkId,
  normalizeUser: (user) => user.toLowerCase(),
  normalizeNetwork: (n) => n.toLowerCase(),
};

const builtIn: ReadonlyMap<string, NetworkRules> = new Map([
  ['aol', aol],
  ['icq', icq],
  ['yahoo', yahoo],
  ['msn', msn],
  [SYSTEM_NETWORK, system],
]);
/**
 * Networks that codecs (or applications) defined. Process-wide, under a registered symbol, like the
 * codec brand: an application may load an ESM and a CJS copy of core, and both must agree.
 */
const REGISTRY = Symbol.for('@crosstalk/core/network-rules');
const shared = globalThis as Record<symbol, unknown>;
shared[REGISTRY] ??= new Map<string, NetworkRules>();
const defined = shared[REGISTRY] as Map<string, NetworkRules>;
/** Counts `defineNetworkRules` calls, process-wide (read by `addressKey` under the same symbol). */
const RULES_GENERATION = Symbol.for('@crosstalk/core/network-rules-generation');

/** Rules for one network id. XMPP domains are any network id with a dot, or `localhost`. */
export function rulesFor(network: string): NetworkRules {
  const lower = network.toLowerCase();
  return (
    builtIn.get(lower) ??
    defined.get(lower) ??
    (lower.includes('.') || lower === 'localhost' ? xmppDomain : generic)
  );
}

/** Lets a third-party codec's network validate and normalise its user names. */
export function defineNetworkRules(network: string, rules: Partial<NetworkRules>): void {
  const problem = checkNetworkId(network);
  if (problem) throw new TypeError(problem);
  if (builtIn.has(network)) throw new TypeError(`network "${network}" is built in`);
  defined.set(network, { ...generic, ...rules });
  // Address keys worked out under the earlier rules are stale now (address.ts keeps them).
  shared[RULES_GENERATION] = ((shared[RULES_GENERATION] as number | undefined) ?? 0) + 1;
}

/**
 * A number that changes whenever `defineNetworkRules` is called (process-wide): a cache of names
 * already checked against the network rules keys on it and starts over when it changes.
 */
export function networkRulesGeneration(): number {
  return (shared[RULES_GENERATION] as number | undefined) ?? 0;
}

/** The built-in network ids that are not XMPP domains. */
export const BUILT_IN_NETWORKS = ['aol', 'icq', 'msn', 'yahoo'] as const;

/** True for a built-in network id (the four IM networks and the reserved `crosstalk`). */
export function isBuiltInNetwork(network: string): boolean {
  return builtIn.has(network.toLowerCase());
}

/** Built-in networks and those a codec or `defineNetworkRules` defined (XMPP domains are not listed). */
export function knownNetworks(): string[] {
  return [...BUILT_IN_NETWORKS, ...defined.keys()];
}

/** True when `network` is built in or was defined by a codec: an address there can be foreign. */
export function isKnownNetwork(network: string): boolean {
  const lower = network.toLowerCase();
  return builtIn.has(lower) || defined.has(lower);
}

/** True for XMPP-style networks (DNS domains). */
export function isDomainNetwork(network: string): boolean {
  return rulesFor(network) === xmppDomain;
}
