/**
 * Capability routing: the delay an extra, converting hop adds in the paper's matrix setup (issue 17),
 * every gateway in a process of its own. The process pieces are the paper bench's (bench/paper):
 * the mock servers' process and a real prosody, a 20-node hyperdht network in its own process, and
 * four gateway processes on it (the directory on hyperdht, G2G over its streams):
 *
 *   A   every codec, JSON only: the senders' gateway;
 *   Dj  every codec, JSON only: recipients reached directly (A -> Dj);
 *   B   no codec, JSON and codec-xmpp's stanzas: the converting hop;
 *   Ds  every codec, stanzas only: recipients reached through B (A -> B -> Ds).
 *
 * Per protocol pair p -> q of the matrix (p != q: a same-network IM goes through its own server and
 * crosses no G2G link), a user of p on A sends IMs to a user of q on Dj and to another on Ds, one at
 * a time, each sent when the last arrived; every round visits every pair and both routes, in an
 * order that alternates, so both routes see the same machine. This process is the load: it holds
 * the clients and times each IM from the send to the receipt.
 *
 *   npm run build && npx tsx bench/extra-hop-matrix.ts [--rounds 200] [--protocols oscar,ymsg,msnp,xmpp] [--append docs/benchmarks.md]
 */
import { loadavg } from 'node:os';
import type { UserDriver } from '@crosstalk/cli/drivers';
import { machineLine, publish } from './lib/harness.js';
import { bundleChildren, child } from './paper/children.js';
import { connectors } from './paper/connectors.js';
import { type Protocol, request, type ServerInfo } from './paper/ipc.js';
import { socksVia } from './paper/socks-dial.js';
import { ms, summarize } from './paper/stats.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 && argv[at + 1] ? argv[at + 1]! : fallback;
};
const ROUNDS = Number(arg('rounds', '200'));
const WARMUP = 10;
const protocols = arg('protocols', 'oscar,ymsg,msnp,xmpp').split(',') as Protocol[];
const command = `npx tsx bench/extra-hop-matrix.ts ${argv.join(' ')}`.trim();
/** The network a route query names for a protocol's users (XMPP users are on prosody's domain). */
const ROUTED_NETWORK: Record<Protocol, string> = { oscar: 'aol', ymsg: 'yahoo', msnp: 'msn', xmpp: 'xmpp' };

