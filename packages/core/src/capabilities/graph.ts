import type { Codec } from '../codec/contract.js';
import { InvalidCapabilityError, NoTranslationPathError } from '../errors/errors.js';
import type { Feature } from '../model/features.js';

/**
 * The capability graph (docs/DESIGN.md "Capability graph"): vertices are formats (`oscar`, `canonical`, `exit:sip`),
 * edges are capabilities, provided by a local codec or by a gateway advertised in the DHT
 * under `cap:<from>><to>`. `compose` finds the cheapest loop-free chain that keeps what is required.
 */
export type CapabilityProvider = { kind: 'local'; codec: string } | { kind: 'remote'; gateway: string };

/**
 * One edge of the capability graph: a translation from one format to another, its cost, what it preserves and
 * who provides it.
 */
export interface Capability {
  /** Unique id; also the final tie-breaker, so composition is deterministic. */
  id: string;
  /** The format it translates from. */
  from: string;
  /** The format it translates to. */
  to: string;
  /** Non-negative, finite. */
  cost: number;
  /** Features this hop carries across unchanged. */
  preserves: readonly Feature[];
  /** Who offers it: a codec on this gateway, or another gateway. */
  provider: CapabilityProvider;
}

/** What `CapabilityGraph.compose` must keep. */
export interface ComposeOptions {
  /** Features every hop of the chain must preserve. */
  require?: readonly Feature[];
}

/** A chain of capabilities from one format to another, as `compose` found it. */
export interface Chain {
  /** The format the chain starts at. */
  from: string;
  /** The format the chain ends at. */
  to: string;
  /** The capabilities, in order. */
  steps: readonly Capability[];
  /** The sum of the steps' costs. */
  cost: number;
  /** Features every step preserves. */
  preserves: readonly Feature[];
  /** Features the source format has that the chain does not carry through. */
  loses: readonly Feature[];
}

/** DHT key under which gateways advertise a capability. */
export function capabilityKey(from: string, to: string): string {
  return `cap:${from}>${to}`;
}

interface Label {
  cost: number;
  hops: number;
  /** Capability ids joined, for lexicographic tie-breaking. */
  trail: string;
  steps: Capability[];
}

function better(a: Label, b: Label): boolean {
  if (a.cost !== b.cost) return a.cost < b.cost;
  if (a.hops !== b.hops) return a.hops < b.hops;
  return a.trail < b.trail;
}

/**
 * Formats and the capabilities between them; `compose` finds the cheapest loop-free chain that keeps what is
 * required.
 */
export class CapabilityGraph {
  readonly #caps = new Map<string, Capability>();
  readonly #formats = new Map<string, ReadonlySet<Feature>>();

  /** Declares which features a format itself has, so `compose` can say what a chain loses. */
  setFormat(format: string, features: readonly Feature[]): this {
    this.#formats.set(format, new Set(features));
    return this;
  }

  /**
   * A local codec: its protocol becomes a format with the codec's declared features, and its two
   * edges (`protocol>canonical`, `canonical>protocol`) preserve exactly those features.
   */
  addCodec(
    codec: Pick<Codec, 'protocol' | 'features'>,
    options: { cost?: number; canonical?: string } = {},
  ): this {
    const features = [...codec.features];
    const canonical = options.canonical ?? 'canonical';
    const provider = { kind: 'local', codec: codec.protocol } as const;
    const cost = options.cost ?? 1;
    this.setFormat(codec.protocol, features);
    this.add({
      id: `local:${codec.protocol}>${canonical}`,
      from: codec.protocol,
      to: canonical,
      cost,
      preserves: features,
      provider,
    });
    this.add({
      id: `local:${canonical}>${codec.protocol}`,
      from: canonical,
      to: codec.protocol,
      cost,
      preserves: features,
      provider,
    });
    return this;
  }

