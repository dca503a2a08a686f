import { type Address, parseAddress } from '@crosstalk/core';
import type { People } from './gateway-model.js';
import type { Rng } from './rng.js';

/**
 * The simulated users: who they are, which gateway serves them, and their buddies. Buddy lists are
 * mutual (a subscription `both` on each side, as after an accepted buddy request) and drawn by the
 * configuration model: each user gets a list size from a lognormal with the given mean, capped at
 * MSN's 600 (the largest lists in Leskovec and Horvitz's Messenger data), and the list slots are
 * paired at random: a `locality` share of them among the users of the user's cluster of
 * `clusterGateways` gateways (people talk most with people near them, Leskovec and Horvitz found;
 * gateways serve a site or a region), the rest across all users.
 */
export interface PopulationOptions {
  users: number;
  gateways: number;
  /** Mean buddy-list size (Leskovec and Horvitz report about 50 contacts a Messenger user). */
  meanBuddies: number;
  /** Spread of log(list size) (lognormal sigma). */
  sigma: number;
  /** Largest list (MSN: 600). */
  maxBuddies: number;
  /** Share of each list among the users of the user's own cluster of gateways (0: none). */
  locality?: number;
  /** Gateways per cluster. */
  clusterGateways?: number;
  rng: Rng;
}

/** The networks users come from, in turn: address formats of each (core's address rules). */
const NETWORKS = [
  (i: number) => `u${i}@aol`,
  (i: number) => `u${i}@yahoo`,
  (i: number) => `u${i}@hotmail.com@msn`,
  (i: number) => `u${i}@jabber.example.org`,
];

export class Population implements People {
  readonly users: number;
  readonly gateways: number;
  /** Buddy lists in compressed form: user i's buddies are `buddies[start[i] .. start[i + 1])`. */
  readonly start: Int32Array;
  readonly buddies: Int32Array;

  constructor(options: PopulationOptions) {
    const { users, gateways, rng } = options;
    this.users = users;
    this.gateways = gateways;
    // Lognormal sizes with the requested mean: mu = ln(mean) - sigma^2 / 2.
    const mu = Math.log(options.meanBuddies) - (options.sigma * options.sigma) / 2;
    const want = new Int32Array(users);
    for (let i = 0; i < users; i++) {
      const size = Math.round(Math.exp(mu + options.sigma * rng.normal()));
      want[i] = Math.max(1, Math.min(options.maxBuddies, size, users - 1));
    }
    // The configuration model: every list slot once in a shuffled array, paired in order; the local
    // share of a user's slots in their cluster's array, the rest in one array of everyone's.
    const locality = options.locality ?? 0;
    const cluster = Math.max(1, Math.min(gateways, options.clusterGateways ?? gateways));
    const clusters = Math.ceil(gateways / cluster);
    const clusterOf = (i: number) => Math.floor((i % gateways) / cluster);
    const local = new Int32Array(users);
    const perCluster = new Int32Array(clusters);
    let global = 0;
    for (let i = 0; i < users; i++) {
      const exact = want[i]! * locality;
      local[i] = Math.floor(exact) + (rng.next() < exact - Math.floor(exact) ? 1 : 0);
      perCluster[clusterOf(i)]! += local[i]!;
      global += want[i]! - local[i]!;
    }
    const arrays = [new Int32Array(global), ...Array.from(perCluster, (n) => new Int32Array(n))];
    const fill = new Int32Array(arrays.length);
    for (let i = 0; i < users; i++) {
      const c = 1 + clusterOf(i);
      for (let j = 0; j < local[i]!; j++) arrays[c]![fill[c]!++] = i;
      for (let j = local[i]!; j < want[i]!; j++) arrays[0]![fill[0]!++] = i;
    }
    for (const slots of arrays) {
      for (let i = slots.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = slots[i]!;
        slots[i] = slots[j]!;
        slots[j] = t;
      }
    }
    const degree = new Int32Array(users);
    for (const slots of arrays) {
      for (let i = 0; i + 1 < slots.length; i += 2) {
        if (slots[i] === slots[i + 1]) continue;
        degree[slots[i]!]!++;
        degree[slots[i + 1]!]!++;
      }
    }
    const start = new Int32Array(users + 1);
    for (let i = 0; i < users; i++) start[i + 1] = start[i]! + degree[i]!;
    const at = start.slice(0, users);
    const lists = new Int32Array(start[users]!);
    for (const slots of arrays) {
      for (let i = 0; i + 1 < slots.length; i += 2) {
        const a = slots[i]!;
        const b = slots[i + 1]!;
        if (a === b) continue;
        lists[at[a]!++] = b;
        lists[at[b]!++] = a;
      }
    }
    // A pair drawn twice is one buddy: sort each list and drop repeats (both sides lose it alike).
    const out = new Int32Array(lists.length);
    const compact = new Int32Array(users + 1);
    let kept = 0;
    for (let i = 0; i < users; i++) {
      const list = lists.subarray(start[i]!, start[i + 1]!).sort();
      compact[i] = kept;
      for (let j = 0; j < list.length; j++) if (j === 0 || list[j] !== list[j - 1]) out[kept++] = list[j]!;
    }
    compact[users] = kept;
    this.start = compact;
    this.buddies = out.slice(0, kept);
  }

  /** The gateway that serves user `i` (users are spread evenly). */
  gatewayOf(i: number): number {
    return i % this.gateways;
  }

  /** User `i`'s buddies. */
  buddiesOf(i: number): Int32Array {
    return this.buddies.subarray(this.start[i]!, this.start[i + 1]!);
  }

  /** User `i`'s address (the four networks in turn). */
  address(i: number): Address {
    return parseAddress(NETWORKS[i % NETWORKS.length]!(i));
  }

  /** The user an address names (`u<i>@...`). */
  indexOf(address: Address): number {
    return Number.parseInt(address.user.slice(1), 10);
  }

  /** Mean list size after pairing. */
  get meanListSize(): number {
    return this.buddies.length / this.users;
  }
}
