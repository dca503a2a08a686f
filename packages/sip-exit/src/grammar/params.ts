import { SipSyntaxError } from '../errors/errors.js';

/** `;name=value` parameters in order (RFC 3261 §25.1 generic-param); a flag parameter has no value. */
export type SipParams = [name: string, value: string | undefined][];

// RFC 3261 §25.1 token characters.
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/** True when `s` is an RFC 3261 token. */
export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Parses `;a=b;c;d="q"` (the text after a URI, a Via's sent-by, a name-addr's `>`). Values may be
 * quoted strings, with `;` inside them. Throws `SipSyntaxError` on a parameter with no name.
 */
export function parseParams(text: string): SipParams {
  const params: SipParams = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    if (text[i] !== ';')
      throw new SipSyntaxError(`expected ';' before a parameter in ${JSON.stringify(text)}`);
    i++;
    let nameEnd = i;
    while (nameEnd < n && text[nameEnd] !== '=' && text[nameEnd] !== ';') nameEnd++;
    const name = text.slice(i, nameEnd).trim();
    if (name.length === 0) throw new SipSyntaxError(`empty parameter name in ${JSON.stringify(text)}`);
    i = nameEnd;
    let value: string | undefined;
    if (text[i] === '=') {
      i++;
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] === '"') {
        const start = i;
        i++;
        while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
        if (i >= n) throw new SipSyntaxError(`unterminated quoted parameter in ${JSON.stringify(text)}`);
        i++;
        value = text.slice(start, i);
      } else {
        const start = i;
        while (i < n && text[i] !== ';') i++;
        value = text.slice(start, i).trim();
      }
    }
    params.push([name, value]);
  }
  return params;
}

/** The value of parameter `name` (case-insensitive); `''` for a flag; undefined when absent. */
export function getParam(params: SipParams, name: string): string | undefined {
  const lower = name.toLowerCase();
  const found = params.find(([k]) => k.toLowerCase() === lower);
  return found ? (found[1] ?? '') : undefined;
}

/** True when parameter `name` is present (with or without a value). */
export function hasParam(params: SipParams, name: string): boolean {
  return getParam(params, name) !== undefined;
}

/** `params` with `name` set to `value` (replacing an existing one in place, else appended). */
export function setParam(params: SipParams, name: string, value: string | undefined): SipParams {
  const lower = name.toLowerCase();
  const at = params.findIndex(([k]) => k.toLowerCase() === lower);
  if (at < 0) return [...params, [name, value]];
  const copy = [...params];
  copy[at] = [name, value];
  return copy;
}

/** `params` without `name`. */
export function deleteParam(params: SipParams, name: string): SipParams {
  const lower = name.toLowerCase();
  return params.filter(([k]) => k.toLowerCase() !== lower);
}

/** `;a=b;c` */
export function formatParams(params: SipParams): string {
  return params.map(([k, v]) => (v === undefined ? `;${k}` : `;${k}=${v}`)).join('');
}

/** The text of a quoted string without its quotes and escapes (RFC 3261 §25.1 quoted-pair); other text as is. */
export function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  return value;
}

/** `value` as a quoted string (RFC 3261 §25.1). */
export function quote(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}
