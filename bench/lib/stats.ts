/** Percentile (nearest rank) of a sorted array. */
export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export interface Summary {
  n: number
  p50: number
  p99: number
  p999: number
  mean: number
  max: number
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b)
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99), p999: pct(s, 99.9), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), max: s[s.length - 1] ?? NaN }
}

export const r2 = (x: number): number => Math.round(x * 100) / 100
