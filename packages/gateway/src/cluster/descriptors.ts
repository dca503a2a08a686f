import { opendir, readFile } from 'node:fs/promises';
import type { ToWorker } from './messages.js';

/**
 * How many file descriptors this process holds, from Linux's /proc (undefined where there is none).
 * A worker reports it with its limit (`descriptorLimit`) to the primary, which stops handing new
 * connections to a worker near its limit: a handle sent to a process that cannot open another
 * descriptor is refused back, and Node 20's primary then fails an internal assertion and ends
 * (found by `npm run bench -- --workers 1,2` at 1,560 clients;
 * packages/cli/test/e2e-workers-descriptors.test.ts).
 */
export async function descriptorCount(): Promise<number | undefined> {
  try {
    // Counted a batch at a time on libuv's thread pool: listing 15,000 descriptors at once held the
    // event loop for about 16 ms, beyond a gateway's 10 ms p99. The listing holds one of its own.
    let open = -1;
    for await (const _ of await opendir('/proc/self/fd', { bufferSize: 256 })) open++;
    return open;
  } catch {
    return undefined;
  }
}

/** This process's soft limit on open descriptors, from Linux's /proc (undefined where there is none). */
export async function descriptorLimit(): Promise<number | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line ? Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]) : Number.NaN;
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors a host keeps free in a worker: new connections stop short of its limit by this much. */
export function descriptorReserve(limit: number): number {
  return Math.max(32, Math.ceil(limit * 0.02));
}

/** Descriptors a socket sent to a worker with `message` takes there: a new connection may open its upstream too. */
export function descriptorsOf(message: ToWorker): number {
  return message.t === 'socks' ? 2 : 1;
}
