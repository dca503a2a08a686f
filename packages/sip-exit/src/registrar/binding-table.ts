import type { SipDestination } from '../transaction/context.js';

/** One contact registered for an AOR (RFC 3261 §10.3). */
export interface Binding {
  /** The contact URI, as registered. */
  uri: string;
  /** When it lapses, ms since the epoch. */
  expiresAt: number;
  /** The Call-ID of the REGISTER that made it (RFC 3261 §10.3 step 7 orders refreshes by it). */
  callId: string;
  /** That REGISTER's CSeq number. */
  cseq: number;
  /** Where the REGISTER came from (a TCP connection is reused for requests to the phone). */
  source: SipDestination;
  /** When it was last refreshed, ms since the epoch. */
  updatedAt: number;
}

/** Options of a `BindingTable`. */
export interface BindingTableOptions {
  /** The clock. */
  now?: () => number;
  /** Most AORs with bindings (default 100,000). */
  maxAors?: number;
  /** Most contacts per AOR (default 8). */
  maxBindingsPerAor?: number;
}

/** The registrar's memory: AOR -> contacts, each with its own expiry. */
export class BindingTable {
  readonly #bindings = new Map<string, Binding[]>();
  readonly #now: () => number;
  /** Most AORs with bindings. */
  readonly maxAors: number;
  /** Most contacts per AOR. */
  readonly maxBindingsPerAor: number;

  constructor(options: BindingTableOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.maxAors = options.maxAors ?? 100_000;
    this.maxBindingsPerAor = options.maxBindingsPerAor ?? 8;
  }

  /** AORs with bindings (some may have just lapsed). */
  get size(): number {
    return this.#bindings.size;
  }

  /** The live bindings of `aor`, most recently refreshed first. */
  get(aor: string): Binding[] {
    const now = this.#now();
    // Lapsed bindings stay until `sweep`, which reports the AORs left with none.
    const live = (this.#bindings.get(aor) ?? []).filter((b) => b.expiresAt > now);
    return live.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** Replaces the bindings of `aor` (none: forgets it). */
  set(aor: string, bindings: Binding[]): void {
    if (bindings.length === 0) this.#bindings.delete(aor);
    else this.#bindings.set(aor, bindings);
  }

  /** True when a new AOR may be added. */
  get hasRoom(): boolean {
    return this.#bindings.size < this.maxAors;
  }

  /** Forgets lapsed bindings; returns the AORs left with none. */
  sweep(): string[] {
    const now = this.#now();
    const gone: string[] = [];
    for (const [aor, bindings] of this.#bindings) {
      const live = bindings.filter((b) => b.expiresAt > now);
      if (live.length === 0) {
        this.#bindings.delete(aor);
        gone.push(aor);
      } else if (live.length !== bindings.length) this.#bindings.set(aor, live);
    }
    return gone;
  }

  /** Every AOR with live bindings. */
  aors(): string[] {
    return [...this.#bindings.keys()].filter((aor) => this.get(aor).length > 0);
  }
}
