import type { Address, RosterItem } from '@crosstalk/core';
import { findTlv, hasTlv, type Tlv } from '../tlv/tlv.js';
import { byteStringToText } from '../wire/text.js';
import { FeedbagAttribute, FeedbagClass, type FeedbagItem } from './feedbag-item.js';

export type FeedbagEdit = 'insert' | 'update' | 'delete';

/** The edit a feedbag SNAC carries: 0x08 insert, 0x09 update, 0x0A delete (retro-aim-server FeedbagInsertItem...). */
export function feedbagEditOf(subtype: number): FeedbagEdit {
  return subtype === 0x0008 ? 'insert' : subtype === 0x0009 ? 'update' : 'delete';
}

/**
 * A buddy list as the feedbag stores it (family 0x13): items keyed by (group id, item id). Groups
 * are class-1 items with item id 0; the root group (group id 0, empty name) orders the groups and
 * each group orders its buddies with attribute 0xC8, a list of u16 ids (libpurple
 * family_feedbag.c aim_ssi_itemlist_rebuildgroup).
 */
export class FeedbagList {
  readonly items: FeedbagItem[] = [];

  constructor(items: readonly FeedbagItem[] = []) {
    for (const item of items) this.items.push(item);
  }

  /**
   * Applies a feedbag edit the way the server stores it (retro-aim-server FeedbagUpsert /
   * FeedbagDelete). Items are copied: decoded frames are views of buffers their owner may reuse.
   */
  apply(kind: FeedbagEdit, edits: readonly FeedbagItem[]): void {
    for (const edit of edits) {
      const item = copyItem(edit);
      const at = this.items.findIndex((i) => i.groupId === item.groupId && i.itemId === item.itemId);
      if (kind === 'delete') {
        if (at >= 0) this.items.splice(at, 1);
      } else if (at >= 0) {
        this.items[at] = item;
      } else {
        this.items.push(item);
      }
    }
  }

  groups(): FeedbagItem[] {
    return this.items.filter((i) => i.classId === FeedbagClass.group && i.groupId !== 0);
  }

  root(): FeedbagItem | undefined {
    return this.items.find((i) => i.classId === FeedbagClass.group && i.groupId === 0);
  }

  group(groupId: number): FeedbagItem | undefined {
    return this.items.find((i) => i.classId === FeedbagClass.group && i.groupId === groupId && groupId !== 0);
  }

  groupByName(name: string): FeedbagItem | undefined {
    return this.groups().find((g) => byteStringToText(g.name) === name);
  }

  buddies(): FeedbagItem[] {
    return this.items.filter((i) => i.classId === FeedbagClass.buddy);
  }

  /** An item id unused by any item (libpurple picks ids unique across the whole list). */
  freeItemId(taken: Set<number> = new Set()): number {
    const used = new Set(this.items.map((i) => i.itemId));
    for (let id = 1; id < 0x8000; id++) if (!used.has(id) && !taken.has(id)) return id;
    for (let id = 0x8000; id <= 0xffff; id++) if (!used.has(id) && !taken.has(id)) return id;
    throw new RangeError('feedbag item ids exhausted');
  }

  freeGroupId(taken: Set<number> = new Set()): number {
    const used = new Set(this.items.map((i) => i.groupId));
    for (let id = 1; id <= 0xffff; id++) if (!used.has(id) && !taken.has(id)) return id;
    throw new RangeError('feedbag group ids exhausted');
  }

  /** Canonical roster items: one per buddy name, in every group that holds it. */
  rosterItems(addressOf: (screenName: string) => Address): RosterItem[] {
    const byName = new Map<string, RosterItem>();
    for (const b of this.buddies()) {
      const key = b.name.replace(/ /g, '').toLowerCase();
      const groupName = this.group(b.groupId)?.name;
      let item = byName.get(key);
      if (!item) {
        const alias = findTlv(b.attributes, FeedbagAttribute.alias);
        const pending = hasTlv(b.attributes, FeedbagAttribute.pending);
        item = {
          address: addressOf(b.name),
          groups: [],
          subscription: pending ? 'none' : 'to',
          pending,
        };
        if (alias && alias.length > 0) item.name = byteStringToText(String.fromCharCode(...alias));
        byName.set(key, item);
      }
      if (groupName !== undefined) {
        const text = byteStringToText(groupName);
        if (!item.groups.includes(text)) item.groups.push(text);
      }
    }
    return [...byName.values()];
  }
}

function copyItem(item: FeedbagItem): FeedbagItem {
  return { ...item, attributes: item.attributes.map((t) => ({ type: t.type, value: t.value.slice() })) };
}

/** The u16 ids an order attribute 0xC8 lists. */
export function orderOf(item: FeedbagItem): number[] {
  const v = findTlv(item.attributes, FeedbagAttribute.order);
  const ids: number[] = [];
  if (v) for (let i = 0; i + 1 < v.length; i += 2) ids.push((v[i]! << 8) | v[i + 1]!);
  return ids;
}

/** A copy of `item` whose order attribute 0xC8 lists `ids` (added when it had none). */
export function withOrder(item: FeedbagItem, ids: readonly number[]): FeedbagItem {
  const value = new Uint8Array(ids.length * 2);
  ids.forEach((id, i) => {
    value[2 * i] = id >>> 8;
    value[2 * i + 1] = id & 0xff;
  });
  let replaced = false;
  const attributes: Tlv[] = item.attributes.map((t) => {
    if (t.type !== FeedbagAttribute.order || replaced) return t;
    replaced = true;
    return { type: t.type, value };
  });
  if (!replaced) attributes.push({ type: FeedbagAttribute.order, value });
  return { ...item, attributes };
}
