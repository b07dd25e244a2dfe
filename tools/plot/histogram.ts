/**
 * Histograms: samples counted into buckets shared by every series (equal
 * widths, or equal ratios on a log axis), each bucket's height the share of
 * that series' samples, so series of different sizes compare (e.g. IPC
 * round trips through the rings beside postMessage).
 *
 * @module
 */

import { centreNote, colour, num, PLOT_AREA, renderFrame, scaleFor } from "./svg.ts";
import { percentile, sortedCopy } from "../bench/stats.ts";

/** One series of samples. */
export interface HistogramSeries {
  label: string;
  values: ArrayLike<number>;
}

/** A histogram, as data: {@link renderHistogram} draws it. */
export interface HistogramChart {
  kind: "histogram";
  /** File name without `.svg`. */
  name: string;
  title: string;
  /** What was measured, with its unit: "round trip (µs)". */
  xTitle: string;
  xLog?: boolean;
  /** Number of buckets (default 40). */
  buckets?: number;
  /** Samples above this percentile of each series are counted, not drawn (default 0.999). */
  clip?: number;
  series: HistogramSeries[];
}

/** Bucket edges over [lo, hi]: `n + 1` values, equal steps (in log space when `log`). */
export function bucketEdges(lo: number, hi: number, n: number, log: boolean): number[] {
  if (!(hi > lo)) hi = lo + (lo === 0 ? 1 : Math.abs(lo));
  const f = log ? (t: number) => lo * (hi / lo) ** t : (t: number) => lo + (hi - lo) * t;
  return Array.from({ length: n + 1 }, (_, k) => f(k / n));
}

/** The share (%) of `sorted` in each bucket of `edges` (last bucket closed), and how many fell above. */
export function bucketShares(
  sorted: ArrayLike<number>,
  edges: number[],
): { shares: number[]; above: number } {
  const counts = new Array(edges.length - 1).fill(0);
  let above = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i];
    if (v > edges[edges.length - 1]) {
      above++;
      continue;
    }
    let b = 0;
    while (b < counts.length - 1 && v >= edges[b + 1]) b++;
    if (v >= edges[0]) counts[b]++;
  }
  return { shares: counts.map((c) => (sorted.length ? (100 * c) / sorted.length : 0)), above };
}

/** The SVG of `chart` with `caption` lines under it. */
export function renderHistogram(chart: HistogramChart, caption: string[]): string {
  const a = PLOT_AREA;
  const sorted = chart.series.map((s) => sortedCopy(s.values));
  const drawable = sorted.map((s) => (chart.xLog ? s.filter((v) => v > 0) : s));
  const present = drawable.filter((s) => s.length > 0);
  const lo = present.length ? Math.min(...present.map((s) => s[0])) : 0;
  const hi = present.length
    ? Math.max(...present.map((s) => percentile(s, chart.clip ?? 0.999)))
    : 1;
  const edges = bucketEdges(lo, hi, chart.buckets ?? 40, chart.xLog === true && lo > 0);
  const x = scaleFor([edges[0], edges[edges.length - 1]], a.x0, a.x1, { log: chart.xLog });
  const counted = drawable.map((s) => bucketShares(s, edges));
  const y = scaleFor(counted.flatMap((c) => c.shares), a.y1, a.y0, { fromZero: true });
  const body: string[] = [];
  counted.forEach((c, i) => {
    c.shares.forEach((share, b) => {
      if (share === 0) return;
      const x0 = x.map(edges[b]);
      const x1 = x.map(edges[b + 1]);
      body.push(
        `<rect class="bar" x="${num(x0)}" y="${num(y.map(share))}" width="${num(x1 - x0)}" ` +
          `height="${num(y.map(0) - y.map(share))}" fill="${colour(i)}" fill-opacity="0.45" ` +
          `stroke="${colour(i)}"/>`,
      );
    });
  });
  if (body.length === 0) body.push(centreNote("no data"));
  const legend = chart.series.map((s, i) => ({
    label: `${s.label} (n = ${s.values.length}${
      counted[i].above ? `, ${counted[i].above} beyond the axis` : ""
    })`,
    colour: colour(i),
  }));
  return renderFrame({
    title: chart.title,
    xTitle: chart.xTitle,
    yTitle: "share of samples (%)",
    x,
    y,
    legend,
    caption,
  }, body);
}
