import { SipSyntaxError } from '../errors/errors.js';
import { formatParams, getParam, parseParams, type SipParams } from './params.js';
import { parseHostPort } from './uri.js';

/** RFC 3261 §8.1.1.7: a branch made by an RFC 3261 element starts with this magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

/** One Via element (RFC 3261 §20.42): the transport, the sent-by address and the parameters. */
export interface Via {
  /** `UDP`, `TCP`, `TLS`, ... upper-case. */
  transport: string;
  /** The sent-by host. */
  host: string;
  /** The sent-by port, when given. */
  port?: number;
  /** `branch`, `received`, `rport`, ..., in order. */
  params: SipParams;
}

const VIA = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+([^;\s]+)\s*(;.*)?$/i;

/** Parses one Via element; throws `SipSyntaxError`. */
export function parseVia(text: string): Via {
  const m = VIA.exec(text.trim());
  if (!m) throw new SipSyntaxError(`bad Via ${JSON.stringify(text.slice(0, 64))}`);
  const { host, port } = parseHostPort(m[2] as string);
  const via: Via = { transport: (m[1] as string).toUpperCase(), host, params: parseParams(m[3] ?? '') };
  if (port !== undefined) via.port = port;
  return via;
}

/** Writes a Via element. */
export function formatVia(via: Via): string {
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `SIP/2.0/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}

/** A Via's branch parameter, if any. */
export function branchOf(via: Via): string | undefined {
  return getParam(via.params, 'branch');
}
