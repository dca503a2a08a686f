import { fromHex, MalformedFrameError, toHex } from '@crosstalk/core';
import { PROTOCOL } from '../header/header.js';
import { serviceName } from '../protocol/services.js';
import { YmsgPacket, type YmsgValue } from './packet.js';

/**
 * The JSON form `crosstalk decode` prints and `crosstalk encode` reads. A value is a JSON string
 * when its bytes are valid UTF-8 (fatal decoder; re-encoding valid UTF-8 gives the same bytes),
 * otherwise `{ "$hex": "..." }`; a non-pair payload is `raw: { "$hex" }`. `name` is informational.
 */
export interface YmsgPacketJson {
  version: number;
  vendor: number;
  service: number;
  name?: string;
  status: number;
  sessionId: number;
  pairs?: [number, string | { $hex: string }][];
  raw?: { $hex: string };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function valueJson(value: Uint8Array): string | { $hex: string } {
  try {
    return utf8.decode(value);
  } catch {
    return { $hex: toHex(value) };
  }
}

/** A packet's JSON form: header fields, the service by name, pairs as `[key, value]`. */
export function packetToJson(packet: YmsgPacket): YmsgPacketJson {
  const name = serviceName(packet.service);
  const json: YmsgPacketJson = {
    version: packet.version,
    vendor: packet.vendor,
    service: packet.service,
    ...(name ? { name } : {}),
    status: packet.status,
    sessionId: packet.sessionId,
  };
  if (packet.raw !== undefined) json.raw = { $hex: toHex(packet.raw) };
  else json.pairs = packet.pairs.map(([k, v]) => [k, valueJson(v)]);
  return json;
}

function bad(message: string): MalformedFrameError {
  return new MalformedFrameError(PROTOCOL, `frame JSON: ${message}`);
}

function u(value: unknown, bits: 16 | 32, field: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  const max = bits === 16 ? 0xffff : 0xffffffff;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw bad(`${field} must be an integer 0..${max}`);
  }
  return value;
}

function hexOf(value: unknown, field: string): Uint8Array {
  if (value && typeof value === 'object' && typeof (value as { $hex?: unknown }).$hex === 'string') {
    try {
      return fromHex((value as { $hex: string }).$hex);
    } catch {
      throw bad(`${field}.$hex is not hex`);
    }
  }
  throw bad(`${field} must be a string or { "$hex": "..." }`);
}

/** Reads a packet back from its JSON form; throws when it is not one. */
export function packetFromJson(json: unknown): YmsgPacket {
  if (!json || typeof json !== 'object') throw bad('expected an object');
  const o = json as Record<string, unknown>;
  const header = {
    version: u(o.version, 16, 'version', 0x0010),
    vendor: u(o.vendor, 16, 'vendor', 0),
    service: u(o.service, 16, 'service'),
    status: u(o.status, 32, 'status', 0),
    sessionId: u(o.sessionId, 32, 'sessionId', 0),
  };
  if (o.raw !== undefined) return new YmsgPacket({ ...header, raw: hexOf(o.raw, 'raw') });
  if (o.pairs !== undefined && !Array.isArray(o.pairs)) throw bad('pairs must be an array');
  const pairs = ((o.pairs as unknown[] | undefined) ?? []).map((p, i): [number, YmsgValue] => {
    if (!Array.isArray(p) || p.length !== 2) throw bad(`pairs[${i}] must be [key, value]`);
    const [k, v] = p as [unknown, unknown];
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0)
      throw bad(`pairs[${i}] key must be an integer`);
    return [k, typeof v === 'string' ? v : hexOf(v, `pairs[${i}][1]`)];
  });
  return new YmsgPacket({ ...header, pairs });
}
