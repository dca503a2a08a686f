import type { Rng } from './rng.js';

/**
 * The modelled DHT: `nodes` hyperdht nodes that store records (the `crosstalk dht-node`s, docs/operating.md)
 * and `clients` ephemeral nodes that only ask (each gateway's own node: HyperDhtStore creates it
 * `ephemeral`), with Kademlia routing tables as dht-rpc keeps them and its iterative query run
 * request by request, so that the number of requests a lookup costs, and which nodes receive them,
 * come from routing rather than from a formula. What is modelled of dht-rpc 6 (lib/query.js) and
 * kademlia-routing-table:
 *
 * - a table has one row per bit of distance, at most k = 20 nodes a row; `closest(target)` takes the
 *   target's row, then the rows further away, then the nearer ones, each in the row's own order;
 * - a query starts from the asker's k closest table entries (or from given nodes), keeps the k
 *   closest nodes that replied, asks at most `concurrency` (10) nodes at a time, takes the next
 *   candidate from a stack, skips one no closer than the k-th closest reply, adds a reply's
 *   `closerNodes` until the first one that is not closer, and ends when nothing is left to ask;
 *   given start nodes are asked 3 at a time until as many replies as the concurrency came back;
 * - a commit (store, announce) is one request to each of the k closest that replied;
 * - a first-copy read (`mutableGet` with `latest: false`, concurrency 3) stops at the first reply
 *   from a node holding the record; requests already sent are still answered.
 *
 * Not modelled: timeouts, retries, churn, NAT, latency (every request is answered, in the order
 * sent). Ids are 32 bits (distinct), enough to order up to millions of nodes by XOR distance.
 */
export interface KademliaOptions {
  /** Storing nodes (members of the DHT). */
  nodes: number;
  /** Ephemeral nodes that ask but are in no table (the gateways' own nodes). */
  clients: number;
  /** Nodes per table row and replicas per record (hyperdht: 20). */
  k?: number;
  /** Requests in flight per query (dht-rpc: 10). */
  concurrency?: number;
  rng: Rng;
}

/** What one query did. */
export interface QueryTrace {
  /** Nodes asked, in order (member indices). */
  asked: number[];
  /** The k closest nodes that replied, nearest first. */
  closest: number[];
}

/** How a query starts and when it stops. */
export interface QueryOptions {
  /** Start from these nodes rather than the asker's table (hyperdht's `nodes` option). */
  start?: readonly number[];
  /** Requests in flight (default: the network's concurrency). */
  concurrency?: number;
  /** Stop at the first reply from a node for which this is true (a first-copy read). */
  stopAt?: (node: number) => boolean;
}

export class KademliaNetwork {
  readonly k: number;
  readonly concurrency: number;
  /** Member ids, by member index. */
  readonly ids: Uint32Array;
  /** Client ids, by client index. */
  readonly clientIds: Uint32Array;
  /** Member ids sorted, and the member index of each. */
  readonly #sorted: Uint32Array;
  readonly #sortedIndex: Int32Array;
  /** Routing tables: members first, then clients; each a row per bit, member indices. */
  readonly #tables: Int32Array[][];

  constructor(options: KademliaOptions) {
    const { nodes, clients, rng } = options;
    if (nodes < 1) throw new RangeError('a DHT needs at least one node');
    this.k = options.k ?? 20;
    this.concurrency = options.concurrency ?? 10;
    const taken = new Set<number>();
    const fresh = () => {
      for (;;) {
        const id = rng.u32();
        if (!taken.has(id)) {
          taken.add(id);
          return id;
        }
      }
    };
    this.ids = Uint32Array.from({ length: nodes }, fresh);
    this.clientIds = Uint32Array.from({ length: clients }, fresh);
    const order = Array.from({ length: nodes }, (_, i) => i).sort((a, b) => this.ids[a]! - this.ids[b]!);
    this.#sortedIndex = Int32Array.from(order);
    this.#sorted = Uint32Array.from(order, (i) => this.ids[i]!);
    this.#tables = [];
    for (let i = 0; i < nodes; i++) this.#tables.push(this.#table(this.ids[i]!, rng));
    for (let i = 0; i < clients; i++) this.#tables.push(this.#table(this.clientIds[i]!, rng));
  }

  get nodes(): number {
    return this.ids.length;
  }

