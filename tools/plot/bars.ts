/**
 * Grouped bar charts: one group per category (a test, a workload), one bar
 * per series in each (a target, a shape), its value written above it
 * (e.g. KV requests per second per target and test).
 *
 * @module
 */

import {
  centreNote,
  colour,
  escapeXml,
  num,
  PLOT_AREA,
  renderFrame,
  scaleFor,
  tickLabel,
} from "./svg.ts";

/** One series: a value per group, `undefined` where it has none. */
export interface BarSeries {
  label: string;
  values: Array<number | undefined>;
}

/** A grouped bar chart, as data: {@link renderBars} draws it. */
export interface BarsChart {
  kind: "bars";
  /** File name without `.svg`. */
  name: string;
  title: string;
  /** What the groups are ("test, clients"); the y title has the unit ("requests/s"). */
  xTitle: string;
  yTitle: string;
  yLog?: boolean;
  /** The group names, left to right. */
  groups: string[];
  series: BarSeries[];
}

/** The SVG of `chart` with `caption` lines under it; missing or undrawable values leave a gap. */
export function renderBars(chart: BarsChart, caption: string[]): string {
  const a = PLOT_AREA;
  const values = chart.series.flatMap((s) => s.values).filter((v): v is number => v !== undefined);
  const y = scaleFor(values, a.y1, a.y0, { log: chart.yLog, fromZero: !chart.yLog });
  const groupPx = (a.x1 - a.x0) / Math.max(1, chart.groups.length);
  const barPx = (groupPx * 0.8) / Math.max(1, chart.series.length);
  const base = y.kind === "log" ? a.y1 : y.map(0);
  const body: string[] = [];
  chart.groups.forEach((_, g) => {
    chart.series.forEach((s, i) => {
      const v = s.values[g];
      if (v === undefined || !y.accepts(v)) return;
      const x0 = a.x0 + g * groupPx + groupPx * 0.1 + i * barPx;
      const top = Math.min(base, y.map(v));
      const h = Math.abs(base - y.map(v));
      body.push(
        `<rect class="bar" x="${num(x0)}" y="${num(top)}" width="${num(barPx - 1)}" ` +
          `height="${num(h)}" fill="${colour(i)}"/>`,
      );
      // A value over each bar when it fits (about 5 characters of 9-10 px text).
      if (barPx >= 26) {
        body.push(
          `<text class="bar-value" x="${num(x0 + barPx / 2)}" y="${num(top - 3)}" ` +
            `text-anchor="middle" font-size="${barPx >= 34 ? 10 : 9}">${
              escapeXml(tickLabel(v))
            }</text>`,
        );
      }
    });
  });
  if (body.length === 0) body.push(centreNote("no data"));
  return renderFrame({
    title: chart.title,
    xTitle: chart.xTitle,
    yTitle: chart.yTitle,
    x: {
      categories: chart.groups.map((label, g) => ({ label, at: a.x0 + (g + 0.5) * groupPx })),
    },
    y,
    legend: chart.series.map((s, i) => ({ label: s.label, colour: colour(i) })),
    caption,
  }, body);
}
