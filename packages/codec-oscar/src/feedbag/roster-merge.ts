import type { RosterItem } from '@crosstalk/core';
import { type Tlv, tlv } from '../tlv/tlv.js';
import { textToByteString } from '../wire/text.js';
import { FeedbagAttribute, FeedbagClass, type FeedbagItem } from './feedbag-item.js';
import { type FeedbagList, orderOf, withOrder } from './feedbag-list.js';

/** The group foreign buddies go to when the group they name is not in the list (README "Roster merge"). */
export const CROSSTALK_GROUP = 'CrossTalk';

/** What merging foreign buddies into a feedbag adds and changes. */
export interface RosterMergeResult {
  /** New items: the CrossTalk group when it had to be created, then the foreign buddies. */
  added: FeedbagItem[];
  /** Existing group items (or the root) whose order attribute 0xC8 now lists the added ids. */
  updated: FeedbagItem[];
  /** The foreign roster items that were added (those already in the list are skipped). */
  merged: RosterItem[];
}

/**
 * Places foreign buddies into a feedbag: each goes into the group its roster item names when that
 * group exists and `editable` allows changing its order, else into the "CrossTalk" group (created
 * when missing). Item and group ids are fresh and collide with nothing in `list`.
 */
export function mergeForeignBuddies(
  list: FeedbagList,
  foreign: readonly RosterItem[],
  screenNameOf: (item: RosterItem) => string,
  editable: (item: FeedbagItem) => boolean = () => true,
): RosterMergeResult {
  const present = new Set(list.buddies().map((b) => b.name.replace(/ /g, '').toLowerCase()));
  const takenItems = new Set<number>();
  const added: FeedbagItem[] = [];
  const updatedGroups = new Map<number, FeedbagItem>();
  const merged: RosterItem[] = [];
  let createdCrosstalk: FeedbagItem | undefined;
  const current = (g: FeedbagItem) => updatedGroups.get(g.groupId) ?? g;

  const groupFor = (item: RosterItem): FeedbagItem => {
    for (const name of item.groups) {
      const g = list.groupByName(name);
      if (g && editable(g)) return current(g);
    }
    if (createdCrosstalk) return createdCrosstalk;
    const existing = list.groupByName(CROSSTALK_GROUP);
    if (existing) return current(existing);
    createdCrosstalk = {
      name: CROSSTALK_GROUP,
      groupId: list.freeGroupId(),
      itemId: 0,
      classId: FeedbagClass.group,
      attributes: [],
    };
    return createdCrosstalk;
  };

  for (const item of foreign) {
    const screenName = screenNameOf(item);
    const key = screenName.replace(/ /g, '').toLowerCase();
    if (present.has(key)) continue;
    present.add(key);
    const group = groupFor(item);
    const itemId = list.freeItemId(takenItems);
    takenItems.add(itemId);
    const attributes: Tlv[] = [];
    if (item.name !== undefined) attributes.push(tlv(FeedbagAttribute.alias, textToByteString(item.name)));
    if (item.pending) attributes.push(tlv(FeedbagAttribute.pending));
    added.push({ name: screenName, groupId: group.groupId, itemId, classId: FeedbagClass.buddy, attributes });
    const reordered = withOrder(group, [...orderOf(group), itemId]);
    if (group === createdCrosstalk) createdCrosstalk = reordered;
    // A group whose item was already sent keeps its order: the order only sorts (libpurple shows items without it).
    else if (editable(group)) updatedGroups.set(group.groupId, reordered);
    merged.push(item);
  }

  const updated = [...updatedGroups.values()];
  if (createdCrosstalk) {
    added.unshift(createdCrosstalk);
    const root = list.root();
    if (root && editable(root)) updated.push(withOrder(root, [...orderOf(root), createdCrosstalk.groupId]));
  }
  return { added, updated, merged };
}
