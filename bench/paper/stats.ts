/** Latency statistics for the report. */
export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0)
    return {
      count: 0,
      mean: Number.NaN,
      p50: Number.NaN,
      p99: Number.NaN,
      p999: Number.NaN,
      max: Number.NaN,
    };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return {
    count: sorted.length,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted.at(-1)!,
  };
}

export const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
