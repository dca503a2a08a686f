/**
 * Capability routing: the time to compose a route (routing/capability-view.ts `composeRoute`,
 * uncached, as a gateway does once per event kind and recipient gateway after each read of the
 * graph) over synthetic graphs of 10 to 10,000 capability records (issue 17's goal: under 1 ms at
 * 1,000), and the memoised lookup (`CapabilityView.route`) an event pays between reads. Prints a
 * markdown section; with `--append FILE` also appends it to FILE.
 *
 *   npx tsx --conditions=@crosstalk/source bench/capability-routing.ts [--append docs/benchmarks.md]
 */
import type { Feature } from '@crosstalk/core';
import { type CapabilityRecord, CapabilityView, composeRoute, type RouteQuery } from '@crosstalk/gateway';
import { fmt, machineLine, publish, sink } from './lib/harness.js';

const SIZES = [10, 100, 1000, 10_000];
const FEATURES: Feature[] = ['im', 'im.html', 'typing', 'presence', 'presence.text', 'buddy-request'];
const contact = { transport: 'tcp', host: '127.0.0.1', port: 1 };

/** A deterministic pseudo-random sequence (the same graph every run). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * About `n` records: gateways each with 1 to 3 of 20 protocols over 1 or 2 of 4 canonical forms
 * (both directions), a fifth of them converting between their forms; each feature kept with
 * probability 0.8.
 */
function graph(n: number): { records: CapabilityRecord[]; queries: RouteQuery[] } {
  const next = random(n);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const protocols = Array.from({ length: 20 }, (_, i) => `p${i}`);
  const forms = Array.from({ length: 4 }, (_, i) => `canonical:f${i}`);
  const records: CapabilityRecord[] = [];
  const gateways: { id: string; protocols: string[] }[] = [];
  for (let g = 0; records.length < n; g++) {
    const id = g.toString(16).padStart(64, '0');
    const mine = [...new Set(Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(protocols)))];
    const speaks = [...new Set(Array.from({ length: 1 + Math.floor(next() * 2) }, () => pick(forms)))];
    const keeps = () => FEATURES.filter((f) => f === 'im' || next() < 0.8);
    const record = (from: string, to: string, networks: string[] = []): CapabilityRecord => ({
      gateway: id,
      from,
      to,
      cost: 1 + Math.floor(next() * 3),
      preserves: keeps(),
      networks,
      contact,
      expiresAt: Number.POSITIVE_INFINITY,
    });
    for (const form of speaks)
      for (const p of mine) records.push(record(p, form), record(form, p, [`net-${p}`]));
    if (speaks.length === 2 && next() < 0.2)
      records.push(record(speaks[0]!, speaks[1]!), record(speaks[1]!, speaks[0]!));
    gateways.push({ id, protocols: mine });
  }
  const queries: RouteQuery[] = [];
  for (let i = 0; i < 200; i++) {
    const origin = pick(gateways);
    const target = pick(gateways);
    queries.push({
      from: origin.protocols[0]!,
      origin: origin.id,
      network: `net-${target.protocols[0]!}`,
      gateway: target.id,
      require: ['im'],
    });
  }
  return { records: records.slice(0, n), queries };
}

/** Median of per-call times, µs, over rounds of `calls` calls each lasting at least 200 ms in all. */
function time(calls: readonly (() => unknown)[]): { median: number; found: number } {
  const samples: number[] = [];
  let found = 0;
  const until = performance.now() + 1500;
  while (performance.now() < until || samples.length < 3) {
    const started = performance.now();
    for (const call of calls) if (call()) found++;
    samples.push(((performance.now() - started) * 1000) / calls.length);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)]!, found: found / samples.length };
}

const rows: string[] = [];
for (const n of SIZES) {
  const { records, queries } = graph(n);
  const compose = time(queries.map((q) => () => composeRoute(records, q)));
  const view = new CapabilityView({
    lookup: { capabilityIndex: async () => [], capabilities: async () => [] },
    cacheTtl: 60_000,
  });
  await view.refresh([], records);
  for (const q of queries) sink.value += view.route(q)?.steps.length ?? 0;
  const memo = time(queries.map((q) => () => view.route(q)));
  rows.push(
    `| ${fmt(records.length)} | ${compose.median.toFixed(1)} µs | ${memo.median.toFixed(2)} µs | ${Math.round((compose.found / queries.length) * 100)}% |`,
  );
}

publish(
  [
    '',
    '## Capability routing: composing a route',
    '',
    `${machineLine()}. \`npx tsx --conditions=@crosstalk/source bench/capability-routing.ts\`: synthetic`,
    'graphs (20 protocols, 4 canonical forms, gateways with 1 to 3 codecs over 1 or 2 forms, a fifth',
    'converting), 200 queries from a protocol at one gateway to a network at another, requiring `im`;',
    'median per call.',
    '',
    '| records | compose (uncached) | memoised route | queries with a route |',
    '|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n'),
);
