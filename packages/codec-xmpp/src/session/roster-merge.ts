import { addressKey, type RosterItem } from '@crosstalk/core';
import { rosterItemElement } from '../stanza/build.js';
import { findChild, NS, type NsScope, scopeIn } from '../stanza/namespaces.js';
import { readRosterItems } from '../stanza/read.js';
import type { XmlElement } from '../xml/node.js';

/** A roster with the foreign buddies merged in. */
export interface RosterMergeResult {
  /** The server's own items. */
  items: RosterItem[];
  /** The foreign items appended (those the server's roster did not already hold). */
  merged: RosterItem[];
}

/**
 * Roster merging (docs/DESIGN.md "Gateway engine", step 3): appends the user's foreign buddies to the roster
 * result the server sends (RFC 6121 §2.1.4), as JIDs (`bob@yahoo`, `a\40hotmail.com@msn`).
 * Changes `iq` in place; returns undefined when the result holds no roster (RFC 6121 §2.6.3:
 * an empty result means "your cached roster is current").
 */
export function mergeRoster(
  iq: XmlElement,
  outer: NsScope,
  foreign: readonly RosterItem[],
): RosterMergeResult | undefined {
  const query = findChild(iq, scopeIn(iq, outer), 'query', NS.roster);
  if (!query) return undefined;
  const items = readRosterItems(query.el, query.scope, { mode: 'native' });
  const present = new Set(items.map((i) => addressKey(i.address)));
  const merged: RosterItem[] = [];
  for (const item of foreign) {
    const key = addressKey(item.address);
    if (present.has(key)) continue;
    present.add(key);
    merged.push(item);
    query.el.children.push(rosterItemElement(item, false));
  }
  return { items, merged };
}
