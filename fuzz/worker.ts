/**
 * One fuzz job in its own process (started by fuzz/run.ts with `--expose-gc`, so heap figures are
 * measured after full collections): a codec, or the gateway's fronts. Reports progress and the
 * final figures to the parent over IPC.
 */
import { type FuzzReport, fuzzCodec } from '@crosstalk/compliance/fuzz';
import { type FrontsReport, fuzzGatewayFronts } from '../packages/cli/test/support/fuzz-fronts.js';
import { TARGETS } from './targets.js';

export interface WorkerJob {
  job: string;
  inputs: number;
  seed: number;
  first: number;
  seconds?: number;
  slowMs: number;
  crashDir: string;
}

export type WorkerMessage =
  | { type: 'progress'; job: string; report: FuzzReport | FrontsReport }
  | { type: 'done'; job: string; report: FuzzReport | FrontsReport }
  | { type: 'error'; job: string; message: string };

const send = (m: WorkerMessage) => process.send?.(m);

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as WorkerJob;
  const repro = (seed: number, index: number) =>
    `npm run fuzz -- --codec ${job.job} --seed ${seed} --replay ${index}`;
  if (job.job === 'gateway') {
    const report = await fuzzGatewayFronts({
      sessions: Object.values(TARGETS).flatMap((target) => target().sessions),
      inputs: job.inputs,
      seed: job.seed,
      ...(job.seconds === undefined ? {} : { seconds: job.seconds }),
      crashDir: job.crashDir,
      onProgress: (r) => send({ type: 'progress', job: job.job, report: r }),
    });
    send({ type: 'done', job: job.job, report });
    return;
  }
  const target = TARGETS[job.job];
  if (!target) throw new Error(`no fuzz target named ${job.job}`);
  const report = fuzzCodec({
    ...target(),
    inputs: job.inputs,
    seed: job.seed,
    first: job.first,
    ...(job.seconds === undefined ? {} : { seconds: job.seconds }),
    slowMs: job.slowMs,
    crashDir: job.crashDir,
    repro,
    onProgress: (r) => send({ type: 'progress', job: job.job, report: r }),
  });
  send({ type: 'done', job: job.job, report });
}

main().then(
  () => process.disconnect?.(),
  (error) => {
    send({
      type: 'error',
      job: process.argv[2] ?? '?',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    process.exitCode = 1;
    process.disconnect?.();
  },
);
