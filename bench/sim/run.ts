/**
 * The model of internet scale (issue 20): a discrete-event simulation of CrossTalk gateways whose
 * directory is the real `Directory` over a modelled hyperdht, for today's design and the improvements
 * in gateway-model.ts, at a nominal 1,000,000 users over 1,000 gateways. Prints a markdown section;
 * `--append FILE` also appends it to FILE (docs/benchmarks.md).
 *
 *   npm run bench:sim -- [--quick] [--users-per-gateway 30] [--window 600] [--gateways 1000]
 *                        [--dht-nodes 1000] [--locality 0.5] [--designs today,...] [--slots before,with]
 *                        [--calibrate 50,200] [--rounds 20] [--seed 1] [--append docs/benchmarks.md]
 *
 * `--slots`: each design on the DHT before slots (the Directory puts a new record and removes the
 * old one), with them (re-signed in place, as HyperDhtStore does now), or both side by side (default).
 *
 * Virtual time: nothing waits for a clock and no socket is opened, except with `--calibrate`, which
 * also runs the same directory operations on real hyperdht testnets of the given sizes and sets the
 * datagrams counted there beside the model's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, machineLine, publish } from '../lib/harness.js';
import { type CalibrationRow, calibrate } from './calibrate.js';
import { beforeSlots, DESIGNS, type Design } from './gateway-model.js';
import { type OpStats, percentile } from './meter.js';
import {
  buildShared,
  DEFAULT_PARAMS,
  type DesignResult,
  PER_GATEWAY,
  type SimParams,
  simulate,
} from './simulation.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
};
const num = (name: string, fallback: number) => {
  const value = arg(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} wants a positive number, got ${value}`);
  return n;
};

const quick = flag('quick');
const params: SimParams = {
  ...DEFAULT_PARAMS,
  usersPerGateway: num('users-per-gateway', quick ? 10 : 30),
  windowSeconds: num('window', quick ? 120 : 600),
  gateways: num('gateways', DEFAULT_PARAMS.gateways),
  dhtNodes: num('dht-nodes', DEFAULT_PARAMS.dhtNodes),
  nominalUsers: num('users', DEFAULT_PARAMS.nominalUsers),
  seed: num('seed', DEFAULT_PARAMS.seed),
  locality: arg('locality') === undefined ? DEFAULT_PARAMS.locality : Number(arg('locality')),
};
const wanted = arg('designs')?.split(',');
const modes = (arg('slots') ?? 'before,with').split(',');
for (const m of modes)
  if (m !== 'before' && m !== 'with') throw new Error(`--slots wants before, with or both, got ${m}`);
const designs: Design[] = (wanted ? DESIGNS.filter((d) => wanted.includes(d.name)) : DESIGNS).flatMap((d) =>
  modes.map((m) => (m === 'with' ? d : beforeSlots(d))),
);
const calibrationSizes = arg('calibrate')?.split(',').map(Number) ?? [];
const rounds = num('rounds', 20);

const progress = (line: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\u001b[K`);
  else if (/: \d*[05] of/.test(line)) process.stderr.write(`${line}\n`);
};

const shared = buildShared(params);
const results: DesignResult[] = [];
for (const design of designs) {
  results.push(await simulate(params, design, shared, progress));
  if (process.stderr.isTTY) process.stderr.write('\n');
}
const calibrations: { size: number; rows: CalibrationRow[] }[] = [];
for (const size of calibrationSizes) {
  process.stderr.write(`calibration: hyperdht testnet of ${size} nodes, ${rounds} rounds\n`);
  calibrations.push({ size, rows: await calibrate(size, rounds, params.seed) });
}

// ------------------------------------------------------------ the report

function op(r: DesignResult, name: string): OpStats | undefined {
  return r.ops.get(name);
}

/** Mean of one kind of operation's DHT messages (or another field), 0 when none ran. */
function per(
  r: DesignResult,
  name: string,
  field: 'dhtMessages' | 'dhtBytes' | 'g2gMessages' | 'g2gBytes',
): number {
  const s = op(r, name);
  return s && s.count > 0 ? s.total[field] / s.count : 0;
}

function p99(r: DesignResult, name: string): number {
  return percentile(op(r, name)?.dhtSample ?? [], 99);
}

/** An operation's DHT messages in the window, scaled to the nominal population (the gateway's own upkeep is not). */
function nominal(r: DesignResult, name: string): number {
  const s = op(r, name);
  if (!s) return 0;
  return PER_GATEWAY.includes(name) ? s.total.dhtMessages : s.total.dhtMessages * r.scale;
}

