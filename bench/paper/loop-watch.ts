/**
 * How late a process's event loop ran and how long its garbage collector paused it, over the
 * measurement window: a message waits for both, so these name which process a latency tail is in.
 * One 10 ms timer does all of it (the gateway under test pays for it: about 100 wake-ups and
 * `getrusage` calls a second).
 */
import { createHistogram, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

export interface LoopReport {
  /** Event-loop delay (how late a 10 ms timer fired), ms. */
  delayP50: number;
  delayP99: number;
  delayMax: number;
  gcPauses: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** Share of one core the process used over the window (1 = a whole core). */
  cpu: number;
  /** The part of `cpu` spent in the kernel (system calls: socket reads and writes, epoll). */
  cpuKernel: number;
  /** Stalls of at least 10 ms, when they began (epoch ms) and what they were (a GC or the loop). */
  stalls: { at: number; ms: number; what: string }[];
}

const TICK_MS = 10;
const STALL_MS = 10;
const GC_KIND: Record<number, string> = {
  1: 'gc scavenge',
  2: 'gc mark-compact',
  4: 'gc incremental',
  8: 'gc weak',
};

export function loopWatch(): { start(): void; stop(): LoopReport } {
  const delay = createHistogram();
  let gc = { pauses: 0, totalMs: 0, maxMs: 0 };
  let stalls: LoopReport['stalls'] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.pauses++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
      if (entry.duration >= STALL_MS) {
        const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
        stalls.push({
          at: performance.timeOrigin + entry.startTime,
          ms: entry.duration,
          what: GC_KIND[kind] ?? 'gc',
        });
      }
    }
  });
  // A tick that fires 10 ms late or more marks a stall of the loop. The CPU the process used
  // meanwhile tells work (the loop was busy) from waiting (another process had the core).
  let ticker: NodeJS.Timeout | undefined;
  let last = 0;
  let lastCpu = process.cpuUsage();
  let began = { at: 0, cpu: lastCpu };
  const tick = () => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    const late = Math.max(0, t - last - TICK_MS);
    delay.record(Math.max(1, Math.round(late * 1e6)));
    if (late >= STALL_MS) {
      const busy = (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000;
      stalls.push({ at: performance.timeOrigin + last, ms: late, what: `loop (${busy.toFixed(1)} ms CPU)` });
    }
    last = t;
    lastCpu = cpu;
  };
  return {
    start() {
      delay.reset();
      gc = { pauses: 0, totalMs: 0, maxMs: 0 };
      observer.observe({ entryTypes: ['gc'] });
      stalls = [];
      last = performance.now();
      lastCpu = process.cpuUsage();
      began = { at: last, cpu: lastCpu };
      ticker = setInterval(tick, TICK_MS);
    },
    stop() {
      observer.disconnect();
      clearInterval(ticker);
      const used = process.cpuUsage(began.cpu);
      const wall = performance.now() - began.at;
      return {
        delayP50: delay.percentile(50) / 1e6,
        delayP99: delay.percentile(99) / 1e6,
        delayMax: delay.max / 1e6,
        gcPauses: gc.pauses,
        gcTotalMs: gc.totalMs,
        gcMaxMs: gc.maxMs,
        cpu: (used.user + used.system) / 1000 / wall,
        cpuKernel: used.system / 1000 / wall,
        stalls,
      };
    },
  };
}
