/**
 * The project's SVG plots: a chart is data ({@link Chart}: a line chart,
 * grouped bars or a histogram), drawn to a deterministic SVG document by
 * {@link renderChart} and written beside a benchmark's or a scenario's
 * table by {@link writeCharts}, with a caption naming the command, the date
 * and the machine's load ({@link runCaption}).
 *
 * Map of the folder: svg.ts (layout, scales, axes, legend, caption,
 * escaping), line.ts, bars.ts, histogram.ts (the charts), figures.ts
 * (series taken from a run's flat figures), mod.ts (this: the union,
 * rendering, files).
 *
 * @module
 */

import { type BarsChart, renderBars } from "./bars.ts";
import { type HistogramChart, renderHistogram } from "./histogram.ts";
import { type LineChart, renderLine } from "./line.ts";
import type { LoadAverage } from "../load_average.ts";
import type { FlagTable } from "../../hw/flags.ts";

export type { BarsChart, HistogramChart, LineChart };

/** Any chart this module draws. */
export type Chart = LineChart | BarsChart | HistogramChart;

/** Where plots go unless `--plots DIR` says otherwise (gitignored). */
export const PLOTS_DIR_DEFAULT = ".tardigrade/plots";

/** The `--plots DIR` value that turns plots off. */
export const PLOTS_OFF = "off";

/** The `--plots` flag, declared once for the benchmarks and the scenarios. */
export const PLOTS_FLAG = {
  plots: {
    type: "string",
    default: PLOTS_DIR_DEFAULT,
    arg: "DIR",
    help: `write the SVG plots of the run into DIR and print each file (${PLOTS_OFF}: none)`,
  },
} as const satisfies FlagTable;

/** The SVG document of `chart`, `caption` lines under it; same input, same bytes. */
export function renderChart(chart: Chart, caption: string[]): string {
  switch (chart.kind) {
    case "line":
      return renderLine(chart, caption);
    case "bars":
      return renderBars(chart, caption);
    case "histogram":
      return renderHistogram(chart, caption);
  }
}

/**
 * The caption of a run's plots: the command that made them, the date (UTC,
 * to the minute) and the load average taken before the run (`load`), with
 * "made under load" when it was at least one core busy.
 */
export function runCaption(
  command: string,
  load: LoadAverage | undefined,
  date = new Date(),
): string[] {
  const cores = navigator.hardwareConcurrency;
  const when = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  const loadText = load === undefined
    ? "load average unknown"
    : `load average ${load.map((v) => v.toFixed(2)).join(" / ")} (1 / 5 / 15 min) before the run` +
      `${load[0] >= 1 ? ": made under load, other processes shared the cores" : ""}`;
  return [`command: ${command}`, `${when}, ${cores} cores`, loadText];
}

/**
 * Writes each chart to `DIR/<prefix>_<chart.name>.svg` (making DIR) and
 * returns the paths written, in order. Nothing when `dir` is {@link PLOTS_OFF}.
 */
export async function writeCharts(
  dir: string,
  prefix: string,
  charts: Chart[],
  caption: string[],
): Promise<string[]> {
  if (dir === PLOTS_OFF || charts.length === 0) return [];
  await Deno.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const c of charts) {
    const path = `${dir.replace(/\/+$/, "")}/${prefix}_${c.name}.svg`;
    await Deno.writeTextFile(path, renderChart(c, caption));
    paths.push(path);
  }
  return paths;
}
