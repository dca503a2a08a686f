import { SipSyntaxError } from '../errors/errors.js';
import { unquote } from './params.js';

/** A credentials or challenge value (RFC 3261 §25.1, RFC 2617 §3.2): a scheme and its `name=value` parameters. */
export interface AuthValue {
  /** `Digest`, as written. */
  scheme: string;
  /** Parameters by lower-case name, values unquoted. */
  params: Map<string, string>;
}

/** Most parameters read from one Authorization header (RFC 2617 defines ten). */
const MAX_AUTH_PARAMS = 32;

/** Parses `Digest username="a", realm="b", nc=00000001, ...`; throws `SipSyntaxError`. */
export function parseAuthValue(text: string): AuthValue {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  if (space <= 0) throw new SipSyntaxError('authorization without parameters');
  const scheme = trimmed.slice(0, space);
  const params = new Map<string, string>();
  let i = space;
  const n = trimmed.length;
  while (i < n) {
    while (i < n && /[\s,]/.test(trimmed[i] as string)) i++;
    if (i >= n) break;
    const eq = trimmed.indexOf('=', i);
    if (eq < 0) throw new SipSyntaxError('authorization parameter without a value');
    const name = trimmed.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9\-_.]+$/.test(name)) throw new SipSyntaxError('bad authorization parameter name');
    i = eq + 1;
    while (i < n && /\s/.test(trimmed[i] as string)) i++;
    let value: string;
    if (trimmed[i] === '"') {
      const start = i;
      i++;
      while (i < n && trimmed[i] !== '"') i += trimmed[i] === '\\' ? 2 : 1;
      if (i >= n) throw new SipSyntaxError('unterminated quoted authorization parameter');
      i++;
      value = unquote(trimmed.slice(start, i));
    } else {
      const start = i;
      while (i < n && trimmed[i] !== ',') i++;
      value = trimmed.slice(start, i).trim();
    }
    if (params.size >= MAX_AUTH_PARAMS) throw new SipSyntaxError('too many authorization parameters');
    if (params.has(name)) throw new SipSyntaxError(`authorization parameter ${name} given twice`);
    params.set(name, value);
  }
  return { scheme, params };
}
