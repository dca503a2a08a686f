import { SipSyntaxError } from '../errors/errors.js';
import { formatParams, getParam, parseParams, type SipParams, unquote } from './params.js';

/**
 * A From, To, Contact, Route or Record-Route value (RFC 3261 §25.1 name-addr / addr-spec): an
 * optional display name, a URI, and the header's own parameters (`tag`, `expires`, `q`, ...).
 */
export interface NameAddr {
  /** The display name, unquoted, when there is one. */
  display?: string;
  /** The URI, as written. */
  uri: string;
  /** The header's parameters (not the URI's), in order. */
  params: SipParams;
}

/**
 * Parses a name-addr (`"Bob" <sip:bob@x>;tag=1`) or an addr-spec (`sip:bob@x;tag=1`, where
 * everything after the first `;` belongs to the header, RFC 3261 §20.10).
 */
export function parseNameAddr(text: string): NameAddr {
  const trimmed = text.trim();
  const lt = findAngle(trimmed);
  if (lt >= 0) {
    const gt = trimmed.indexOf('>', lt);
    if (gt < 0) throw new SipSyntaxError(`unterminated <...> in ${JSON.stringify(trimmed.slice(0, 64))}`);
    const display = unquote(trimmed.slice(0, lt).trim());
    const out: NameAddr = {
      uri: trimmed.slice(lt + 1, gt).trim(),
      params: parseParams(trimmed.slice(gt + 1)),
    };
    if (display.length > 0) out.display = display;
    if (out.uri.length === 0) throw new SipSyntaxError('empty URI in <>');
    return out;
  }
  const semi = trimmed.indexOf(';');
  const uri = semi >= 0 ? trimmed.slice(0, semi) : trimmed;
  if (uri.length === 0 || /\s/.test(uri))
    throw new SipSyntaxError(`bad address ${JSON.stringify(trimmed.slice(0, 64))}`);
  return { uri, params: semi >= 0 ? parseParams(trimmed.slice(semi)) : [] };
}

/** Where `<` opens the URI, skipping a quoted display name. */
function findAngle(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') return i;
  }
  return -1;
}

/** Writes a name-addr, always with `<>` (safe whatever the URI holds). */
export function formatNameAddr(value: NameAddr): string {
  const display = value.display === undefined ? '' : `"${value.display.replace(/(["\\])/g, '\\$1')}" `;
  return `${display}<${value.uri}>${formatParams(value.params)}`;
}

/** The `tag` parameter of a From or To value, if any. */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return getParam(parseNameAddr(value).params, 'tag');
  } catch {
    return undefined;
  }
}
