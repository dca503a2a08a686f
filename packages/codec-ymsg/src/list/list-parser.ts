import { latin1, textBytes } from '../packet/bytes.js';
import type { YmsgPacket, YmsgValue } from '../packet/packet.js';
import { YmsgKey as K } from '../protocol/keys.js';
import { YmsgService } from '../protocol/services.js';
import { STATUS_PARTIAL_LIST } from '../protocol/status.js';

/** One buddy of a server list, by native id. */
export interface ListEntry {
  id: string;
  groups: string[];
  /** LIST_15 key 223 = 1: the buddy has not authorised us yet (OpenYMSG ListOfContactsResponseTest). */
  pending: boolean;
  /** LIST_15 key 241: the buddy is on a network Yahoo federates with (2 = MSN). */
  federation?: string;
}

/**
 * Reads the buddy list the server sends after login, which may span several packets:
 * - LIST (0x55, YMSG9-12): key 87 holds `Group:a,b\n` lines, concatenated across packets; a
 *   packet with status 5 says more follow (libpurple yahoo_process_list waits for status 0).
 * - LIST_15 (0xF1, YMSG13+): records bracketed by 302/300 ... 301/303 markers whose values say
 *   what the record is (318 group with key 65, 319 buddy with key 7, 320 ignored buddy)
 *   (libpurple yahoo_process_list_15; OpenYMSG ListOfContactsResponse).
 * `push` returns the whole list once its last packet arrived, else undefined.
 */
export class ListParser {
  #v9 = '';
  #v15: ListEntry[] = [];

