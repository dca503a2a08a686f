import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `crosstalk gateway --workers N` run as an operator runs it (the CLI from source, in processes of
// its own), for the tests of a host of several workers.

const cliBin = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));

/** A running host: its process, SOCKS address, metrics base URL and what it printed. */
export interface Host {
  child: ChildProcess;
  socks: { host: string; port: number };
  metrics: string;
  out: () => string;
}

export async function startHost(workerCount = 2): Promise<Host> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@crosstalk/source',
      cliBin,
      'gateway',
      ...[
        '--workers',
        String(workerCount),
        '--socks',
        '127.0.0.1:0',
        '--metrics',
        '127.0.0.1:0',
        '--log-level',
        'warn',
      ],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let log = '';
  const waiters: (() => void)[] = [];
  const changed = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    changed();
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
    if (process.env.E2E_DEBUG) process.stderr.write(d);
    changed();
  });
  child.on('exit', changed);
  while (!/Stop with Ctrl-C/.test(out)) {
    if (child.exitCode !== null) throw new Error(`the host exited ${child.exitCode}:\n${out}${log}`);
    await new Promise<void>((resolve) => waiters.push(resolve));
  }
  const port = Number(/SOCKS4 proxy\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
  const metrics = /metrics\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(out)![1]!;
  return { child, socks: { host: '127.0.0.1', port }, metrics, out: () => out + log };
}

export interface WorkerRow {
  index: number;
  pid: number | undefined;
  ready: boolean;
  restarts: number;
  descriptors?: { open: number; limit: number };
}

export async function workers(host: Host): Promise<WorkerRow[]> {
  const res = await fetch(`${host.metrics}/workers.json`);
  return ((await res.json()) as { workers: WorkerRow[] }).workers;
}

/** The host's summed counter (every label set), from its `/metrics`. */
export async function counter(host: Host, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${host.metrics}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
