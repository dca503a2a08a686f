/**
 * `npm run fuzz`: every in-repo codec (framer both ways, frame codec, translator, proxy sessions,
 * fed mutated real sessions) and the gateway's SOCKS front and G2G listener over loopback sockets.
 *
 *   npm run fuzz -- [--codec oscar,ymsg,msnp,xmpp,gateway] [--inputs 1000000] [--gateway-inputs 20000]
 *                   [--seed N] [--seconds S] [--jobs 2] [--slow-ms 100] [--crash-dir fuzz/crashes]
 *                   [--json FILE]
 *   npm run fuzz -- --codec msnp --seed N --replay INDEX     (one input again, its calls printed)
 *
 * Each job runs in a process of its own (`--expose-gc`, so heap figures follow full collections),
 * `--jobs` at a time. Exit code 1 when anything failed; each distinct failure's input is written
 * under the crash directory with the command that replays it.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeError, type FuzzReport, replayInput } from '@crosstalk/compliance/fuzz';
import type { FrontsReport } from '../packages/cli/test/support/fuzz-fronts.js';
import { TARGETS } from './targets.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

interface Flags {
  codecs: string[];
  inputs: number;
  gatewayInputs: number;
  seed: number;
  seconds: number | undefined;
  jobs: number;
  slowMs: number;
  crashDir: string;
  json: string | undefined;
  replay: number | undefined;
}

const ALL = [...Object.keys(TARGETS), 'gateway'];

function parseFlags(argv: string[]): Flags {
  const value = (name: string) => {
    const at = argv.indexOf(`--${name}`);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
  };
  const number = (name: string, fallback: number) => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, not ${v}`);
    return n;
  };
  const codecs = (value('codec') ?? ALL.join(',')).split(',').filter(Boolean);
  for (const c of codecs)
    if (!ALL.includes(c)) throw new Error(`unknown --codec ${c} (known: ${ALL.join(', ')})`);
  const seconds = value('seconds');
  const replay = value('replay');
  return {
    codecs,
    inputs: number('inputs', 1_000_000),
    gatewayInputs: number('gateway-inputs', 20_000),
    seed: number('seed', Math.floor(Math.random() * 0x7fff_ffff)),
    seconds: seconds === undefined ? undefined : number('seconds', 0),
    jobs: Math.max(1, number('jobs', Math.min(2, cpus().length))),
    slowMs: number('slow-ms', 100),
    crashDir: value('crash-dir') ?? fileURLToPath(new URL('./crashes/', import.meta.url)),
    json: value('json'),
    replay: replay === undefined ? undefined : number('replay', 0),
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (n: number) => `${n.toFixed(0)} MiB`;

function isFronts(r: FuzzReport | FrontsReport): r is FrontsReport {
  return (r as FrontsReport).kind === 'gateway-fronts';
}

function progressLine(job: string, r: FuzzReport | FrontsReport, goal: number): string {
  const rate = r.inputs / Math.max(1, r.elapsedMs / 1000);
  if (isFronts(r)) {
    return `[${job}] ${fmt(r.inputs)}/${fmt(goal)} inputs  ${r.untyped} untyped  ${r.failures.length} failures  heap ${mb(r.heapMaxMb)}  ${fmt(rate)}/s`;
  }
  return `[${job}] ${fmt(r.inputs)}/${fmt(goal)} inputs  ${r.untyped} untyped  slowest ${r.slowestMs.toFixed(1)} ms  buffered ≤ ${fmt(r.maxBuffered)} B  heap ${mb(r.heapMaxMb)}  ${fmt(rate)}/s`;
}

function failuresOf(r: FuzzReport | FrontsReport): number {
  if (isFronts(r)) return r.failures.length;
  return r.untyped + r.slow + r.overCap + r.notTerminal + (r.heapExceeded ? 1 : 0);
}

function table(reports: (FuzzReport | FrontsReport)[]): string {
  const rows = [
    '| job | inputs | untyped errors | inputs over the limit | over a cap | slowest input | max buffered | heap after GC (first → max) | peak RSS | verified logins | seconds |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of reports) {
    if (isFronts(r)) {
      rows.push(
        `| gateway fronts | ${fmt(r.inputs)} (SOCKS ${fmt(r.socks)}, G2G ${fmt(r.g2g)}) | ${r.untyped} | – | – | – | – | ${mb(r.heapBaseMb)} → ${mb(r.heapMaxMb)} | ${mb(r.rssMaxMb)} | – | ${(r.elapsedMs / 1000).toFixed(0)} |`,
      );
      continue;
    }
    rows.push(
      `| ${r.codec} | ${fmt(r.inputs)} | ${r.untyped} | ${r.slow} | ${r.overCap + r.notTerminal} | ${r.slowestMs.toFixed(1)} ms | ${fmt(r.maxBuffered)} B | ${mb(r.heapBaseMb)} → ${mb(r.heapMaxMb)} | ${mb(r.rssMaxMb)} | ${fmt(r.verifiedInInputs)} | ${(r.elapsedMs / 1000).toFixed(0)} |`,
    );
  }
  return rows.join('\n');
}

function runJob(job: WorkerJob, goal: number): Promise<FuzzReport | FrontsReport> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [JSON.stringify(job)], {
      execArgv: [
        '--import',
        'tsx',
        '--conditions=@crosstalk/source',
        '--expose-gc',
        '--max-old-space-size=1024',
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let done: FuzzReport | FrontsReport | undefined;
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') console.log(progressLine(m.job, m.report, goal));
      else if (m.type === 'done') done = m.report;
      else reject(new Error(`${job.job}: ${m.message}`));
    });
    child.on('exit', (code, signal) => {
      if (done) resolve(done);
      else reject(new Error(`${job.job}: the worker exited (${signal ?? code}) without a report`));
    });
  });
}

function replay(flags: Flags): number {
  const [codec] = flags.codecs;
  const target = codec === undefined ? undefined : TARGETS[codec];
  if (!target || flags.codecs.length !== 1)
    throw new Error('--replay needs exactly one --codec (not gateway)');
  const result = replayInput(target(), flags.seed, flags.replay!);
  console.log(
    `${codec} seed ${flags.seed} input ${flags.replay}: ${result.drive} drive, ${result.ms.toFixed(1)} ms`,
  );
  for (const step of result.trace) {
    const bytes = step.hex ? Buffer.from(step.hex, 'hex') : undefined;
    const text = bytes ? JSON.stringify(bytes.toString('latin1').slice(0, 400)) : '';
    const extra = step.event
      ? JSON.stringify(step.event).slice(0, 300)
      : step.options
        ? JSON.stringify(step.options)
        : '';
    console.log(
      `  ${step.call}${step.conn ? ` [${step.conn}]` : ''}${step.direction ? ` (${step.direction})` : ''}${bytes ? ` ${bytes.length} B ${text}` : ''} ${extra}`,
    );
  }
  if (!result.failure) {
    console.log('no failure');
    return 0;
  }
  const { message, stack } = describeError(result.failure.error);
  console.log(`\n${result.failure.kind} at ${result.failure.where}: ${message}\n${stack ?? ''}`);
  return 1;
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.replay !== undefined) return replay(flags);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `fuzz: ${flags.codecs.join(', ')}; ${fmt(flags.inputs)} inputs per codec, ${fmt(flags.gatewayInputs)} for the gateway fronts; seed ${flags.seed}; ${flags.jobs} jobs at a time`,
  );
  console.log(
    `machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${new Date().toISOString()}`,
  );
  const queue = [...flags.codecs];
  const reports: (FuzzReport | FrontsReport)[] = [];
  const errors: string[] = [];
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const goal = job === 'gateway' ? flags.gatewayInputs : flags.inputs;
      try {
        const report = await runJob(
          {
            job,
            inputs: goal,
            seed: flags.seed,
            first: 0,
            ...(flags.seconds === undefined ? {} : { seconds: flags.seconds }),
            slowMs: flags.slowMs,
            crashDir: flags.crashDir,
          },
          goal,
        );
        console.log(progressLine(job, report, goal));
        reports.push(report);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: flags.jobs }, worker));
  reports.sort(
    (a, b) => ALL.indexOf(isFronts(a) ? 'gateway' : a.codec) - ALL.indexOf(isFronts(b) ? 'gateway' : b.codec),
  );
  console.log(`\n${table(reports)}\n`);
  let failed = errors.length;
  for (const r of reports) {
    failed += failuresOf(r);
    for (const f of r.failures) {
      console.log(`FAIL ${isFronts(r) ? 'gateway' : r.codec} ${f.kind} at ${f.where}: ${f.message}`);
      if (f.repro) console.log(`     replay: ${f.repro}`);
      if (f.file) console.log(`     input:  ${f.file}`);
    }
  }
  for (const e of errors) console.log(`ERROR ${e}`);
  if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ flags, reports, errors }, null, 2)}\n`);
  console.log(failed === 0 ? 'no failures' : `${failed} failing inputs`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  },
);
