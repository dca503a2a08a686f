/**
 * Capability routing: the delay an extra, converting hop adds (issue 17). One AIM user on gateway A
 * (OSCAR, mock server) sends IMs to one Yahoo user on gateway D (YMSG, mock server), each waiting
 * for the last to arrive, through real SOCKS fronts and G2G over TCP on loopback, every gateway in
 * this process on one in-memory DHT. Direct: A and D both speak the JSON canonical form (A -> D).
 * Chain: A speaks only JSON, D only codec-xmpp's stanza form, and B converts (A -> B -> D). Prints
 * the two side by side and their ratio; with `--append FILE` also appends the section to FILE.
 *
 *   npx tsx --conditions=@crosstalk/source bench/extra-hop.ts [--samples 300] [--append docs/benchmarks.md]
 */
import { builtInCodecs, canonicalForm } from '@crosstalk/cli';
import { startOscarNetwork, startYmsgNetwork } from '@crosstalk/cli/drivers';
import { type Address, MemoryDht } from '@crosstalk/core';
import { createGateway, type Gateway, jsonForm } from '@crosstalk/gateway';
import { socksConnect } from '@crosstalk/gateway/testing';
import { machineLine, publish } from './lib/harness.js';

const at = process.argv.indexOf('--samples');
const SAMPLES = at > 0 ? Number(process.argv[at + 1]) : 300;
const WARMUP = 30;
const bobAddress: Address = { user: 'bob', network: 'aol' };
const carolAddress: Address = { user: 'carol', network: 'yahoo' };

interface Run {
  median: number;
  p95: number;
  mean: number;
  chain: string[];
}

async function run(converting: boolean): Promise<Run> {
  const dht = new MemoryDht();
  const aim = await startOscarNetwork([{ name: 'bob', password: 'bobpw' }]);
  const yahoo = await startYmsgNetwork([{ name: 'carol', password: 'carolpw' }]);
  const start = (codecs: ReturnType<typeof builtInCodecs>, canonical: (typeof jsonForm)[]) =>
    createGateway({ codecs, canonical, dht, socks: { port: 0 }, logger: false });
  const gateways: Gateway[] = [];
  const names = converting ? ['A', 'B', 'D'] : ['A', 'D'];
  const a = await start(builtInCodecs(), [jsonForm]);
  gateways.push(a);
  if (converting) gateways.push(await start([], [jsonForm, canonicalForm()]));
  const d = await start(builtInCodecs(), [converting ? canonicalForm() : jsonForm]);
  gateways.push(d);
  for (const g of gateways) await g.routing.refresh();
  const bob = aim.driver('bob', (host, port) => socksConnect(a.socks, host, port));
  const carol = yahoo.driver('carol', (host, port) => socksConnect(d.socks, host, port));
  try {
    await bob.login();
    await carol.login();
    await bob.addBuddy(carolAddress, 'bench');
    await carol.nextBuddyRequest(bobAddress, 30_000);
    await carol.answerBuddyRequest(bobAddress, true);
    await bob.nextBuddyResponse(carolAddress, 30_000);
    const route = a.routing.route('oscar', 'yahoo', { gateway: d.id });
    const chain = route
      ? route.steps.map((s) => `${s.from}>${s.to} at ${names[gateways.findIndex((g) => g.id === s.gateway)]}`)
      : ['no chain'];
    const delays: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const text = `bench ${i}`;
      const began = process.hrtime.bigint();
      await bob.sendIm(carolAddress, text);
      const got = await carol.nextIm(bobAddress, 30_000);
      const ms = Number(process.hrtime.bigint() - began) / 1e6;
      if (got !== text) throw new Error(`carol got ${JSON.stringify(got)}, not ${JSON.stringify(text)}`);
      if (i >= WARMUP) delays.push(ms);
    }
    delays.sort((x, y) => x - y);
    return {
      median: delays[Math.floor(delays.length / 2)]!,
      p95: delays[Math.floor(delays.length * 0.95)]!,
      mean: delays.reduce((s, v) => s + v, 0) / delays.length,
      chain,
    };
  } finally {
    await bob.disconnect().catch(() => {});
    await carol.disconnect().catch(() => {});
    for (const g of gateways) await g.close();
    await aim.stop();
    await yahoo.stop();
  }
}

const direct = await run(false);
const chained = await run(true);
const ms = (n: number) => `${n.toFixed(2)} ms`;
const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
publish(
  [
    '',
    '## Capability routing: the delay of an extra, converting hop',
    '',
    `${machineLine()}. \`npx tsx --conditions=@crosstalk/source bench/extra-hop.ts\`: an AIM user on`,
    'gateway A (mock OSCAR server) sends a Yahoo user on gateway D (mock YMSG server) IMs one at a time,',
    `each sent when the last arrived (${SAMPLES} after ${WARMUP} unmeasured), from the AIM client's send to`,
    "the Yahoo client's receipt: SOCKS fronts, G2G over TCP on loopback, all gateways in one process on",
    'an in-memory DHT. Direct: A and D both speak the JSON canonical form. Chain: A speaks only JSON,',
    "D only codec-xmpp's stanzas, and gateway B converts.",
    '',
    '| route | median | p95 | mean |',
    '|---|---:|---:|---:|',
    `| direct: ${direct.chain.join(', ')} | ${ms(direct.median)} | ${ms(direct.p95)} | ${ms(direct.mean)} |`,
    `| chain: ${chained.chain.join(', ')} | ${ms(chained.median)} | ${ms(chained.p95)} | ${ms(chained.mean)} |`,
    `| chain / direct | ${ratio(chained.median, direct.median)} | ${ratio(chained.p95, direct.p95)} | ${ratio(chained.mean, direct.mean)} |`,
    '',
  ].join('\n'),
);