bundleChildren();
const loadAtStart = loadavg()[0]!;
const stops: (() => Promise<void>)[] = [];
try {
  const dhtProc = child('dht-process.ts');
  stops.push(
    async () => void (await request(dhtProc, { type: 'stop' }, 'stopped').catch(() => dhtProc.kill())),
  );
  const { bootstrap } = await request<{ bootstrap: { host: string; port: number }[] }>(
    dhtProc,
    { type: 'start', size: 20 },
    'started',
  );

  // Users 0, 1, 2 of each protocol: the sender on A, the recipient on Dj, the recipient on Ds.
  const serversProc = child('servers-process.ts');
  stops.push(
    async () =>
      void (await request(serversProc, { type: 'stop' }, 'stopped').catch(() => serversProc.kill())),
  );
  const { servers } = await request<{ servers: ServerInfo[] }>(
    serversProc,
    { type: 'start', protocols: protocols.filter((p) => p !== 'xmpp'), count: 3 },
    'started',
  );
  if (protocols.includes('xmpp')) {
    const { startBenchProsody } = await import('./paper/prosody.js');
    const prosody = await startBenchProsody(3);
    servers.push(prosody.info);
    stops.push(prosody.stop);
  }

  interface GatewayProc {
    name: string;
    id: string;
    socks: { host: string; port: number };
    proc: ReturnType<typeof child>;
  }
  const startGateway = async (name: string, forms: string[], codecs: boolean): Promise<GatewayProc> => {
    const proc = child('gateway-process.ts');
    stops.push(async () => void (await request(proc, { type: 'stop' }, 'stopped').catch(() => proc.kill())));
    const started = await request<{ socks: { host: string; port: number }[]; ids: string[] }>(
      proc,
      { type: 'start', count: 1, g2g: 'hyperdht', bootstrap, forms, codecs },
      'started',
    );
    return { name, id: started.ids[0]!, socks: started.socks[0]!, proc };
  };
  const a = await startGateway('A', ['json'], true);
  const dj = await startGateway('Dj', ['json'], true);
  const b = await startGateway('B', ['json', 'xmpp-stanza'], false);
  const ds = await startGateway('Ds', ['xmpp-stanza'], true);
  const gateways = [a, dj, b, ds];
  for (const g of gateways) await request(g.proc, { type: 'refresh' }, 'refreshed');

  const users = new Map<Protocol, { sender: UserDriver; direct: UserDriver; chain: UserDriver }>();
  for (const p of protocols) {
    const server = servers.find((s) => s.protocol === p)!;
    const user = (i: number, via: GatewayProc) =>
      connectors[p](
        { host: server.host, port: server.port, network: server.network },
        { name: server.users[i]!, password: server.passwords[i]! },
        socksVia(via.socks),
      );
    const set = { sender: user(0, a), direct: user(1, dj), chain: user(2, ds) };
    for (const u of Object.values(set)) await u.login();
    users.set(p, set);
  }
  stops.push(async () => {
    for (const set of users.values())
      for (const u of Object.values(set)) await u.logout().catch(() => u.disconnect());
  });

  const pairs = protocols.flatMap((p) => protocols.filter((q) => q !== p).map((q) => ({ from: p, to: q })));
  const name = (id: string) => gateways.find((g) => g.id === id)?.name ?? id.slice(0, 8);
  const chains = new Map<string, string>();
  for (const { from, to } of pairs)
    for (const [route, recipient] of [
      ['direct', dj],
      ['chain', ds],
    ] as const) {
      const { steps } = await request<{ steps: { from: string; to: string; gateway: string }[] }>(
        a.proc,
        { type: 'route', from, network: ROUTED_NETWORK[to], gateway: recipient.id },
        'route',
      );
      const hops = steps.map((s) => name(s.gateway)).filter((g, i, all) => i === 0 || all[i - 1] !== g);
      const expected = route === 'direct' ? 'A > Dj' : 'A > B > Ds';
      if (hops.join(' > ') !== expected)
        throw new Error(
          `${from} -> ${to} ${route}: the route is ${hops.join(' > ') || 'none'}, not ${expected}`,
        );
      chains.set(
        `${from}>${to} ${route}`,
        steps.map((s) => `${s.from}>${s.to} at ${name(s.gateway)}`).join(', '),
      );
    }

  const delays = new Map<string, number[]>(
    pairs.flatMap(({ from, to }) => [
      [`${from}>${to} direct`, []],
      [`${from}>${to} chain`, []],
    ]),
  );
  const started = Date.now();
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const order = round % 2 === 0 ? (['direct', 'chain'] as const) : (['chain', 'direct'] as const);
    for (const { from, to } of pairs)
      for (const route of order) {
        const sender = users.get(from)!.sender;
        const recipient = users.get(to)![route];
        const text = `hop ${round} ${from} ${to} ${route}`;
        const began = process.hrtime.bigint();
        const arrived = recipient.nextIm(sender.address, 30_000);
        await sender.sendIm(recipient.address, text);
        const got = await arrived;
        const took = Number(process.hrtime.bigint() - began) / 1e6;
        if (got !== text) throw new Error(`${to} got ${JSON.stringify(got)}, not ${JSON.stringify(text)}`);
        if (round >= WARMUP) delays.get(`${from}>${to} ${route}`)!.push(took);
      }
    if ((round + 1) % 50 === 0)
      process.stderr.write(
        `  round ${round + 1} of ${WARMUP + ROUNDS}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
  }

  const p95 = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y);
    return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
  };
  const row = (label: string, direct: number[], chain: number[]) => {
    const d = summarize(direct);
    const c = summarize(chain);
    return `| ${label} | ${ms(d.p50)} | ${ms(c.p50)} | ${ms(c.p50 - d.p50)} | ${(c.p50 / d.p50).toFixed(2)}x | ${ms(p95(direct))} | ${ms(p95(chain))} | ${(p95(chain) / p95(direct)).toFixed(2)}x |`;
  };
  const all = (route: string) => [...delays].filter(([k]) => k.endsWith(route)).flatMap(([, v]) => v);
  const example = pairs[0]!;
  publish(
    [
      '',
      '## Capability routing: the delay of an extra, converting hop, across processes (matrix)',
      '',
      `${machineLine('all shared by every process')} (the load average at the end; ${loadAtStart.toFixed(2)} at the start).`,
      `\`${command}\`. Every gateway in a process of its own`,
      "(bench/paper's gateway-process.ts), on a 20-node hyperdht network in another (the directory on it,",
      'G2G over its streams), the mock servers in another and prosody for XMPP; this process holds the',
      'clients. Per protocol pair, a user on gateway A (JSON only) sends IMs one at a time, each when the',
      'last arrived, to a user on Dj (JSON only: A -> Dj) and to one on Ds (stanzas only: A -> B -> Ds, B',
      `converting); ${ROUNDS} rounds after ${WARMUP} unmeasured, each visiting every pair and both routes,`,
      'in alternating order. From the send to the receipt, in ms. Routes, e.g.',
      `${example.from} -> ${example.to}: ${chains.get(`${example.from}>${example.to} direct`)} (direct);`,
      `${chains.get(`${example.from}>${example.to} chain`)} (chain).`,
      '',
      '| pair | direct p50 | chain p50 | added | ratio | direct p95 | chain p95 | ratio |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...pairs.map(({ from, to }) =>
        row(`${from} -> ${to}`, delays.get(`${from}>${to} direct`)!, delays.get(`${from}>${to} chain`)!),
      ),
      row('all pairs', all(' direct'), all(' chain')),
      '',
    ].join('\n'),
  );
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
process.exit(0);
