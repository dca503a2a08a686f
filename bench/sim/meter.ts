import type { Rng } from './rng.js';

/** What one operation (a login, an IM, ...) cost, or what a run's operations of one kind cost in all. */
export interface Cost {
  /** DHT datagrams: requests and their replies. */
  dhtMessages: number;
  dhtBytes: number;
  /** G2G frames: events and their ACKs/NACKs. */
  g2gMessages: number;
  g2gBytes: number;
}

export const zeroCost = (): Cost => ({ dhtMessages: 0, dhtBytes: 0, g2gMessages: 0, g2gBytes: 0 });

/** Per-kind totals and a sample of the per-operation costs (for percentiles). */
export interface OpStats {
  count: number;
  total: Cost;
  /** DHT messages of up to `RESERVOIR` operations, drawn uniformly (reservoir sampling). */
  dhtSample: number[];
}

const RESERVOIR = 20_000;

/**
 * Counts what the modelled network carries, by operation kind and by host. Operations run one at a
 * time (the event queue awaits each), so whatever is counted between `begin` and `end` is that
 * operation's. Nothing is counted while `recording` is off (the warm-up).
 */
export class Meter {
  recording = false;
  readonly ops = new Map<string, OpStats>();
  /**
   * Per host, two tallies: `[0]` what users cause (it grows with the users a gateway serves) and
   * `[1]` what each gateway does whatever its users (operations named in `perGateway`), so that a
   * run with fewer users per gateway can be scaled up to the nominal population.
   */
  /** DHT datagrams each gateway sent or received (its requests and their replies). */
  readonly gatewayDht: [Float64Array, Float64Array];
  /** G2G frames each gateway sent or received. */
  readonly gatewayG2g: [Float64Array, Float64Array];
  /** DHT datagrams each DHT node received or sent (requests served and replies). */
  readonly nodeDht: [Float64Array, Float64Array];
  /** Operations whose cost does not grow with the users (the gateway's own upkeep). */
  readonly perGateway = new Set<string>();
  #tally: 0 | 1 = 0;
  /** G2G links opened (a hyperdht connect: a peer lookup and a handshake through the DHT). */
  linksOpened = 0;
  #current: Cost | undefined;
  #label = '';
  readonly #rng: Rng;

  constructor(gateways: number, nodes: number, rng: Rng) {
    this.gatewayDht = [new Float64Array(gateways), new Float64Array(gateways)];
    this.gatewayG2g = [new Float64Array(gateways), new Float64Array(gateways)];
    this.nodeDht = [new Float64Array(nodes), new Float64Array(nodes)];
    this.#rng = rng;
  }

  /** Starts an operation of kind `label`: what is counted until `end` is its cost. */
  begin(label: string): void {
    this.#label = label;
    this.#tally = this.perGateway.has(label) ? 1 : 0;
    this.#current = zeroCost();
  }

  /** Ends the current operation and records it. */
  end(): void {
    const cost = this.#current;
    this.#current = undefined;
    if (!cost || !this.recording) return;
    const stats = this.#stats(this.#label);
    stats.count++;
    add(stats.total, cost);
    if (stats.dhtSample.length < RESERVOIR) stats.dhtSample.push(cost.dhtMessages);
    else {
      const at = this.#rng.int(stats.count);
      if (at < RESERVOIR) stats.dhtSample[at] = cost.dhtMessages;
    }
  }

  /**
   * Runs `work` as one operation of kind `label`. Operations nest: what an inner one counts is its
   * own, and the outer one carries on counting after it.
   */
  async measure<T>(label: string, work: () => Promise<T>): Promise<T> {
    const outer = { label: this.#label, tally: this.#tally, current: this.#current };
    this.begin(label);
    try {
      return await work();
    } finally {
      this.end();
      this.#label = outer.label;
      this.#tally = outer.tally;
      this.#current = outer.current;
    }
  }

  /** `gateway` sent a request to DHT node `node` and got its reply: two datagrams, `bytes` in all. */
  request(gateway: number, node: number, bytes: number): void {
    const cost = this.#open();
    cost.dhtMessages += 2;
    cost.dhtBytes += bytes;
    if (this.recording) {
      this.nodeDht[this.#tally][node]! += 2;
      this.gatewayDht[this.#tally][gateway]! += 2;
    }
  }

  /** A G2G frame of `bytes` from gateway `from` to gateway `to`. */
  g2g(from: number, to: number, bytes: number): void {
    const cost = this.#open();
    cost.g2gMessages++;
    cost.g2gBytes += bytes;
    if (this.recording) {
      this.gatewayG2g[this.#tally][from]!++;
      this.gatewayG2g[this.#tally][to]!++;
    }
  }

  #open(): Cost {
    // Every message belongs to some operation: one counted outside any is a bug in the model.
    if (!this.#current) throw new Error('network traffic outside an operation');
    return this.#current;
  }

  #stats(label: string): OpStats {
    let stats = this.ops.get(label);
    if (!stats) {
      stats = { count: 0, total: zeroCost(), dhtSample: [] };
      this.ops.set(label, stats);
    }
    return stats;
  }
}

function add(into: Cost, cost: Cost): void {
  into.dhtMessages += cost.dhtMessages;
  into.dhtBytes += cost.dhtBytes;
  into.g2gMessages += cost.g2gMessages;
  into.g2gBytes += cost.g2gBytes;
}

/** The `p`th percentile (0-100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const mean = (values: ArrayLike<number>): number => {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return values.length === 0 ? 0 : sum / values.length;
};
