import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Capability,
  CapabilityGraph,
  defineCodec,
  type Feature,
  isCrossTalkError,
} from '../src/index.js';

const FORMATS = ['oscar', 'ymsg', 'msnp', 'xmpp', 'canonical', 'sip'];
const FEATS: Feature[] = ['im', 'im.html', 'typing', 'presence', 'roster'];

const arbCapability = fc.record({
  from: fc.constantFrom(...FORMATS),
  to: fc.constantFrom(...FORMATS),
  cost: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(1)),
  preserves: fc.subarray(FEATS),
  remote: fc.boolean(),
});

const arbGraph = fc.array(arbCapability, { maxLength: 14 }).map((caps) =>
  caps
    .filter((c) => c.from !== c.to)
    .map(
      (c, i): Capability => ({
        id: `c${String(i).padStart(2, '0')}`,
        from: c.from,
        to: c.to,
        cost: c.cost,
        preserves: c.preserves,
        provider: c.remote ? { kind: 'remote', gateway: `gw${i % 3}` } : { kind: 'local', codec: c.from },
      }),
    ),
);

/** Every simple path from -> to, by brute force. */
function allChains(caps: Capability[], from: string, to: string): Capability[][] {
  const out: Capability[][] = [];
  const walk = (at: string, seen: Set<string>, path: Capability[]) => {
    if (at === to && path.length > 0) {
      out.push(path);
      return;
    }
    for (const c of caps) {
      if (c.from !== at || seen.has(c.to)) continue;
      walk(c.to, new Set([...seen, c.to]), [...path, c]);
    }
  };
  walk(from, new Set([from]), []);
  return out;
}

const keeps = (chain: Capability[], required: Feature[]) =>
  chain.every((c) => required.every((f) => c.preserves.includes(f)));
const cost = (chain: readonly Capability[]) => chain.reduce((s, c) => s + c.cost, 0);

