import { bytesFromJson, bytesToJson, MalformedFrameError } from '@crosstalk/core';
import type { FlapFrame } from './flap/flap-frame.js';
import { PROTOCOL } from './wire/byte-reader.js';

/**
 * The JSON form of a frame (what `crosstalk decode` prints and `crosstalk encode` reads): the
 * frame itself with every `Uint8Array` as `{ "$hex": ... }`. `frameFromJson` checks the shape, so
 * bad input is a typed error rather than silently wrong bytes.
 */
export function frameToJson(frame: FlapFrame): unknown {
  return bytesToJson(frame);
}

type Check = (v: unknown, path: string) => void;

function fail(path: string, what: string): never {
  throw new MalformedFrameError(PROTOCOL, `frame JSON: ${path} must be ${what}`);
}

const int =
  (max: number): Check =>
  (v, path) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(path, `an integer 0..${max}`);
  };
const U8 = int(0xff);
const U16 = int(0xffff);
const U32 = int(0xffffffff);
const STR: Check = (v, path) => {
  if (typeof v !== 'string') fail(path, 'a string');
};
const BOOL: Check = (v, path) => {
  if (typeof v !== 'boolean') fail(path, 'true or false');
};
const BYTES: Check = (v, path) => {
  if (!(v instanceof Uint8Array)) fail(path, 'bytes ({"$hex": "..."})');
};
const optional =
  (c: Check): Check =>
  (v, path) => {
    if (v !== undefined) c(v, path);
  };
const arrayOf =
  (c: Check): Check =>
  (v, path) => {
    if (!Array.isArray(v)) fail(path, 'an array');
    v.forEach((x, i) => {
      c(x, `${path}[${i}]`);
    });
  };
const object =
  (fields: Record<string, Check>): Check =>
  (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array)
      fail(path, 'an object');
    for (const [k, c] of Object.entries(fields)) c((v as Record<string, unknown>)[k], `${path}.${k}`);
  };

const TLV = object({ type: U16, value: BYTES });
const TLVS = arrayOf(TLV);
const USER_INFO = object({ screenName: STR, warning: U16, tlvs: TLVS });
const FRAGMENT: Check = (v, path) =>
  object(
    v && typeof v === 'object' && 'text' in v
      ? { id: U8, version: U8, charset: U16, subset: U16, text: STR }
      : { id: U8, version: U8, data: BYTES },
  )(v, path);
const ICQ = object({ uin: U32, msgType: U8, flags: U8, text: STR, terminated: BOOL, rest: optional(BYTES) });
const ICBM_TLV: Check = (v, path) => {
  if (v && typeof v === 'object' && 'fragments' in v)
    object({ type: U16, fragments: arrayOf(FRAGMENT) })(v, path);
  else if (v && typeof v === 'object' && 'icq' in v) object({ type: U16, icq: ICQ })(v, path);
  else TLV(v, path);
};
const FEEDBAG_ITEM = object({ name: STR, groupId: U16, itemId: U16, classId: U16, attributes: TLVS });

const BODIES: Record<string, Record<string, Check>> = {
  raw: { bytes: BYTES, error: optional(STR) },
  tlvs: { tlvs: TLVS },
  error: { code: U16, tlvs: TLVS },
  families: { families: arrayOf(U16) },
  'user-info': { users: arrayOf(USER_INFO) },
  idle: { seconds: U32 },
  'screen-names': { names: arrayOf(STR) },
  'icbm-to-host': { cookie: STR, channel: U16, screenName: STR, tlvs: arrayOf(ICBM_TLV) },
  'icbm-to-client': { cookie: STR, channel: U16, sender: USER_INFO, tlvs: arrayOf(ICBM_TLV) },
  'icbm-ack': { cookie: STR, channel: U16, screenName: STR },
  'icbm-event': { cookie: STR, channel: U16, screenName: STR, event: U16 },
  'feedbag-reply': { version: U8, items: arrayOf(FEEDBAG_ITEM), lastUpdate: U32 },
  'feedbag-items': { items: arrayOf(FEEDBAG_ITEM) },
  'feedbag-status': { codes: arrayOf(U16) },
  'auth-request': { screenName: STR, reason: STR, rest: optional(BYTES) },
  'auth-reply': { screenName: STR, accepted: U8, reason: STR, rest: optional(BYTES) },
  'buddy-added': { screenName: STR, rest: optional(BYTES) },
  'bucp-challenge': { key: STR },
};

const BODY: Check = (v, path) => {
  const type = (v as { type?: unknown } | null)?.type;
  const fields = typeof type === 'string' ? BODIES[type] : undefined;
  if (!fields) fail(`${path}.type`, `one of ${Object.keys(BODIES).join(', ')}`);
  object(fields)(v, path);
};

const PAYLOADS: Record<string, Record<string, Check>> = {
  snac: { family: U16, subtype: U16, flags: U16, requestId: U32, tlvBlock: optional(TLVS), body: BODY },
  signon: { version: U32, tlvs: TLVS },
  signoff: { tlvs: TLVS },
  raw: { bytes: BYTES },
};

const PAYLOAD: Check = (v, path) => {
  const type = (v as { type?: unknown } | null)?.type;
  const fields = typeof type === 'string' ? PAYLOADS[type] : undefined;
  if (!fields) fail(`${path}.type`, 'snac, signon, signoff or raw');
  object(fields)(v, path);
};

const FRAME = object({ channel: U8, seq: U16, payload: PAYLOAD });

/** Reads a FLAP frame back from its JSON form; throws when it is not one. */
export function frameFromJson(json: unknown): FlapFrame {
  const frame = bytesFromJson(json);
  FRAME(frame, 'frame');
  return frame as FlapFrame;
}
