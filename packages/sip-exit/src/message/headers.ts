import { splitHeaderList } from '../grammar/lists.js';

/** RFC 3261 §7.3.3 compact forms, and the compact forms later RFCs registered (RFC 3265, 3515, 3892, 4028). */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  r: 'refer-to',
  u: 'allow-events',
  b: 'referred-by',
  x: 'session-expires',
};

/** How RFC 3261 spells the headers whose capitals are not simply word initials, and the common ones. */
const CANONICAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  via: 'Via',
  from: 'From',
  to: 'To',
  contact: 'Contact',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
  'content-encoding': 'Content-Encoding',
  'max-forwards': 'Max-Forwards',
  route: 'Route',
  'record-route': 'Record-Route',
  expires: 'Expires',
  'min-expires': 'Min-Expires',
  authorization: 'Authorization',
  'proxy-authenticate': 'Proxy-Authenticate',
  'proxy-authorization': 'Proxy-Authorization',
  'user-agent': 'User-Agent',
  server: 'Server',
  allow: 'Allow',
  supported: 'Supported',
  subject: 'Subject',
  event: 'Event',
  'refer-to': 'Refer-To',
  'allow-events': 'Allow-Events',
  'referred-by': 'Referred-By',
  'session-expires': 'Session-Expires',
  date: 'Date',
};

/** The lower-case full name of a header, with a compact form expanded (RFC 3261 §7.3.3). */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/** The name a header is written with: RFC 3261's spelling for the known ones, as given otherwise. */
export function headerName(name: string): string {
  const key = headerKey(name);
  return CANONICAL[key] ?? (COMPACT[name.toLowerCase()] ? key : name);
}

/** One header line as read or to be written. */
export interface SipHeader {
  /** The header's name, written as RFC 3261 spells it (compact forms expanded). */
  readonly name: string;
  /** Its value, unfolded (RFC 3261 §7.3.1), without the leading and trailing whitespace. */
  readonly value: string;
}

/**
 * The header section of a SIP message: header lines in order, looked up case-insensitively and by
 * compact form. A proxy keeps every header it does not touch as it came (RFC 3261 §16.6).
 */
export class SipHeaders {
  #entries: SipHeader[];

  constructor(entries: readonly SipHeader[] = []) {
    this.#entries = entries.map((e) => ({ name: headerName(e.name), value: e.value }));
  }

  /** How many header lines there are. */
  get size(): number {
    return this.#entries.length;
  }

  /** The first line's value of `name`, if any. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    return this.#entries.find((e) => headerKey(e.name) === key)?.value;
  }

  /** True when there is a line of `name`. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The values of every line of `name`, in order (not split at commas). */
  getAll(name: string): string[] {
    const key = headerKey(name);
    return this.#entries.filter((e) => headerKey(e.name) === key).map((e) => e.value);
  }

  /**
   * The elements of a comma-separated header (Via, Route, Record-Route, Contact), across all its
   * lines, in order (RFC 3261 §7.3.1: several lines are one list).
   */
  list(name: string): string[] {
    return this.getAll(name).flatMap(splitHeaderList);
  }

  /** Adds a line at the end. */
  append(name: string, value: string): this {
    this.#entries.push({ name: headerName(name), value });
    return this;
  }

  /** Adds a line before the first line of the same header, or at the top when there is none (a new Via, Record-Route). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.#entries.findIndex((e) => headerKey(e.name) === key);
    this.#entries.splice(Math.max(at, 0), 0, { name: headerName(name), value });
    return this;
  }

  /** Replaces every line of `name` with one. */
  set(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.#entries.findIndex((e) => headerKey(e.name) === key);
    this.delete(name);
    this.#entries.splice(at < 0 ? this.#entries.length : at, 0, { name: headerName(name), value });
    return this;
  }

  /** Removes every line of `name`. */
  delete(name: string): this {
    const key = headerKey(name);
    this.#entries = this.#entries.filter((e) => headerKey(e.name) !== key);
    return this;
  }

  /** Removes the first element of a comma-separated header (the top Via, the top Route) and returns it. */
  shift(name: string): string | undefined {
    const key = headerKey(name);
    const at = this.#entries.findIndex((e) => headerKey(e.name) === key);
    const entry = this.#entries[at];
    if (!entry) return undefined;
    const [first, ...rest] = splitHeaderList(entry.value);
    if (rest.length === 0) this.#entries.splice(at, 1);
    else this.#entries[at] = { name: entry.name, value: rest.join(', ') };
    return first;
  }

  /** Every line, in order. */
  entries(): readonly SipHeader[] {
    return this.#entries;
  }

  /** A copy that can be changed without changing this one. */
  clone(): SipHeaders {
    return new SipHeaders(this.#entries);
  }
}