describe('capability graph', () => {
  it('finds the cheapest chain, never loops, keeps the required features (property)', () => {
    fc.assert(
      fc.property(
        arbGraph,
        fc.constantFrom(...FORMATS),
        fc.constantFrom(...FORMATS),
        fc.subarray(FEATS, { maxLength: 2 }),
        (caps, from, to, required) => {
          fc.pre(from !== to);
          const graph = new CapabilityGraph();
          for (const c of caps) graph.add(c);
          const chain = graph.compose(from, to, { require: required });
          const valid = allChains(caps, from, to).filter((p) => keeps(p, required));
          if (valid.length === 0) {
            expect(chain).toBeUndefined();
            return;
          }
          expect(chain).toBeDefined();
          const steps = chain!.steps;
          // never costlier than any other valid chain
          for (const other of valid) expect(chain!.cost).toBeLessThanOrEqual(cost(other));
          expect(chain!.cost).toBe(cost(steps));
          // a connected chain from -> to that never revisits a format
          expect(steps[0]!.from).toBe(from);
          expect(steps.at(-1)!.to).toBe(to);
          for (let i = 1; i < steps.length; i++) expect(steps[i]!.from).toBe(steps[i - 1]!.to);
          const visited = [from, ...steps.map((s) => s.to)];
          expect(new Set(visited).size).toBe(visited.length);
          // keeps the required features, and preserves = intersection, loses = the rest
          for (const f of required) expect(chain!.preserves).toContain(f);
          for (const f of chain!.preserves) for (const s of steps) expect(s.preserves).toContain(f);
          for (const f of chain!.loses) expect(chain!.preserves).not.toContain(f);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is deterministic on ties whatever the insertion order (property)', () => {
    fc.assert(
      fc.property(arbGraph, fc.constantFrom(...FORMATS), fc.constantFrom(...FORMATS), (caps, from, to) => {
        fc.pre(from !== to);
        const forward = new CapabilityGraph();
        const backward = new CapabilityGraph();
        for (const c of caps) forward.add(c);
        for (const c of [...caps].reverse()) backward.add(c);
        const a = forward.compose(from, to)?.steps.map((s) => s.id);
        const b = backward.compose(from, to)?.steps.map((s) => s.id);
        expect(a).toEqual(b);
      }),
      { numRuns: 300 },
    );
  });

  it('prefers fewer hops, then lower ids, at equal cost', () => {
    const g = new CapabilityGraph()
      .add({
        id: 'b',
        from: 'oscar',
        to: 'canonical',
        cost: 1,
        preserves: ['im'],
        provider: { kind: 'local', codec: 'oscar' },
      })
      .add({
        id: 'a',
        from: 'oscar',
        to: 'canonical',
        cost: 1,
        preserves: ['im'],
        provider: { kind: 'remote', gateway: 'g' },
      })
      .add({
        id: 'c',
        from: 'canonical',
        to: 'ymsg',
        cost: 1,
        preserves: ['im'],
        provider: { kind: 'local', codec: 'ymsg' },
      })
      .add({
        id: 'd',
        from: 'oscar',
        to: 'ymsg',
        cost: 2,
        preserves: ['im'],
        provider: { kind: 'remote', gateway: 'h' },
      });
    expect(g.compose('oscar', 'ymsg')!.steps.map((s) => s.id)).toEqual(['d']);
    expect(g.compose('oscar', 'canonical')!.steps.map((s) => s.id)).toEqual(['a']);
  });

  it('names what a chain loses relative to the source format', () => {
    const g = new CapabilityGraph()
      .setFormat('xmpp', ['im', 'im.html', 'typing', 'presence'])
      .add({
        id: 'x2c',
        from: 'xmpp',
        to: 'canonical',
        cost: 1,
        preserves: ['im', 'im.html', 'typing', 'presence'],
        provider: { kind: 'local', codec: 'xmpp' },
      })
      .add({
        id: 'c2y',
        from: 'canonical',
        to: 'ymsg',
        cost: 1,
        preserves: ['im', 'typing', 'presence'],
        provider: { kind: 'local', codec: 'ymsg' },
      });
    const chain = g.composeOrThrow('xmpp', 'ymsg', { require: ['im'] });
    expect(chain.loses).toEqual(['im.html']);
    expect(() => g.composeOrThrow('xmpp', 'ymsg', { require: ['im.html'] })).toThrow(/keeps im.html/);
    try {
      g.composeOrThrow('ymsg', 'xmpp');
    } catch (error) {
      expect(isCrossTalkError(error, 'ERR_NO_TRANSLATION_PATH')).toBe(true);
    }
  });

  it('removes capabilities one by one and by provider', () => {
    const g = new CapabilityGraph()
      .add({
        id: '1',
        from: 'a',
        to: 'b',
        cost: 1,
        preserves: [],
        provider: { kind: 'remote', gateway: 'gw1' },
      })
      .add({
        id: '2',
        from: 'b',
        to: 'c',
        cost: 1,
        preserves: [],
        provider: { kind: 'remote', gateway: 'gw1' },
      })
      .add({ id: '3', from: 'a', to: 'c', cost: 5, preserves: [], provider: { kind: 'local', codec: 'x' } });
    expect(g.compose('a', 'c')!.cost).toBe(2);
    expect(g.removeProvider({ kind: 'remote', gateway: 'gw1' })).toBe(2);
    expect(g.compose('a', 'c')!.cost).toBe(5);
    expect(g.remove('3')).toBe(true);
    expect(g.compose('a', 'c')).toBeUndefined();
  });

  it('rejects bad capabilities with typed errors', () => {
    const g = new CapabilityGraph();
    const base = {
      id: 'x',
      from: 'a',
      to: 'b',
      cost: 1,
      preserves: [],
      provider: { kind: 'local', codec: 'a' },
    } as const;
    expect(() => g.add({ ...base, cost: -1 })).toThrow(/non-negative/);
    expect(() => g.add({ ...base, cost: Number.NaN })).toThrow(/finite/);
    expect(() => g.add({ ...base, to: 'a' })).toThrow(/loops/);
    g.add(base);
    expect(() => g.add(base)).toThrow(/already/);
  });
});

describe('formats from codecs', () => {
  const codec = (protocol: string, features: Feature[]) =>
    defineCodec({
      protocol,
      networks: [protocol],
      features: new Set(features),
      sniff: () => 'no',
      createFramer: () => {
        throw new Error('unused');
      },
      frames: {
        decode: (raw) => raw,
        encode: (f) => f as Uint8Array,
        toJson: (f) => f,
        fromJson: (j) => j as Uint8Array,
      },
      createTranslator: () => {
        throw new Error('unused');
      },
      openSession: () => {
        throw new Error('unused');
      },
    });

  it('a codec declares its format: a chain loses only features its source has and the target lacks', () => {
    const oscar = codec('oscar', ['im', 'im.html', 'typing', 'presence']);
    const ymsg = codec('ymsg', ['im', 'typing', 'presence', 'presence.text', 'presence.invisible']);
    const g = new CapabilityGraph().addCodec(oscar).addCodec(ymsg);
    expect(g.composeOrThrow('oscar', 'ymsg').loses).toEqual(['im.html']);
    expect(g.composeOrThrow('ymsg', 'oscar').loses).toEqual(['presence.invisible', 'presence.text']);
  });

  it('without a declared format, a chain loses nothing its first hop did not carry out of the source', () => {
    const g = new CapabilityGraph()
      .add({
        id: 'a',
        from: 'x',
        to: 'canonical',
        cost: 1,
        preserves: ['im'],
        provider: { kind: 'remote', gateway: 'g' },
      })
      .add({
        id: 'b',
        from: 'canonical',
        to: 'y',
        cost: 1,
        preserves: ['im', 'presence.text'],
        provider: { kind: 'remote', gateway: 'g' },
      });
    expect(g.composeOrThrow('x', 'y').loses).toEqual([]);
  });
});