  /** Adds a capability; throws `InvalidCapabilityError` for one the graph cannot take. */
  add(capability: Capability): this {
    const { id, from, to, cost } = capability;
    if (!id) throw new InvalidCapabilityError('a capability needs an id');
    if (!from || !to) throw new InvalidCapabilityError(`capability ${id} needs from and to formats`);
    if (from === to) throw new InvalidCapabilityError(`capability ${id} loops from ${from} to itself`);
    if (!Number.isFinite(cost) || cost < 0) {
      throw new InvalidCapabilityError(
        `capability ${id} has cost ${cost}; costs are finite and non-negative`,
      );
    }
    if (this.#caps.has(id)) throw new InvalidCapabilityError(`capability ${id} is already in the graph`);
    this.#caps.set(id, Object.freeze({ ...capability, preserves: [...capability.preserves] }));
    return this;
  }

  /** Removes one capability; returns whether it was there. */
  remove(id: string): boolean {
    return this.#caps.delete(id);
  }

  /** Removes every capability a provider offered (a gateway that went away, a codec unloaded). */
  removeProvider(provider: CapabilityProvider): number {
    let removed = 0;
    for (const [id, cap] of this.#caps) {
      const p = cap.provider;
      const same =
        p.kind === provider.kind &&
        (p.kind === 'local'
          ? p.codec === (provider as typeof p).codec
          : p.gateway === (provider as typeof p).gateway);
      if (same) {
        this.#caps.delete(id);
        removed++;
      }
    }
    return removed;
  }

  /** Every capability, in the order they were added. */
  list(): Capability[] {
    return [...this.#caps.values()];
  }

  /**
   * The cheapest loop-free chain from `from` to `to` whose every hop preserves `require`.
   * Ties break on fewer hops, then on the capability ids in order. Returns undefined when none
   * exists; `composeOrThrow` throws `NoTranslationPathError` instead.
   */
  compose(from: string, to: string, options: ComposeOptions = {}): Chain | undefined {
    const required = options.require ?? [];
    // A chain keeps a feature only if every hop does, so hops lacking a required feature are out.
    const usable = [...this.#caps.values()].filter((c) => required.every((f) => c.preserves.includes(f)));
    const outgoing = new Map<string, Capability[]>();
    for (const c of usable) {
      const list = outgoing.get(c.from) ?? [];
      list.push(c);
      outgoing.set(c.from, list);
    }
    // Dijkstra over formats with lexicographic labels; non-negative costs keep paths simple,
    // and the visited check below rules out revisiting a format on the chosen trail.
    const best = new Map<string, Label>([[from, { cost: 0, hops: 0, trail: '', steps: [] }]]);
    const done = new Set<string>();
    for (;;) {
      let current: string | undefined;
      let label: Label | undefined;
      for (const [format, l] of best) {
        if (done.has(format)) continue;
        if (!label || better(l, label)) {
          current = format;
          label = l;
        }
      }
      if (current === undefined || label === undefined) return undefined;
      if (current === to) return this.#chain(from, to, label.steps, label.cost);
      done.add(current);
      const visited = new Set([from, ...label.steps.map((s) => s.to)]);
      for (const cap of outgoing.get(current) ?? []) {
        if (visited.has(cap.to) || done.has(cap.to)) continue;
        const next: Label = {
          cost: label.cost + cap.cost,
          hops: label.hops + 1,
          trail: label.trail + '\u0000' + cap.id,
          steps: [...label.steps, cap],
        };
        const known = best.get(cap.to);
        if (!known || better(next, known)) best.set(cap.to, next);
      }
    }
  }

  composeOrThrow(from: string, to: string, options: ComposeOptions = {}): Chain {
    const chain = this.compose(from, to, options);
    if (!chain) throw new NoTranslationPathError(from, to, options.require ?? []);
    return chain;
  }

  #chain(from: string, to: string, steps: Capability[], cost: number): Chain {
    let kept: Set<Feature> | undefined;
    for (const step of steps) {
      kept = kept ? new Set(step.preserves.filter((f) => kept!.has(f))) : new Set(step.preserves);
    }
    const preserves = [...(kept ?? this.#formats.get(from) ?? [])].sort();
    // Without a declared format, the source has at most what its first hop carries out of it.
    const source = this.#formats.get(from) ?? new Set(steps[0]?.preserves ?? []);
    const loses = [...source].filter((f) => !(kept ?? source).has(f)).sort();
    return { from, to, steps, cost, preserves, loses };
  }
}
