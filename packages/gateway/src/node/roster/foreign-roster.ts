import { type Address, addressKey, formatAddress, parseAddress, type RosterItem } from '@crosstalk/core';
import type { RosterItemJson, StateStore } from '../../store/state-store.js';

const itemToJson = (item: RosterItem): RosterItemJson => ({ ...item, address: formatAddress(item.address) });

/**
 * Users' foreign buddies, kept in hard state: their own servers know nothing of them, so the node
 * remembers them (and their subscription) across logins and restarts.
 */
export class ForeignRoster {
  constructor(readonly store: () => StateStore) {}

  /** A user's foreign buddies as stored (an entry that no longer parses is skipped). */
  list(owner: Address): RosterItem[] {
    return (this.store().state.users[addressKey(owner)]?.foreignBuddies ?? []).flatMap((item) => {
      try {
        return [{ ...item, address: parseAddress(item.address) }];
      } catch {
        return [];
      }
    });
  }

  /** Changes (or adds) one buddy of `owner`. */
  async set(owner: Address, buddy: Address, change: (item: RosterItem) => RosterItem): Promise<void> {
    const key = addressKey(owner);
    const list = this.list(owner);
    const at = list.findIndex((i) => addressKey(i.address) === addressKey(buddy));
    const before: RosterItem =
      at >= 0 ? list[at]! : { address: buddy, groups: [], subscription: 'none', pending: false };
    const after = change(before);
    if (at >= 0) list[at] = after;
    else list.push(after);
    await this.store().update((s) => {
      s.users[key] = { ...s.users[key], foreignBuddies: list.map(itemToJson) };
    });
  }
}

/** A buddy after an answer: mutual when accepted, nothing when denied; no longer waiting either way. */
export function answered(accepted: boolean): (item: RosterItem) => RosterItem {
  return (item) =>
    accepted
      ? { ...item, subscription: 'both', pending: false }
      : { ...item, subscription: 'none', pending: false };
}
