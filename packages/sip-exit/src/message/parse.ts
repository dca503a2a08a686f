import { SipContentLengthError, SipMessageTooLargeError, SipSyntaxError } from '../errors/errors.js';
import { parseCSeq } from '../grammar/cseq.js';
import { isToken } from '../grammar/params.js';
import { parseVia } from '../grammar/via.js';
import { SipHeaders } from './headers.js';
import { DEFAULT_SIP_LIMITS, type SipLimits, type SipMessage } from './message.js';

const CR = 13;
const LF = 10;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Where the header section ends (the index just past CRLFCRLF), searching from `from`; -1 if not yet. */
export function findHeaderEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 3); i < to; i++) {
    if (bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** How many CRLFs (RFC 5626 §3.5.1 keep-alives, or RFC 3261 §7.5 leading blank lines) start `bytes` at `from`. */
export function skipBlankLines(bytes: Uint8Array, from: number): number {
  let i = from;
  while (i + 1 < bytes.length && bytes[i] === CR && bytes[i + 1] === LF) i += 2;
  return i;
}

/** A parsed header section: the start line's fields and the headers, before the body is known. */
export interface HeaderSection {
  /** The request's method, for a request. */
  method?: string;
  /** The Request-URI, for a request. */
  uri?: string;
  /** The status code, for a response. */
  status?: number;
  /** The reason phrase, for a response. */
  reason?: string;
  /** The headers. */
  headers: SipHeaders;
  /** The Content-Length, when the message states one. */
  contentLength?: number;
}

const REQUEST_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/;
const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d) ([^\r\n]*)$/;
// RFC 3261 §25.1: header values are TEXT-UTF8 and LWS; no control characters but HT.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * Parses a header section (start line, headers, without the final blank line), checking the caps
 * on header count and body size before anything is allocated for them. Throws `SipSyntaxError` or
 * `SipMessageTooLargeError`.
 */
export function parseHeaderSection(bytes: Uint8Array, limits: SipLimits): HeaderSection {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new SipSyntaxError('header section is not UTF-8');
  }
  const lines = text.split('\r\n');
  const startLine = lines[0] ?? '';
  const section: HeaderSection = { headers: new SipHeaders() };
  const request = REQUEST_LINE.exec(startLine);
  const status = request ? null : STATUS_LINE.exec(startLine);
  if (request) {
    section.method = request[1] as string;
    section.uri = request[2] as string;
  } else if (status) {
    section.status = Number(status[1]);
    section.reason = status[2] as string;
  } else {
    throw new SipSyntaxError(`bad start line ${JSON.stringify(startLine.slice(0, 80))}`);
  }
  const isRequest = request !== null;
  const fail = (message: string): never => {
    throw new SipSyntaxError(message, section.headers, isRequest);
  };
  let count = 0;
  for (let i = 1; i < lines.length; i++) {
    let line = lines[i] as string;
    // RFC 3261 §7.3.1: a line starting with whitespace continues the previous one.
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1] as string))
      line += ` ${(lines[++i] as string).trim()}`;
    if (line.length === 0) fail('empty line inside the header section');
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trimEnd();
    if (!isToken(name)) fail(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    if (CONTROL.test(value)) fail(`control character in header ${name}`);
    if (++count > limits.maxHeaderCount) fail(`more than ${limits.maxHeaderCount} header lines`);
    section.headers.append(name, value);
  }
  const lengths = section.headers.getAll('content-length');
  if (lengths.length > 0) {
    const first = lengths[0] as string;
    if (!/^\d{1,10}$/.test(first) || lengths.some((l) => l !== first))
      fail(`bad Content-Length ${JSON.stringify(lengths.join(', ').slice(0, 40))}`);
    const length = Number(first);
    if (length > limits.maxBodyBytes)
      throw new SipMessageTooLargeError('body', length, limits.maxBodyBytes, section.headers);
    section.contentLength = length;
  }
  return section;
}

/**
 * RFC 3261 §8.1.1 and §8.2: the headers every request and response must carry, a CSeq whose method
 * is the request's (ACK and CANCEL included), and a top Via that parses. Throws `SipSyntaxError`
 * carrying the headers, so a request can still be answered 400.
 */
export function checkMandatory(message: SipMessage): void {
  const isRequest = message.kind === 'request';
  const fail = (text: string): never => {
    throw new SipSyntaxError(text, message.headers, isRequest);
  };
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq'])
    if (!message.headers.has(name)) fail(`no ${name} header`);
  let cseq: ReturnType<typeof parseCSeq>;
  try {
    cseq = parseCSeq(message.headers.get('cseq') as string);
  } catch (error) {
    throw new SipSyntaxError((error as Error).message, message.headers, isRequest);
  }
  if (isRequest && cseq.method !== message.method)
    fail(`CSeq method ${cseq.method} in a ${message.method} request`);
  const top = message.headers.list('via')[0];
  if (top === undefined) throw new SipSyntaxError('empty Via', message.headers, isRequest);
  try {
    parseVia(top);
  } catch (error) {
    fail((error as Error).message);
  }
  const maxForwards = message.headers.get('max-forwards');
  if (isRequest && maxForwards !== undefined && !/^\d{1,3}$/.test(maxForwards)) fail('bad Max-Forwards');
  if (message.headers.get('call-id')?.length === 0) fail('empty Call-ID');
}

/**
 * Parses one SIP message from a UDP datagram (RFC 3261 §18.3): the header section within
 * `maxHeaderBytes`, then a body of exactly Content-Length bytes (extra bytes discarded; too few is
 * a `SipContentLengthError`), or the rest of the datagram when there is no Content-Length.
 * Returns undefined for a keep-alive (only CRLFs). The message is checked with `checkMandatory`.
 */
export function parseDatagram(
  bytes: Uint8Array,
  limits: SipLimits = DEFAULT_SIP_LIMITS,
): SipMessage | undefined {
  const start = skipBlankLines(bytes, 0);
  if (start >= bytes.length - 1) return undefined;
  const searchTo = Math.min(bytes.length, start + limits.maxHeaderBytes + 4);
  const end = findHeaderEnd(bytes, start, searchTo);
  if (end < 0) {
    if (bytes.length - start > limits.maxHeaderBytes)
      throw new SipMessageTooLargeError('headers', bytes.length - start, limits.maxHeaderBytes);
    throw new SipSyntaxError('no blank line after the header section');
  }
  const section = parseHeaderSection(bytes.subarray(start, end - 4), limits);
  const available = bytes.length - end;
  let bodyLength = available;
  if (section.contentLength !== undefined) {
    if (section.contentLength > available)
      throw new SipContentLengthError(
        `Content-Length ${section.contentLength} but ${available} bytes follow the headers`,
        section.headers,
        section.method !== undefined,
      );
    bodyLength = section.contentLength;
  } else if (available > limits.maxBodyBytes) {
    throw new SipMessageTooLargeError('body', available, limits.maxBodyBytes, section.headers);
  }
  const message = toMessage(section, bytes.slice(end, end + bodyLength));
  checkMandatory(message);
  return message;
}

/** The message a header section and its body make. */
export function toMessage(section: HeaderSection, body: Uint8Array): SipMessage {
  return section.method !== undefined
    ? { kind: 'request', method: section.method, uri: section.uri as string, headers: section.headers, body }
    : {
        kind: 'response',
        status: section.status as number,
        reason: section.reason as string,
        headers: section.headers,
        body,
      };
}
