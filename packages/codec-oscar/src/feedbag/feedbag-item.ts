import { isCrossTalkError, MalformedFrameError } from '@crosstalk/core';
import { Parser } from 'binary-parser';
import { readTlvChain, type Tlv, tlvChainSize, writeTlvChain } from '../tlv/tlv.js';
import { ByteReader, PROTOCOL } from '../wire/byte-reader.js';
import { ByteWriter, checkLength } from '../wire/byte-writer.js';

/**
 * Feedbag (server-stored buddy list) item: u16-length name, group id u16, item id u16, class u16,
 * u16-length TLV block (retro-aim-server wire/snacs.go FeedbagItem; libpurple family_feedbag.c).
 */
export interface FeedbagItem {
  name: string;
  groupId: number;
  itemId: number;
  classId: number;
  attributes: Tlv[];
}

/** Item classes (retro-aim-server FeedbagClassId*). */
export const FeedbagClass = { buddy: 0, group: 1, permit: 2, deny: 3, pdinfo: 4, buddyPrefs: 5 } as const;

/** Attribute TLVs (retro-aim-server FeedbagAttributes*). */
export const FeedbagAttribute = { pending: 0x0066, order: 0x00c8, alias: 0x0131, note: 0x013c } as const;

// binary-parser, compiled once, reads item lists: feedbag replies are rare and not a hot path.
const itemParser = new Parser()
  .endianness('big')
  .uint16('nameLength')
  .buffer('name', { length: 'nameLength' })
  .uint16('groupId')
  .uint16('itemId')
  .uint16('classId')
  .uint16('attributesLength')
  .buffer('attributes', { length: 'attributesLength' });

const itemListParser = new Parser().endianness('big').array('items', { type: itemParser, readUntil: 'eof' });

const replyParser = new Parser()
  .endianness('big')
  .uint8('version')
  .uint16('count')
  .array('items', { type: itemParser, length: 'count' })
  .uint32('lastUpdate')
  .buffer('rest', { readUntil: 'eof' });

interface ParsedItem {
  nameLength: number;
  name: Uint8Array;
  groupId: number;
  itemId: number;
  classId: number;
  attributesLength: number;
  attributes: Uint8Array;
}

function toItem(p: ParsedItem): FeedbagItem {
  // buffer() shortens silently at the end of input: a short field means the item overran the SNAC.
  if (p.name.length !== p.nameLength || p.attributes.length !== p.attributesLength) {
    throw new MalformedFrameError(PROTOCOL, 'feedbag item overruns the SNAC');
  }
  let name = '';
  for (let i = 0; i < p.name.length; i++) name += String.fromCharCode(p.name[i]!);
  const attrs = new ByteReader(p.attributes);
  return {
    name,
    groupId: p.groupId,
    itemId: p.itemId,
    classId: p.classId,
    attributes: readTlvChain(attrs, attrs.end),
  };
}

function parse<T>(parser: Parser, bytes: Uint8Array, what: string): T {
  try {
    return parser.parse(bytes) as T;
  } catch (cause) {
    if (isCrossTalkError(cause)) throw cause;
    throw new MalformedFrameError(PROTOCOL, `${what}: ${String(cause)}`, { cause });
  }
}

/** Items filling a whole SNAC body (insert 0x08, update 0x09, delete 0x0A). */
export function readFeedbagItems(bytes: Uint8Array): FeedbagItem[] {
  if (bytes.length === 0) return [];
  const parsed = parse<{ items: ParsedItem[] }>(itemListParser, bytes, 'feedbag items');
  return parsed.items.map(toItem);
}

export interface FeedbagReplyBody {
  version: number;
  items: FeedbagItem[];
  lastUpdate: number;
}

/** Feedbag reply 0x13/0x06: version u8, count u16, items, last update u32. */
export function readFeedbagReply(bytes: Uint8Array): FeedbagReplyBody {
  const r = new ByteReader(bytes);
  r.u8('feedbag version');
  const count = r.u16('feedbag item count');
  // Every item is at least 10 bytes: check the count against the SNAC before parsing any.
  r.need(count * 10 + 4, 'feedbag items');
  const parsed = parse<{ version: number; items: ParsedItem[]; lastUpdate: number; rest: Uint8Array }>(
    replyParser,
    bytes,
    'feedbag reply',
  );
  if (parsed.rest.length > 0) throw new MalformedFrameError(PROTOCOL, 'feedbag reply has trailing bytes');
  return { version: parsed.version, items: parsed.items.map(toItem), lastUpdate: parsed.lastUpdate };
}

export function feedbagItemSize(item: FeedbagItem): number {
  return 10 + item.name.length + tlvChainSize(item.attributes);
}

export function feedbagItemsSize(items: readonly FeedbagItem[]): number {
  let n = 0;
  for (const i of items) n += feedbagItemSize(i);
  return n;
}

export function writeFeedbagItem(w: ByteWriter, item: FeedbagItem): void {
  w.string16(item.name, 'feedbag item name');
  w.u16(item.groupId);
  w.u16(item.itemId);
  w.u16(item.classId);
  const attrs = tlvChainSize(item.attributes);
  checkLength(attrs, 0xffff, 'feedbag item attributes');
  w.u16(attrs);
  writeTlvChain(w, item.attributes);
}

export function encodeFeedbagItems(items: readonly FeedbagItem[]): Uint8Array {
  const w = new ByteWriter(feedbagItemsSize(items));
  for (const item of items) writeFeedbagItem(w, item);
  return w.bytes;
}
