/**
 * What a scenario run measured at each of its steps (a kill, a fault, a
 * sequence), for its progress line and its plots. A scenario calls
 * {@link RunTrace.step} once per step with its measures, named with their
 * unit ("kill to ready (ms)", "commands acknowledged"); the trace redraws
 * the progress line (tools/progress.ts) and keeps the values, and
 * {@link RunTrace.charts} turns them into a timeline per unit (one line per
 * measure against the step) and, for times, a histogram.
 *
 * @module
 */

import type { Chart } from "./plot/mod.ts";
import { Progress, type ProgressOptions } from "./progress.ts";

/** Measures of one step, by name with the unit in parentheses; non-finite values are dropped. */
export type StepValues = Record<string, number>;

/** Progress and measures of one scenario run; see the module doc. */
export class RunTrace {
  readonly progress: Progress;
  /** Per measure name: [step, value] in the order the steps came. */
  private readonly values = new Map<string, Array<[number, number]>>();

  /**
   * `stepName`: what one step is ("kill", "fault", "sequence"), for the titles;
   * `xTitle`: what the step number counts, for the x axis (default `stepName`).
   */
  constructor(
    opts: ProgressOptions,
    private readonly stepName: string,
    private readonly xTitle = stepName,
  ) {
    this.progress = new Progress(opts);
  }

  /** Step `i` is done with `values` (`detail`: shown on the progress line). */
  step(i: number, values: StepValues = {}, detail?: string): void {
    for (const [k, v] of Object.entries(values)) {
      if (!Number.isFinite(v)) continue;
      if (!this.values.has(k)) this.values.set(k, []);
      this.values.get(k)!.push([i, v]);
    }
    this.progress.update(i, detail);
  }

  /** Prints a line of the run's log without garbling the progress line. */
  readonly log = (line: string): void => this.progress.log(line);

  /** Erases the progress line. */
  end(): void {
    this.progress.end();
  }

  /** The measures' charts: per unit a timeline of its measures, and a histogram of the times. */
  charts(title: string): Chart[] {
    const byUnit = new Map<string, string[]>();
    for (const k of this.values.keys()) {
      const unit = unitOf(k);
      byUnit.set(unit, [...(byUnit.get(unit) ?? []), k]);
    }
    const charts: Chart[] = [];
    for (const [unit, keys] of byUnit) {
      const slug = unit === "" ? slugOf(keys[0]) : slugOf(unit);
      const isTime = unit === "ms" || unit === "s";
      const what = keys.length === 1 ? keys[0].replace(/\s*\([^()]*\)\s*$/, "") : "times";
      charts.push({
        kind: "line",
        name: `per_${this.stepName}_${slug}`,
        title: `${title}: ${what} per ${this.stepName}`,
        xTitle: this.xTitle,
        yTitle: keys.length === 1 ? keys[0] : isTime ? `time (${unit})` : `(${unit})`,
        yFromZero: true,
        series: keys.map((k) => ({ label: k, points: this.values.get(k)! })),
      });
      if (isTime) {
        charts.push({
          kind: "histogram",
          name: `${slug}_histogram`,
          title: `${title}: times per ${this.stepName}`,
          xTitle: `time (${unit})`,
          buckets: 20,
          clip: 1,
          series: keys.map((k) => ({ label: k, values: this.values.get(k)!.map((p) => p[1]) })),
        });
      }
    }
    return charts;
  }
}

/** The unit of a measure's name: "kill to ready (ms)" → "ms"; "" when it has none. */
export function unitOf(name: string): string {
  return /\(([^()]+)\)\s*$/.exec(name)?.[1] ?? "";
}

function slugOf(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

/** What a scenario loop calls after each step: its number (1…N), its measures, a detail. */
export type OnStep = (i: number, values?: StepValues, detail?: string) => void;
