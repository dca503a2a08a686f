import { argValue, type MsnpCommand } from '../command/command.js';
import { isListName, LIST_BITS } from './lists.js';

/** One contact as the server's list describes it. */
export interface ContactEntry {
  /** The passport (native name), decoded. */
  passport: string;
  friendly: string;
  /** FL|AL|BL|RL|PL bits. */
  lists: number;
  /** Group ids (numbers up to MSNP9, GUIDs from MSNP10). */
  groupIds: string[];
  /** Contact GUID (`C=`, MSNP10+). */
  guid?: string;
}

/** A contact-list group as a sync lists it (`LSG`): its id and name. */
export interface GroupEntry {
  id: string;
  name: string;
}

/** Counts announced by a `SYN` reply (MSNP8+); absent when the client's cached list is current. */
export interface SynCounts {
  contacts: number;
  groups: number;
}

/** `SYN t ver [contacts groups]` (MSNP8/9) or `SYN t ts1 ts2 [contacts groups]` (MSNP10-12). */
export function synCounts(syn: MsnpCommand, dialect: number): SynCounts | undefined {
  const at = dialect >= 10 ? 2 : 1;
  const contacts = syn.args[at];
  const groups = syn.args[at + 1];
  if (dialect < 8 || contacts === undefined || groups === undefined) return undefined;
  if (!/^\d+$/.test(contacts) || !/^\d+$/.test(groups)) return undefined;
  return { contacts: Number(contacts), groups: Number(groups) };
}

/** Index of the contact-count argument of a `SYN` reply, for rewriting it. */
export function synContactCountIndex(dialect: number): number {
  return dialect >= 10 ? 2 : 1;
}

/** `LSG` in its three shapes: MSNP7 `LSG t ser idx count id name 0`, MSNP8/9 `LSG id name 0`, MSNP10+ `LSG name guid`. */
export function parseLsg(lsg: MsnpCommand, dialect: number): GroupEntry | undefined {
  const a = lsg.args;
  if (dialect >= 10) return a.length >= 2 ? { id: a[1]!, name: argValue(a[0]!) } : undefined;
  if (lsg.trid !== undefined) return a.length >= 5 ? { id: a[3]!, name: argValue(a[4]!) } : undefined;
  return a.length >= 2 ? { id: a[0]!, name: argValue(a[1]!) } : undefined;
}

/**
 * `LST` in its shapes: MSNP2-7 `LST t FL ser idx count user friendly [groups]` (one line per list),
 * MSNP8/9 `LST user friendly bits [groups]`, MSNP10-12 `LST N=user F=friendly C=guid bits [nid] [groups]`
 * (Escargot msnp_ns.py `_m_syn`; MSNP12 adds a network id; a contact in no group leaves a trailing
 * empty argument).
 */
export function parseLst(lst: MsnpCommand, dialect: number): ContactEntry | undefined {
  const a = lst.args;
  if (lst.trid !== undefined) {
    // First generation: the list is named, the contact may be absent (`LST 5 BL 1 0 0`).
    if (!isListName(a[0]) || a.length < 6) return undefined;
    return {
      passport: argValue(a[4]!),
      friendly: argValue(a[5]!),
      lists: LIST_BITS[a[0]],
      groupIds: a[6] ? a[6].split(',') : [],
    };
  }
  if (dialect >= 10 || a[0]?.startsWith('N=')) {
    let passport: string | undefined;
    let friendly = '';
    let guid: string | undefined;
    let i = 0;
    for (; i < a.length; i++) {
      const arg = a[i]!;
      if (arg.startsWith('N=')) passport = argValue(arg.slice(2));
      else if (arg.startsWith('F=')) friendly = argValue(arg.slice(2));
      else if (arg.startsWith('C=')) guid = arg.slice(2);
      else break;
    }
    if (passport === undefined || !/^\d+$/.test(a[i] ?? '')) return undefined;
    const lists = Number(a[i]);
    const groupIds: string[] = [];
    // After the bits: a short number is MSNP12's network id, anything else a list of group GUIDs.
    for (const rest of a.slice(i + 1)) {
      if (rest === '' || /^\d{1,3}$/.test(rest)) continue;
      groupIds.push(...rest.split(',').filter(Boolean));
    }
    return { passport, friendly: friendly || passport, lists, groupIds, ...(guid ? { guid } : {}) };
  }
  if (a.length < 3 || !/^\d+$/.test(a[2]!)) return undefined;
  return {
    passport: argValue(a[0]!),
    friendly: argValue(a[1]!),
    lists: Number(a[2]),
    groupIds: a[3] ? a[3].split(',').filter(Boolean) : [],
  };
}