/** All the DHT messages of a run's window, at the nominal population. */
function allDht(r: DesignResult): number {
  let sum = 0;
  for (const name of r.ops.keys()) sum += nominal(r, name);
  return sum;
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const f2 = (n: number) => n.toFixed(2);

function report(): string {
  const p = params;
  const users = p.gateways * p.usersPerGateway;
  const lines: string[] = [''];
  lines.push(`## The model of internet scale (${new Date().toISOString().slice(0, 10)})`, '');
  lines.push(`- ${machineLine('one used')}`);
  lines.push(
    `- command: \`npm run bench:sim -- ${argv.filter((a) => a !== '--append' && !a.endsWith('.md')).join(' ')}\``,
  );
  lines.push(
    `- model: ${p.nominalUsers.toLocaleString('en')} users over ${p.gateways} gateways and ${p.dhtNodes} DHT nodes; ` +
      `${users.toLocaleString('en')} users simulated (${p.usersPerGateway} per gateway, each standing for ` +
      `${fmt(p.nominalUsers / users)}), buddy lists of mean ${fmt(shared.population.meanListSize)} (lognormal, at most ` +
      `${p.maxBuddies}), ${fmt(100 * p.locality)}% of each list within the user's cluster of ${p.clusterGateways} gateways, ` +
      `${(100 * p.onlineShare).toFixed(2)}% of users online, sessions of ${p.sessionMinutes} min, ` +
      `${p.presencePerHour} presence changes and ${p.conversationsPerHour.toFixed(2)} conversations started per online hour, ` +
      `${p.messagesPerConversation} IMs per conversation; ${p.windowSeconds / 60} virtual minutes measured after ` +
      `${(p.warmupSeconds + p.settleSeconds) / 60} of warm-up; seed ${p.seed}`,
  );
  lines.push(
    `- run time: ${results.map((r) => `${r.design.name} ${fmt(r.seconds)} s`).join(', ')}; ` +
      `assumptions and sources: "The model of internet scale: assumptions" below`,
    '',
  );

  lines.push(
    'Per operation (DHT messages: datagrams, requests and replies, sent and received by all hosts; G2G: frames):',
    '',
  );
  lines.push(
    '| design | login: DHT messages mean / p99 | login: DHT KiB | presence change: DHT messages | KiB | IM: DHT messages | KiB | logout: DHT messages | G2G frames per login / presence change / IM |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const publishMean = per(r, 'login: publish', 'dhtMessages');
    const login = publishMean + per(r, 'login: buddies', 'dhtMessages');
    const loginBytes = per(r, 'login: publish', 'dhtBytes') + per(r, 'login: buddies', 'dhtBytes');
    const g2gLogin = per(r, 'login: publish', 'g2gMessages') + per(r, 'login: buddies', 'g2gMessages');
    lines.push(
      `| ${r.design.name} | ${fmt(login)} / ${fmt(publishMean + p99(r, 'login: buddies'))} | ${kib(loginBytes)} | ` +
        `${fmt(per(r, 'presence', 'dhtMessages'))} | ${kib(per(r, 'presence', 'dhtBytes'))} | ` +
        `${fmt(per(r, 'im', 'dhtMessages'))} | ${kib(per(r, 'im', 'dhtBytes'))} | ${fmt(per(r, 'logout', 'dhtMessages'))} | ` +
        `${fmt(g2gLogin)} / ${fmt(per(r, 'presence', 'g2gMessages'))} / ${fmt(per(r, 'im', 'g2gMessages'))} |`,
    );
  }
  lines.push('');

  lines.push(
    `Load, scaled to ${p.nominalUsers.toLocaleString('en')} users (per second; a gateway counts the DHT datagrams it sends and receives, a DHT node those it receives and answers):`,
    '',
  );
  lines.push(
    '| design | DHT messages per online user-hour | of which upkeep (refresh, held-request polls, watches, store, hard state) | per gateway: DHT msg/s mean / p99 | G2G frames/s mean / p99 | per DHT node: msg/s mean / p99 / max | G2G links |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  const upkeep = ['refresh', 'held poll', 'watch', 'store refresh', 'hard state', 'keepalive'];
  for (const r of results) {
    const userHours = r.onlineHours;
    const upkeepSum = upkeep.reduce((sum, name) => sum + (op(r, name)?.total.dhtMessages ?? 0), 0);
    lines.push(
      `| ${r.design.name} | ${fmt(allDht(r) / r.scale / userHours)} | ${fmt(upkeepSum / userHours)} | ` +
        `${fmt(r.gatewayDht.mean)} / ${fmt(r.gatewayDht.p99)} | ${fmt(r.gatewayG2g.mean)} / ${fmt(r.gatewayG2g.p99)} | ` +
        `${fmt(r.nodeDht.mean)} / ${fmt(r.nodeDht.p99)} / ${fmt(r.nodeDht.max)} | ${r.links.toLocaleString('en')} |`,
    );
  }
  lines.push('');

  // Where the first design's messages go, in each of its runs (before slots, with them) side by side.
  const base = (d: Design) => d.name.replace(/, before slots$/, '');
  const first = results.filter((r) => results[0] && base(r.design) === base(results[0].design));
  if (first.length > 0) {
    const names = [...new Set(first.flatMap((r) => [...r.ops.keys()]))];
    const lead = first[first.length - 1]!;
    names.sort((a, b) => nominal(lead, b) - nominal(lead, a));
    lines.push(
      `Where ${first.map((r) => r.design.name).join(' and ')}'s DHT messages go (per operation, and its share of all at ${p.nominalUsers.toLocaleString('en')} users):`,
      '',
    );
    lines.push(
      `| operation | ${first.map((r) => `${r.design.name}: runs in the window | DHT messages each (mean / p99) | KiB each | share`).join(' | ')} |`,
    );
    lines.push(`|---|${first.map(() => '---:|---:|---:|---:|').join('')}`);
    for (const name of names) {
      const cells = first.map((r) => {
        const s = op(r, name);
        if (!s || s.count === 0 || (s.total.dhtMessages === 0 && s.total.g2gMessages === 0)) return '| | | ';
        return (
          `${s.count.toLocaleString('en')} | ${fmt(s.total.dhtMessages / s.count)} / ${fmt(p99(r, name))} | ` +
          `${kib(s.total.dhtBytes / s.count)} | ${((100 * nominal(r, name)) / allDht(r)).toFixed(1)}%`
        );
      });
      if (cells.every((c) => c === '| | | ')) continue;
      lines.push(`| ${name} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }

  const n = p.gateways;
  const b = shared.population.meanListSize;
  lines.push(
    `Buddy-list search at login, beside the published costs (n = ${n} servers, b = ${fmt(b)} buddies on average):`,
    '',
  );
  lines.push('| | messages per login |');
  lines.push('|---|---:|');
  for (const r of results) {
    lines.push(
      `| ${r.design.name}: DHT datagrams of finding buddies, telling them and reading their presence (\`login: buddies\`) | ${fmt(per(r, 'login: buddies', 'dhtMessages'))} |`,
    );
    lines.push(
      `| ${r.design.name}: G2G frames of the same | ${fmt(per(r, 'login: buddies', 'g2gMessages'))} |`,
    );
  }
  lines.push(
    `| PresenceCloud: a quorum of about √n servers (2√n − 1 in a √n × √n grid) | ${fmt(Math.sqrt(n))} to ${fmt(2 * Math.sqrt(n) - 1)} |`,
  );
  lines.push(`| a plain DHT: a lookup of log₂ n hops per buddy, b · log₂ n | ${fmt(b * Math.log2(n))} |`);
  lines.push('');

  if (calibrations.length > 0) {
    lines.push(
      'The model checked against real hyperdht testnets (the same directory operations by the real `Directory`: over HyperDhtStore with every datagram counted, and over the model of as many nodes):',
      '',
    );
    lines.push(
      '| nodes | operation | measured datagrams | model | model / measured | measured KiB | model KiB | model / measured |',
    );
    lines.push('|---:|---|---:|---:|---:|---:|---:|---:|');
    const ratios: number[] = [];
    const byteRatios: number[] = [];
    for (const c of calibrations) {
      for (const row of c.rows) {
        const ratio = row.modelMessages / row.measuredMessages;
        const byteRatio = row.modelBytes / row.measuredBytes;
        ratios.push(ratio);
        byteRatios.push(byteRatio);
        lines.push(
          `| ${c.size} | ${row.op} | ${fmt(row.measuredMessages)} | ${fmt(row.modelMessages)} | ${f2(ratio)} | ` +
            `${kib(row.measuredBytes)} | ${kib(row.modelBytes)} | ${f2(byteRatio)} |`,
        );
      }
    }
    const factor = (xs: number[]) => Math.max(...xs.map((x) => Math.max(x, 1 / x)));
    lines.push('');
    lines.push(
      `Within a factor of ${f2(factor(ratios))} in datagrams and ${f2(factor(byteRatios))} in bytes ` +
        `(model / measured from ${f2(Math.min(...ratios))} to ${f2(Math.max(...ratios))}, bytes ${f2(Math.min(...byteRatios))} to ${f2(Math.max(...byteRatios))}).`,
      '',
    );
  }
  return lines.join('\n');
}

publish(report());
saveResults();

/** The run's figures as JSON beside the other benchmarks' (bench/results/sim-<stamp>.json). */
function saveResults(): void {
  const out = {
    params,
    meanListSize: shared.population.meanListSize,
    designs: results.map((r) => ({
      design: r.design,
      onlineHours: r.onlineHours,
      scale: r.scale,
      gatewayDht: r.gatewayDht,
      gatewayG2g: r.gatewayG2g,
      nodeDht: r.nodeDht,
      links: r.links,
      seconds: r.seconds,
      ops: Object.fromEntries(
        [...r.ops].map(([name, s]) => [
          name,
          { count: s.count, ...s.total, dhtP99: percentile(s.dhtSample, 99) },
        ]),
      ),
    })),
    calibrations,
  };
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `sim-${new Date().toISOString().replaceAll(':', '-').replace('.', '-')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(`figures written to ${file}\n`);
}
