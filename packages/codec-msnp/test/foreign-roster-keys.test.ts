import type { Address, RosterItem, SessionContext } from '@crosstalk/core';
import { describe, expect, it } from 'vitest';
import { isForeignRosterMember } from '../src/session/foreign-roster-keys.js';

const alice: Address = { user: 'alice@example.com', network: 'msn' };
const bob: Address = { user: 'bob', network: 'yahoo' };
const eve: Address = { user: 'eve', network: 'yahoo' };

/** Contexts that share one roster source, as the gateway's connections do, and a clock to move. */
function gateway() {
  const reads: string[] = [];
  const rosters = new Map<string, RosterItem[]>();
  const clock = { now: 1_000 };
  const foreignRoster = (owner: Address): RosterItem[] => {
    reads.push(owner.user);
    return rosters.get(owner.user) ?? [];
  };
  const context = () => ({ foreignRoster, now: () => clock.now }) as unknown as SessionContext;
  return { reads, rosters, clock, context };
}

const item = (address: Address): RosterItem => ({
  address,
  name: address.user,
  groups: [],
  subscription: 'both',
  pending: false,
});

describe('foreign roster snapshot', () => {
  it('is read once per user for all of its connections, and again after a second', () => {
    const g = gateway();
    g.rosters.set(alice.user, [item(bob)]);
    const notification = g.context();
    const switchboard = g.context();
    expect(isForeignRosterMember(notification, alice, bob)).toBe(true);
    expect(isForeignRosterMember(switchboard, alice, bob)).toBe(true);
    expect(isForeignRosterMember(switchboard, alice, eve)).toBe(false);
    expect(g.reads).toEqual([alice.user]);
    // A buddy added since is seen once the snapshot is a second old.
    g.rosters.set(alice.user, [item(bob), item(eve)]);
    g.clock.now += 1_000;
    expect(isForeignRosterMember(switchboard, alice, eve)).toBe(true);
    expect(g.reads).toEqual([alice.user, alice.user]);
  });
});