/**
 * Follows a contact-list download (`SYN` reply, then `LSG` and `LST` lines) and says when it is
 * complete: MSNP8+ announce the counts in the `SYN` reply; MSNP2-7 send one run of `LST` lines per
 * list, FL, AL, BL then RL, each line carrying its index and the list's size.
 */
export class ContactListSync {
  readonly dialect: number;
  readonly groups: GroupEntry[] = [];
  readonly contacts = new Map<string, ContactEntry>();
  /** Set once a `SYN` reply was seen; undefined for a current cache (no list follows). */
  counts: SynCounts | undefined;
  #active = false;
  #complete = false;
  #seenContacts = 0;
  /** MSNP2-7: lines still expected in the RL run. */
  #rlRemaining: number | undefined;

  constructor(dialect: number) {
    this.dialect = dialect;
  }

  get active(): boolean {
    return this.#active;
  }

  get complete(): boolean {
    return this.#complete;
  }

  /** LST lines seen so far (MSNP8+: one per contact). */
  get seenContacts(): number {
    return this.#seenContacts;
  }

  /** Starts on the server's `SYN` reply; true when a list follows. */
  start(syn: MsnpCommand): boolean {
    this.#active = true;
    this.#complete = false;
    this.contacts.clear();
    this.groups.length = 0;
    this.#seenContacts = 0;
    if (this.dialect < 8) {
      this.counts = undefined;
      return true;
    }
    this.counts = synCounts(syn, this.dialect);
    if (!this.counts || (this.counts.contacts === 0 && this.counts.groups === 0)) this.#finish();
    return this.counts !== undefined;
  }

  /** Feeds a server command while active; returns the parsed line, if it was part of the list. */
  accept(cmd: MsnpCommand): ContactEntry | GroupEntry | undefined {
    if (!this.#active || this.#complete) return undefined;
    if (cmd.verb === 'LSG') {
      const group = parseLsg(cmd, this.dialect);
      if (group) this.groups.push(group);
      if (this.counts && this.counts.contacts === 0 && this.groups.length >= this.counts.groups)
        this.#finish();
      return group;
    }
    if (cmd.verb !== 'LST') return undefined;
    const entry = parseLst(cmd, this.dialect);
    if (cmd.trid !== undefined) return this.#acceptFirstGeneration(cmd, entry);
    this.#seenContacts++;
    if (entry) this.#merge(entry);
    if (this.counts && this.#seenContacts >= this.counts.contacts) this.#finish();
    return entry;
  }

  #acceptFirstGeneration(cmd: MsnpCommand, entry: ContactEntry | undefined): ContactEntry | undefined {
    if (entry) this.#merge(entry);
    if (cmd.args[0] === 'RL') {
      // `LST t RL ser n1 n2 ...`: the list's size is the larger of the two counters.
      const size = Math.max(Number(cmd.args[2]) || 0, Number(cmd.args[3]) || 0);
      this.#rlRemaining ??= size;
      if (entry) this.#rlRemaining--;
      if (this.#rlRemaining <= 0) this.#finish();
    }
    return entry;
  }

  #merge(entry: ContactEntry): void {
    const key = entry.passport.toLowerCase();
    const known = this.contacts.get(key);
    if (!known) {
      this.contacts.set(key, { ...entry, groupIds: [...entry.groupIds] });
      return;
    }
    known.lists |= entry.lists;
    if (entry.groupIds.length && (entry.lists & LIST_BITS.FL) !== 0) known.groupIds = [...entry.groupIds];
    known.guid ??= entry.guid;
  }

  #finish(): void {
    this.#complete = true;
    this.#active = false;
    this.#rlRemaining = undefined;
  }
}
