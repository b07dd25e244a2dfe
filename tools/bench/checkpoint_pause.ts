/**
 * Pause runs of the checkpoint benchmark (sections (a), (b), (c) of
 * tools/bench/checkpoint.ts): the stop-the-world pause and its parts, from
 * the statistics a ckload machine reports for each checkpoint.
 *
 * - {@link summarisePauses}: median and p99 of the pause and each part.
 * - {@link pauseRuns}: the three sweeps (dirty pages, copy methods, kernel
 *   objects), their rows and their figures.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import type { CheckpointStats, CopyMethod } from "../../kernel/abi/protocol.ts";
import { runLoad } from "./checkpoint_load.ts";
import { type Dist, dist, median } from "./stats.ts";

/** The parts of one set of pauses. */
export interface PauseSummary {
  n: number;
  pause: Dist;
  freeze: Dist;
  capTree: Dist;
  otherObjects: Dist;
  pageCopy: Dist;
  dirtyPages: number;
  cowPages: number;
  objectRecords: number;
}

/** One row of a pause table: the point's key and its summary, or why the run failed. */
export type PauseRow<K> = [K, PauseSummary | string];

/** The rows of the pause sweeps. */
export interface PauseResults {
  /** How long each pause run measures after `ckload ready`, in ms. */
  pauseMs: number;
  /** (a) by dirty pages per tick. */
  byPages: PauseRow<number>[];
  /** (b) by kernel objects. */
  byObjects: PauseRow<number>[];
  /** (c) by copy method. */
  byMethod: PauseRow<string>[];
}

/** The figure-name form of a copy method: "stop_and_copy". */
export const methodKey = (m: CopyMethod) => m.replaceAll("-", "_");

/** Median and p99 of the pause and of each of its parts, and the median sizes. */
export function summarisePauses(stats: CheckpointStats[]): PauseSummary {
  const other = (s: CheckpointStats) =>
    Object.entries(s.objectsUs).reduce((sum, [k, v]) => (k === "CAP" ? sum : sum + v), 0);
  return {
    n: stats.length,
    pause: dist(stats.map((s) => s.pauseUs)),
    freeze: dist(stats.map((s) => s.freezeUs)),
    capTree: dist(stats.map((s) => s.capTreeUs)),
    otherObjects: dist(stats.map(other)),
    pageCopy: dist(stats.map((s) => s.pageCopyUs)),
    dirtyPages: median(stats.map((s) => s.dirtyPages)),
    cowPages: median(stats.map((s) => s.cowPages)),
    objectRecords: median(stats.map((s) => s.objectRecords)),
  };
}

/** One pause run at 1 ms: its summary, or the first line of why it failed. */
async function pauseRun(
  app: Record<string, number>,
  method: CopyMethod,
  pauseMs: number,
  step: (line: string) => void,
): Promise<PauseSummary | string> {
  step(`pages=${app.pages} objects=${app.objects}${app.touch ? " touch=1" : ""} ${method}`);
  try {
    const r = await runLoad({ app, checkpointMs: 1, method, durationMs: pauseMs });
    return summarisePauses(r.stats);
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}

/**
 * Runs (a) pause vs dirty pages (1000 objects, hybrid), (c) the other copy
 * methods at 64 pages / 1000 objects, (b) pause vs kernel objects (64 pages,
 * one capability minted and deleted per tick), in that order; adds their
 * figures to `figures` (the headline `pause_median_us` is (a) at 64 pages).
 */
export async function pauseRuns(
  quick: boolean,
  figures: Record<string, number>,
  quiet = false,
): Promise<PauseResults> {
  const pauseMs = quick ? 500 : 1500;
  const pagesSweep = quick ? [1, 64, 1024] : [1, 4, 16, 64, 256, 1024];
  const objectsSweep = quick ? [10, 1000] : [10, 100, 1000, 10000];
  const methods: CopyMethod[] = ["stop-and-copy", "cow"];
  const bar = new Progress({
    name: "bench checkpoint: pause",
    total: pagesSweep.length + methods.length + objectsSweep.length,
    quiet,
  });
  const step = bar.stepLog();
  const byPages: PauseRow<number>[] = [];
  for (const pages of pagesSweep) {
    const s = await pauseRun({ pages, objects: 1000, touch: 0 }, "hybrid", pauseMs, step);
    byPages.push([pages, s]);
    if (typeof s === "string") continue;
    figures[`pause_median_us_pages_${pages}`] = s.pause.median;
    figures[`pause_p99_us_pages_${pages}`] = s.pause.p99;
    if (pages === 64) {
      figures.pause_median_us = s.pause.median;
      figures.pause_p99_us = s.pause.p99;
      figures.freeze_median_us = s.freeze.median;
      figures.page_copy_median_us = s.pageCopy.median;
      figures.pause_median_us_hybrid = s.pause.median;
      figures.checkpoints_counted = s.n;
    }
  }
  const byMethod: PauseRow<string>[] = [];
  for (const method of methods) {
    const s = await pauseRun({ pages: 64, objects: 1000, touch: 0 }, method, pauseMs, step);
    byMethod.push([method, s]);
    if (typeof s === "string") continue;
    figures[`pause_median_us_${methodKey(method)}`] = s.pause.median;
    figures[`pause_p99_us_${methodKey(method)}`] = s.pause.p99;
  }
  const hybrid64 = byPages.find(([p]) => p === 64)?.[1];
  if (hybrid64) byMethod.push(["hybrid", hybrid64]);
  const byObjects: PauseRow<number>[] = [];
  for (const objects of objectsSweep) {
    const s = await pauseRun({ pages: 64, objects, touch: 1 }, "hybrid", pauseMs, step);
    byObjects.push([objects, s]);
    if (typeof s === "string") continue;
    figures[`pause_median_us_objects_${objects}`] = s.pause.median;
    figures[`pause_p99_us_objects_${objects}`] = s.pause.p99;
  }
  bar.end();
  return { pauseMs, byPages, byObjects, byMethod };
}