  /** The k members nearest `target` by XOR distance, nearest first (where replicas of a record live). */
  closestTo(target: number, k = this.k): number[] {
    const n = this.#sorted.length;
    let lo = 0;
    let hi = n;
    // Widen the prefix shared with the target until the subtree holds k members.
    for (let bits = 32; bits >= 0; bits--) {
      const span = 2 ** (32 - bits);
      const base = Math.floor(target / span) * span;
      lo = lowerBound(this.#sorted, base);
      hi = lowerBound(this.#sorted, base + span);
      if (hi - lo >= k || bits === 0) break;
    }
    const candidates: number[] = [];
    for (let i = lo; i < hi; i++) candidates.push(this.#sortedIndex[i]!);
    candidates.sort((a, b) => ((this.ids[a]! ^ target) >>> 0) - ((this.ids[b]! ^ target) >>> 0));
    return candidates.slice(0, k);
  }

  /**
   * Runs one query from `asker` (a client index, or a member index when `askerIsMember`) toward
   * `target`, as dht-rpc does (see the class comment).
   */
  query(asker: number, target: number, options: QueryOptions = {}, askerIsMember = false): QueryTrace {
    const k = this.k;
    const ids = this.ids;
    const table = this.#tables[askerIsMember ? asker : this.ids.length + asker]!;
    const self = askerIsMember ? asker : -1;
    const distance = (node: number) => (ids[node]! ^ target) >>> 0;
    /** The k closest replies, nearest first, and their distances. */
    const closest: number[] = [];
    const closestDistance: number[] = [];
    const seen = new Set<number>();
    const pending: number[] = [];
    const inflight: number[] = [];
    const asked: number[] = [];
    const isCloser = (node: number) => closest.length < k || distance(node) < closestDistance[k - 1]!;
    const addPending = (node: number): boolean => {
      if (seen.has(node)) return isCloser(node);
      if (!isCloser(node)) return false;
      seen.add(node);
      pending.push(node);
      return true;
    };
    let fromTable = false;
    if (options.start && options.start.length > 0) {
      for (let i = options.start.length - 1; i >= 0; i--) addPending(options.start[i]!);
    } else {
      fromTable = true;
      for (const node of closestInTable(
        table,
        ids,
        self >= 0 ? ids[self]! : this.clientIds[asker]!,
        target,
        k,
      ))
        addPending(node);
    }
    const concurrency = options.concurrency ?? this.concurrency;
    let slowdown = false;
    let replies = 0;
    const readMore = () => {
      const limit = slowdown ? 3 : concurrency;
      while (inflight.length < limit && pending.length > 0) {
        const next = pending.pop()!;
        if (!isCloser(next)) continue;
        asked.push(next);
        inflight.push(next);
      }
      if (!fromTable && replies === 0) slowdown = true;
    };
    readMore();
    while (inflight.length > 0) {
      const node = inflight.shift()!;
      replies++;
      if (isCloser(node)) {
        const d = distance(node);
        let at = closest.length;
        while (at > 0 && closestDistance[at - 1]! > d) at--;
        closest.splice(at, 0, node);
        closestDistance.splice(at, 0, d);
        if (closest.length > k) {
          closest.pop();
          closestDistance.pop();
        }
      }
      if (options.stopAt?.(node)) break;
      for (const next of closestInTable(this.#tables[node]!, ids, ids[node]!, target, k)) {
        if (next === self) continue;
        if (!addPending(next)) break;
      }
      if (!fromTable && replies >= concurrency) slowdown = false;
      readMore();
    }
    return { asked, closest };
  }

  /** A routing table for a node with id `self`: per row, up to k members chosen at random, in random order. */
  #table(self: number, rng: Rng): Int32Array[] {
    const rows: Int32Array[] = [];
    for (let row = 0; row < 32; row++) {
      // Members that share `row` leading bits with self and differ at the next: one contiguous range.
      const span = 2 ** (31 - row);
      const flipped = Math.floor(self / span) ^ 1;
      const lo = lowerBound(this.#sorted, flipped * span);
      const hi = lowerBound(this.#sorted, (flipped + 1) * span);
      const count = hi - lo;
      const take = Math.min(this.k, count);
      const picked = new Int32Array(take);
      if (count <= this.k) {
        for (let i = 0; i < count; i++) picked[i] = this.#sortedIndex[lo + i]!;
        shuffle(picked, rng);
      } else {
        const chosen = new Set<number>();
        let i = 0;
        while (i < take) {
          const at = lo + rng.int(count);
          if (chosen.has(at)) continue;
          chosen.add(at);
          picked[i++] = this.#sortedIndex[at]!;
        }
      }
      rows.push(picked);
    }
    return rows;
  }
}

/** kademlia-routing-table's `closest`: the target's row, then rows further away, then nearer ones. */
function closestInTable(
  rows: Int32Array[],
  _ids: Uint32Array,
  self: number,
  target: number,
  k: number,
): number[] {
  const out: number[] = [];
  const x = (self ^ target) >>> 0;
  const d = x === 0 ? rows.length - 1 : Math.clz32(x);
  for (let i = d; i >= 0 && out.length < k; i--) push(rows[i]!, out, k);
  for (let i = d + 1; i < rows.length && out.length < k; i++) push(rows[i]!, out, k);
  return out;
}

function push(row: Int32Array, out: number[], k: number): void {
  const missing = Math.min(k - out.length, row.length);
  for (let j = 0; j < missing; j++) out.push(row[j]!);
}

function lowerBound(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}
