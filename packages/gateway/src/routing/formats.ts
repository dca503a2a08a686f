/**
 * Names of the capability graph's vertices (docs/DESIGN.md "Capability graph"): a client protocol
 * is its codec's `protocol` (`oscar`, `irc`); a canonical form is `canonical:<form name>`
 * (`canonical:json`, `canonical:xmpp-stanza`). An edge is `<from>><to>`; the DHT keeps each
 * gateway's edges under `cap:<from>><to>` and, to find them, the targets it offers from a format
 * under `cap:<from>>*`.
 */

/** The vertex of a canonical form, by the form's name. */
export function canonicalFormat(form: string): string {
  return `canonical:${form}`;
}

/** Whether a vertex is a canonical form (a chain may pass through it) rather than a client protocol. */
export function isCanonicalFormat(format: string): boolean {
  return format.startsWith('canonical:') && format.length > 'canonical:'.length;
}

/** A canonical form's name from its vertex, or undefined for a client protocol. */
export function formOf(format: string): string | undefined {
  return isCanonicalFormat(format) ? format.slice('canonical:'.length) : undefined;
}

/** A format name as records carry it: printable, no `>` or `*` (they delimit keys), 1 to 64 characters. */
export const FORMAT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:._+-]{0,63}$/;

/** The edge `from>to`. */
export function edgeName(from: string, to: string): string {
  return `${from}>${to}`;
}

/** The two formats of an edge name, or undefined when it is not one. */
export function parseEdge(edge: string): { from: string; to: string } | undefined {
  const at = edge.indexOf('>');
  if (at < 0) return undefined;
  const from = edge.slice(0, at);
  const to = edge.slice(at + 1);
  return FORMAT_PATTERN.test(from) && FORMAT_PATTERN.test(to) && from !== to ? { from, to } : undefined;
}

/** The DHT key of the index of what a gateway translates `from` into. */
export function capabilityIndexKey(from: string): string {
  return `cap:${from}>*`;
}
