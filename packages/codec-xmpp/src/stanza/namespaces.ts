import { localName, prefixOf, type XmlElement } from '../xml/node.js';

/** Namespaces this codec reads or writes, with where each is defined. */
export const NS = {
  client: 'jabber:client', // RFC 6120 §4.8.3
  streams: 'http://etherx.jabber.org/streams', // RFC 6120 §4.8.1
  tls: 'urn:ietf:params:xml:ns:xmpp-tls', // RFC 6120 §5.4
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl', // RFC 6120 §6.4
  bind: 'urn:ietf:params:xml:ns:xmpp-bind', // RFC 6120 §7
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas', // RFC 6120 §8.3
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams', // RFC 6120 §4.9
  roster: 'jabber:iq:roster', // RFC 6121 §2
  chatstates: 'http://jabber.org/protocol/chatstates', // XEP-0085
  xhtmlIm: 'http://jabber.org/protocol/xhtml-im', // XEP-0071
  xhtml: 'http://www.w3.org/1999/xhtml', // XEP-0071
  delay: 'urn:xmpp:delay', // XEP-0203
  legacyDelay: 'jabber:x:delay', // XEP-0091 (deprecated, still seen)
  idle: 'urn:xmpp:idle:1', // XEP-0319
  last: 'jabber:iq:last', // XEP-0012
  nick: 'http://jabber.org/protocol/nick', // XEP-0172
  sfs: 'urn:xmpp:sfs:0', // XEP-0447
  /** In-band bytestreams (XEP-0047): files pushed into a client stream. */
  ibb: 'http://jabber.org/protocol/ibb',
  fileMetadata: 'urn:xmpp:file:metadata:0', // XEP-0446
  hashes: 'urn:xmpp:hashes:2', // XEP-0300
  jingle: 'urn:xmpp:jingle:1', // XEP-0166
  jingleRtp: 'urn:xmpp:jingle:apps:rtp:1', // XEP-0167
  muc: 'http://jabber.org/protocol/muc', // XEP-0045
  mucUser: 'http://jabber.org/protocol/muc#user', // XEP-0045
  compress: 'http://jabber.org/protocol/compress', // XEP-0138
  /** CrossTalk's own extensions, for what no XEP carries (canonical stanza form only). */
  crosstalk: 'urn:crosstalk:0',
} as const;

/**
 * The prefixes one element declares, linked to those declared around it. A scope is persistent:
 * an element's scope adds one link to its parent's (and shares the rest), so building it costs
 * what the element declares, never a copy of what is already in scope (issue 13: copying the
 * whole map per declaration made 18,500 declarations take minutes).
 */
export interface PrefixBindings {
  readonly declared: ReadonlyMap<string, string>;
  readonly outer: PrefixBindings | undefined;
}

/** In-scope namespace declarations: the default namespace and any prefixes (XML Namespaces §6). */
export interface NsScope {
  readonly default: string;
  readonly prefixes?: PrefixBindings;
}

/** Bindings for `prefixes` (e.g. a stream's `stream:`), around `outer`. */
export function bindPrefixes(
  prefixes: Readonly<Record<string, string>>,
  outer?: PrefixBindings,
): PrefixBindings {
  return { declared: new Map(Object.entries(prefixes)), outer };
}

/** Inside a client stream (RFC 6120 §4.8): `jabber:client` by default, `stream:` bound. */
export const CLIENT_SCOPE: NsScope = { default: NS.client, prefixes: bindPrefixes({ stream: NS.streams }) };

/** The scope inside `el`, given the scope around it (allocates only when `el` declares something). */
export function scopeIn(el: XmlElement, outer: NsScope): NsScope {
  let defaultNs = outer.default;
  let declaresDefault = false;
  let declared: Map<string, string> | undefined;
  const attrs = el.attrs;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    const name = a.name;
    if (!name.startsWith('xmlns')) continue;
    if (name.length === 5) {
      defaultNs = a.value;
      declaresDefault = true;
    } else if (name.charCodeAt(5) === 0x3a) {
      declared ??= new Map();
      declared.set(name.slice(6), a.value);
    }
  }
  if (declared === undefined)
    return declaresDefault ? { default: defaultNs, prefixes: outer.prefixes } : outer;
  return { default: defaultNs, prefixes: { declared, outer: outer.prefixes } };
}

/**
 * The namespace bound to `prefix` in `scope`, innermost declaration first. The walk is at most one
 * link per enclosing element that declares a prefix, and readers only descend a few levels.
 */
export function prefixNamespace(scope: NsScope, prefix: string): string | undefined {
  for (let b = scope.prefixes; b !== undefined; b = b.outer) {
    const ns = b.declared.get(prefix);
    if (ns !== undefined) return ns;
  }
  return undefined;
}

/** The namespace of `el` itself, given its own scope (from `scopeIn`). */
export function namespaceOf(el: XmlElement, inner: NsScope): string {
  const prefix = prefixOf(el.name);
  return prefix === '' ? inner.default : (prefixNamespace(inner, prefix) ?? '');
}

/** The scope a stream header sets up for its stanzas. */
export function streamScope(header: XmlElement): NsScope {
  return scopeIn(header, {
    default: NS.client,
    prefixes: bindPrefixes({ xml: 'http://www.w3.org/XML/1998/namespace' }),
  });
}

/** A child of `parent` by local name and namespace, with its scope. */
export function findChild(
  parent: XmlElement,
  parentScope: NsScope,
  local: string,
  ns: string,
): { el: XmlElement; scope: NsScope } | undefined {
  for (const c of parent.children) {
    if (c.type !== 'element' || localName(c.name) !== local) continue;
    const scope = scopeIn(c, parentScope);
    if (namespaceOf(c, scope) === ns) return { el: c, scope };
  }
  return undefined;
}

/** Every child of `parent` in namespace `ns` (any local name). */
export function childrenIn(
  parent: XmlElement,
  parentScope: NsScope,
  ns: string,
): { el: XmlElement; scope: NsScope }[] {
  const out: { el: XmlElement; scope: NsScope }[] = [];
  for (const c of parent.children) {
    if (c.type !== 'element') continue;
    const scope = scopeIn(c, parentScope);
    if (namespaceOf(c, scope) === ns) out.push({ el: c, scope });
  }
  return out;
}
