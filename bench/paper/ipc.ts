/** Messages between the benchmark's processes (Node IPC). Each process is started by run.ts. */
import type { ChildProcess } from 'node:child_process';

/** A child whose parent is gone (crashed, timed out) exits instead of loading the machine on. */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(1));
}

export type Protocol = 'oscar' | 'ymsg' | 'msnp' | 'xmpp';
export const PROTOCOLS: readonly Protocol[] = ['oscar', 'ymsg', 'msnp', 'xmpp'];

export interface ServerInfo {
  protocol: Protocol;
  host: string;
  port: number;
  /** The network id of its users' addresses (XMPP: the server's domain). */
  network: string;
  /** User names on this server, in order; user i of protocol p is the load's client (p, i). */
  users: string[];
  passwords: string[];
}

export interface Usage {
  /** CPU time of the process (user + system), µs. */
  cpuMicros: number;
  /** The part of it in the kernel (system time), µs. */
  kernelMicros: number;
  rssBytes: number;
}

/** One process's memory after a full collection, its open descriptors and its users. */
export interface ProcessMemory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  descriptors: number;
  users: number;
}

/** The gateway process's `memory` reply: a host's figures are the sums over its processes. */
export interface MemorySample extends ProcessMemory {
  /** A host: the primary's and each worker's own figures. */
  processes?: (ProcessMemory & { pid: number; role: string })[];
  histogram?: Record<string, { count: number; bytes: number }>;
}

/** Sends one message and waits for the reply of the given type. */
export function request<T>(
  child: ChildProcess,
  message: object,
  replyType: string,
  timeoutMs = 600_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${replyType} from child within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: { type?: string }) => {
      if (m?.type === replyType) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m as T);
      } else if (m?.type === 'error') {
        clearTimeout(timer);
        child.off('message', onMessage);
        reject(new Error(String((m as { message?: string }).message)));
      }
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

/** CPU time and RSS of any process, from /proc (so dante is measured the same way as our gateway). */
export async function usageOf(pid: number): Promise<Usage> {
  const { readFile } = await import('node:fs/promises');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime (fields 14, 15)
  const rssPages = Number(stat[21]);
  return {
    cpuMicros: (ticks * 1e6) / 100,
    kernelMicros: (Number(stat[12]) * 1e6) / 100,
    rssBytes: rssPages * 4096,
  };
}
