/**
 * How late a process's event loop ran and how long its garbage collector paused it, over the
 * measurement window: a message waits for both, so these name which process a latency tail is in.
 */
import { monitorEventLoopDelay, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

export interface LoopReport {
  /** Event-loop delay (how late a 1 ms timer fired), ms. */
  delayP50: number;
  delayP99: number;
  delayMax: number;
  gcPauses: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** Share of one core the process used over the window (1 = a whole core). */
  cpu: number;
  /** Stalls of at least 10 ms, when they began (epoch ms) and what they were (a GC or the loop). */
  stalls: { at: number; ms: number; what: string }[];
}

const STALL_MS = 10;
const GC_KIND: Record<number, string> = {
  1: 'gc scavenge',
  2: 'gc mark-compact',
  4: 'gc incremental',
  8: 'gc weak',
};

export function loopWatch(): { start(): void; stop(): LoopReport } {
  const delay = monitorEventLoopDelay({ resolution: 1 });
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
  // A 5 ms tick that fires late by 10 ms or more marks a stall of the loop. The CPU the process
  // used meanwhile tells work (the loop was busy) from waiting (another process had the core).
  let ticker: NodeJS.Timeout | undefined;
  let last = 0;
  let lastCpu = process.cpuUsage();
  let began = { at: 0, cpu: lastCpu };
  const tick = () => {
    const t = performance.now();
    const cpu = process.cpuUsage();
    const late = t - last - 5;
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
      delay.enable();
      gc = { pauses: 0, totalMs: 0, maxMs: 0 };
      observer.observe({ entryTypes: ['gc'] });
      stalls = [];
      last = performance.now();
      lastCpu = process.cpuUsage();
      began = { at: performance.now(), cpu: lastCpu };
      ticker = setInterval(tick, 5);
    },
    stop() {
      delay.disable();
      observer.disconnect();
      clearInterval(ticker);
      const used = process.cpuUsage(began.cpu);
      return {
        delayP50: delay.percentile(50) / 1e6,
        delayP99: delay.percentile(99) / 1e6,
        delayMax: delay.max / 1e6,
        gcPauses: gc.pauses,
        gcTotalMs: gc.totalMs,
        gcMaxMs: gc.maxMs,
        cpu: (used.user + used.system) / 1000 / (performance.now() - began.at),
        stalls,
      };
    },
  };
}