  push(packet: YmsgPacket): ListEntry[] | undefined {
    if (packet.service === YmsgService.LIST) {
      for (const v of packet.getAll(K.BUDDY_LIST)) this.#v9 += v;
      if (packet.status === STATUS_PARTIAL_LIST) return undefined;
      const entries = parseV9List(this.#v9);
      this.#v9 = '';
      return entries;
    }
    if (packet.service === YmsgService.LIST_15) {
      for (const e of parseList15(packet)) addEntry(this.#v15, e.id, e.groups, e.pending, e.federation);
      if (packet.status === STATUS_PARTIAL_LIST) return undefined;
      const entries = this.#v15;
      this.#v15 = [];
      return entries;
    }
    return undefined;
  }
}

function addEntry(
  into: ListEntry[],
  id: string,
  groups: string[],
  pending: boolean,
  federation?: string,
): void {
  const key = id.toLowerCase();
  const existing = into.find((e) => e.id.toLowerCase() === key);
  if (!existing) {
    into.push({ id, groups: [...groups], pending, ...(federation !== undefined ? { federation } : {}) });
    return;
  }
  for (const g of groups) if (!existing.groups.includes(g)) existing.groups.push(g);
  existing.pending ||= pending;
}

/** `Group:a,b\n` lines (key 87) -> entries; a buddy in several groups appears once. */
export function parseV9List(value: string): ListEntry[] {
  const entries: ListEntry[] = [];
  for (const line of value.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const group = line.slice(0, colon);
    for (const id of line.slice(colon + 1).split(',')) {
      const trimmed = id.trim();
      if (trimmed) addEntry(entries, trimmed, [group], false);
    }
  }
  return entries;
}

/** One LIST_15 packet's buddies (ignored buddies, after a 302:320 marker, are skipped). */
export function parseList15(packet: YmsgPacket): ListEntry[] {
  const entries: ListEntry[] = [];
  let group: string | undefined;
  let ignoring = false;
  let id: string | undefined;
  let pending = false;
  let federation: string | undefined;
  packet.forEachPair((key, value) => {
    switch (key) {
      case K.RECORD_START:
        if (latin1(value) === String(K.LIST_MARK_IGNORE)) {
          ignoring = true;
          group = undefined;
        }
        break;
      case K.GROUP:
        group = latin1(value);
        ignoring = false;
        break;
      case K.BUDDY:
        id = latin1(value);
        pending = false;
        federation = undefined;
        break;
      case K.FEDERATION:
        federation = latin1(value);
        break;
      case 223:
        pending = latin1(value) === '1';
        break;
      case K.RECORD_END:
        if (id !== undefined && !ignoring) {
          addEntry(entries, id, group === undefined ? [] : [group], pending, federation);
        }
        id = undefined;
        break;
      default:
        break;
    }
  });
  return entries;
}

/** A buddy the session adds to a server list: its native id and the group it goes in. */
export interface ListAddition {
  id: string;
  group: string;
  pending: boolean;
}

function byGroup(additions: readonly ListAddition[]): Map<string, ListAddition[]> {
  const groups = new Map<string, ListAddition[]>();
  for (const a of additions) {
    const list = groups.get(a.group) ?? [];
    list.push(a);
    groups.set(a.group, list);
  }
  return groups;
}

/** `Group:a,b\n` lines for a v9 LIST. */
export function v9Lines(additions: readonly ListAddition[]): string {
  let out = '';
  for (const [group, items] of byGroup(additions)) out += `${group}:${items.map((i) => i.id).join(',')}\n`;
  return out;
}

/** LIST_15 group records for `additions` (one record per group, buddies inside). */
export function list15Records(additions: readonly ListAddition[]): [number, YmsgValue][] {
  const pairs: [number, YmsgValue][] = [];
  for (const [group, items] of byGroup(additions)) {
    pairs.push([K.LIST_START, K.LIST_MARK_GROUP], [K.GROUP, group], [K.RECORD_START, K.LIST_MARK_BUDDY]);
    for (const item of items) {
      pairs.push([K.LIST_START, K.LIST_MARK_BUDDY], [K.BUDDY, item.id]);
      if (item.pending) pairs.push([223, '1']);
      pairs.push([K.RECORD_END, K.LIST_MARK_BUDDY]);
    }
    pairs.push([K.LIST_END, K.LIST_MARK_BUDDY], [K.RECORD_END, K.LIST_MARK_GROUP]);
  }
  return pairs;
}

/**
 * The last packet of a server list with `additions` merged in: v9 lines appended to the last key
 * 87 (or a new 87 first), LIST_15 group records inserted before the closing 303:318 (or, when the
 * packet has no group list, a whole 302:318 ... 303:318 list appended).
 */
export function mergeIntoList(packet: YmsgPacket, additions: readonly ListAddition[]): YmsgPacket {
  const pairs: [number, YmsgValue][] = packet.pairs.map(([k, v]) => [k, v]);
  if (packet.service === YmsgService.LIST) {
    const add = textBytes(v9Lines(additions));
    let last = -1;
    pairs.forEach(([k], i) => {
      if (k === K.BUDDY_LIST) last = i;
    });
    if (last < 0) pairs.unshift([K.BUDDY_LIST, add]);
    else {
      // Key 87 values concatenate across packets (libpurple yahoo_process_list): append a line.
      const old = pairs[last]![1] as Uint8Array;
      const newline = old.length > 0 && old[old.length - 1] !== 0x0a ? 1 : 0;
      const joined = new Uint8Array(old.length + newline + add.length);
      joined.set(old, 0);
      if (newline) joined[old.length] = 0x0a;
      joined.set(add, old.length + newline);
      pairs[last] = [K.BUDDY_LIST, joined];
    }
    return packet.with({ pairs });
  }
  const records = list15Records(additions);
  let close = -1;
  pairs.forEach(([k, v], i) => {
    if (k === K.LIST_END && latin1(v as Uint8Array) === String(K.LIST_MARK_GROUP)) close = i;
  });
  if (close >= 0) pairs.splice(close, 0, ...records);
  else pairs.push([K.RECORD_START, K.LIST_MARK_GROUP], ...records, [K.LIST_END, K.LIST_MARK_GROUP]);
  return packet.with({ pairs });
}
