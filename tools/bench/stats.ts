/**
 * Statistics of the benchmarks: percentiles (nearest rank), the median, and
 * median and p99 together. One definition, so every benchmark's "p99" means
 * the same thing.
 *
 * @module
 */

/** Values in ascending numeric order, as a new array (the input is left as it was). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * The `p`-th percentile (0 < p <= 1) of `sorted` (ascending) by nearest
 * rank: the smallest value with at least p × n values at or below it. NaN
 * for no values.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 0.5); // 2
 * percentile([1, 2, 3, 4], 0.99); // 4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** The median (lower median for an even count) of `values`, in any order; NaN for none. */
export function median(values: ArrayLike<number>): number {
  return percentile(sortedCopy(values), 0.5);
}

/** Median and p99 of one quantity. */
export interface Dist {
  median: number;
  p99: number;
}

/** The median and p99 of `values`, in any order (NaN for none). */
export function dist(values: ArrayLike<number>): Dist {
  const s = sortedCopy(values);
  return { median: percentile(s, 0.5), p99: percentile(s, 0.99) };
}
