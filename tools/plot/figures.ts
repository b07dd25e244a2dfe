/**
 * Series taken from a run's flat figures (the `--json` object of a
 * benchmark): the figures whose names match a pattern, one point per
 * match, so every benchmark maps its figures to a chart the same way.
 *
 * @module
 */

import type { BarSeries } from "./bars.ts";
import type { LineSeries } from "./line.ts";

/** Flat figures of a run, by name. */
export type Figures = Record<string, number>;

/**
 * A line series of the figures whose names match `pattern`; the first
 * capture group is x (a number: "pause_median_us_pages_(\d+)"), the value
 * y; sorted by x. `scale` multiplies x (e.g. 1/1024).
 *
 * @example
 * ```ts
 * figureSeries({ a_1: 5, a_4: 7 }, "a", /^a_(\d+)$/); // { label: "a", points: [[1, 5], [4, 7]] }
 * ```
 */
export function figureSeries(figures: Figures, label: string, pattern: RegExp): LineSeries {
  const points: Array<[number, number]> = [];
  for (const [k, v] of Object.entries(figures)) {
    const m = pattern.exec(k);
    if (m && Number.isFinite(Number(m[1])) && Number.isFinite(v)) points.push([Number(m[1]), v]);
  }
  return { label, points: points.sort((p, q) => p[0] - q[0]) };
}

/**
 * One bar series per entry of `series` ([label, key part]) over `groups`
 * ([label, key part]): the value of figure `key(seriesPart, groupPart)`.
 */
export function figureBars(
  figures: Figures,
  groups: Array<[string, string]>,
  series: Array<[string, string]>,
  key: (seriesPart: string, groupPart: string) => string,
): { groups: string[]; series: BarSeries[] } {
  return {
    groups: groups.map(([label]) => label),
    series: series.map(([label, s]) => ({
      label,
      values: groups.map(([, g]) => {
        const v = figures[key(s, g)];
        return Number.isFinite(v) ? v : undefined;
      }),
    })),
  };
}
