/**
 * Line charts: series of (x, y) points joined in x order, each point
 * marked, on linear or log axes (e.g. pause against dirty pages,
 * throughput against the checkpoint interval).
 *
 * @module
 */

import { centreNote, colour, num, PLOT_AREA, renderFrame, scaleFor } from "./svg.ts";

/** One line: a label for the legend and its points. */
export interface LineSeries {
  label: string;
  points: Array<[number, number]>;
}

/** A line chart, as data: {@link renderLine} draws it. */
export interface LineChart {
  kind: "line";
  /** File name without `.svg`. */
  name: string;
  title: string;
  /** Axis titles with units: "dirty pages per checkpoint", "pause (µs)". */
  xTitle: string;
  yTitle: string;
  xLog?: boolean;
  yLog?: boolean;
  /** Start the y axis at 0 (linear scale only). */
  yFromZero?: boolean;
  series: LineSeries[];
}

/** The SVG of `chart` with `caption` lines under it; points a log axis cannot show are left out. */
export function renderLine(chart: LineChart, caption: string[]): string {
  const a = PLOT_AREA;
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) => s.points.map((p) => p[1]));
  const x = scaleFor(xs, a.x0, a.x1, { log: chart.xLog });
  const y = scaleFor(ys, a.y1, a.y0, { log: chart.yLog, fromZero: chart.yFromZero });
  const body: string[] = [];
  chart.series.forEach((s, i) => {
    const pts = s.points
      .filter(([px, py]) => x.accepts(px) && y.accepts(py))
      .sort((p, q) => p[0] - q[0])
      .map(([px, py]) => [num(x.map(px)), num(y.map(py))]);
    if (pts.length > 1) {
      body.push(
        `<polyline class="line" fill="none" stroke="${colour(i)}" stroke-width="2" ` +
          `points="${pts.map((p) => p.join(",")).join(" ")}"/>`,
      );
    }
    for (const [cx, cy] of pts) {
      body.push(`<circle class="point" cx="${cx}" cy="${cy}" r="3.5" fill="${colour(i)}"/>`);
    }
  });
  if (!body.some((b) => b.startsWith("<circle"))) body.push(centreNote("no data"));
  return renderFrame({
    title: chart.title,
    xTitle: chart.xTitle,
    yTitle: chart.yTitle,
    x,
    y,
    legend: chart.series.map((s, i) => ({ label: s.label, colour: colour(i) })),
    caption,
  }, body);
}
