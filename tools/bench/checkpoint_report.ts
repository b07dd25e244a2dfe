/**
 * The readable report of the checkpoint benchmark (tools/bench/checkpoint.ts):
 * the run's conditions, one table per section, and the goals.
 *
 * - {@link checkpointReport}: the whole text, from the sections' rows and
 *   the figures.
 *
 * @module
 */

import { WARMUP_CHECKPOINTS } from "./checkpoint_load.ts";
import type { OverheadResults, OverheadRun } from "./checkpoint_overhead.ts";
import { REGION } from "./checkpoint_overhead.ts";
import type { PauseResults, PauseRow } from "./checkpoint_pause.ts";
import type { ResumeRow } from "./checkpoint_resume.ts";
import { DIRTY_PER_CAPTURE, type PageScanResult } from "./page_scan.ts";
import type { Dist } from "./stats.ts";

/** Everything one run of the benchmark measured. */
export interface CheckpointResults {
  quick: boolean;
  figures: Record<string, number>;
  pause: PauseResults;
  overhead: OverheadResults;
  resume: ResumeRow[];
  /** (f) the page scan in process, by memory mapped. */
  pageScan: PageScanResult[];
  /** /proc/loadavg before and after the run. */
  loadBefore: string;
  loadAfter: string;
}

const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(1));
const f0 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(0));
const pad = (cells: string[], widths: number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");

/** A table of overhead runs, one row per `[label, run]`. */
function overheadTable(title: string, key: string, rows: Array<[string, OverheadRun]>): string {
  const w = [20, 12, 12, 10, 22, 10];
  const head = [key, "ops/s off", "ops/s on", "overhead", "pairs (min…max)", "ckpt/s"];
  const out = [title, pad(head, w)];
  for (const [label, r] of rows) {
    if (r.error) {
      out.push(`${label.padEnd(w[0])} failed: ${r.error}`);
      continue;
    }
    const ok = r.pairsPct.filter((p) => !Number.isNaN(p));
    out.push(pad([
      label,
      f0(r.offOpsPerS),
      f0(r.onOpsPerS),
      `${f1(r.overheadPct)} %`,
      ok.length ? `${f1(Math.min(...ok))}…${f1(Math.max(...ok))} %` : "-",
      f0(r.checkpointsPerS),
    ], w));
  }
  return out.join("\n");
}

/** A table of pause runs, one row per point. */
function pauseTable(title: string, key: string, rows: PauseRow<number | string>[]): string {
  const w = [13, 5, 15, 15, 15, 15, 15, 7, 7, 7];
  const d = (x: Dist) => `${f1(x.median)}/${f1(x.p99)}`;
  const head = [
    key,
    "n",
    "pause",
    "freeze",
    "cap tree",
    "other objs",
    "page copy",
    "dirty",
    "cow",
    "records",
  ];
  const out = [title, pad(head, w)];
  for (const [k, s] of rows) {
    if (typeof s === "string") out.push(`${String(k).padEnd(w[0])} failed: ${s}`);
    else {
      out.push(pad([
        String(k),
        String(s.n),
        d(s.pause),
        d(s.freeze),
        d(s.capTree),
        d(s.otherObjects),
        d(s.pageCopy),
        f0(s.dirtyPages),
        f0(s.cowPages),
        f0(s.objectRecords),
      ], w));
    }
  }
  out.push(
    "  (µs, median/p99; dirty, cow: pages, records: kernel object records flushed; medians per checkpoint)",
  );
  return out.join("\n");
}

/** Tables (a), (b), (c). */
function pauseTables(p: PauseResults): string[] {
  return [
    pauseTable("(a) pause vs dirty pages per tick (objects=1000, hybrid)", "pages", p.byPages),
    "",
    pauseTable(
      "(b) pause vs kernel objects (pages=64, touch=1: one cap minted+deleted per tick, hybrid)",
      "objects",
      p.byObjects,
    ),
    "",
    pauseTable("(c) copy methods (pages=64, objects=1000)", "method", p.byMethod),
  ];
}

/** Tables (d) and, when it ran, (d'). */
function overheadTables(o: OverheadResults): string[] {
  const out = [
    overheadTable(
      `(d) runtime overhead: ckload flat out (0.2 ms write bursts between safe points, ${REGION} ` +
        `pages), ${o.pairs} off/on window pairs per row in one machine`,
      "period/method",
      o.tputRows.map((r) => [`${r.ms} ms ${r.method}`, r]),
    ),
    "  ops/s: medians of the windows; overhead: median over the pairs of 1 − on ÷ off; " +
    'ckpt/s: checkpoints committed per second of "on" windows',
  ];
  if (o.regionRows.length > 0) {
    out.push(
      "",
      overheadTable(
        "(d') overhead at 1 ms hybrid vs pages the writer dirties",
        "region (pages)",
        o.regionRows.map((r) => [String(r.region), r]),
      ),
    );
  }
  return out;
}

/** Table (e). */
function resumeTable(rows: ResumeRow[], quick: boolean): string[] {
  const w = [8, 12, 12, 10, 12, 14, 12, 16];
  const out = ["(e) resume vs image size (no apps: 5 threads)"];
  out.push(pad([
    "image",
    "resume ms",
    "resume wall",
    "floor ms",
    "resume-floor",
    "fresh boot ms",
    "readFile ms",
    "cold boot+read",
  ], w));
  for (const r of rows) {
    if (r.error !== undefined) {
      out.push(`${`${r.imageMb} MiB`.padEnd(w[0])} did not complete: ${r.error}`);
      continue;
    }
    out.push(pad([
      `${r.imageMb} MiB`,
      f1(r.resumeReadyMs),
      f1(r.resumeWallMs),
      f1(r.floorMs),
      f1(r.resumeReadyMs! - r.floorMs!),
      f1(r.freshReadyMs),
      f1(r.readFileMs),
      f1(r.freshReadyMs! + r.readFileMs!),
    ], w));
  }
  out.push(
    "  resume ms / fresh boot ms: the `ready` line's ms (board start to ready, median of " +
      `${quick ? 1 : 5} resumes); resume wall: spawn of the process to the ready line ` +
      "(includes Deno start-up); floor: 5 empty Workers started from this process's main " +
      'thread until each posted "up" (median of 5); readFile: Deno.readFile of a data file ' +
      "of the image's size just written (page cache warm); images hold only the system's own " +
      "state (no data fill)",
  );
  return out;
}

/** Table (f). */
function pageScanTable(rows: PageScanResult[]): string[] {
  const w = [10, 16, 22, 10];
  const out = [
    `(f) page scan in process vs memory mapped (${DIRTY_PER_CAPTURE} pages written per capture, ` +
    "hybrid; µs median / p99)",
    pad(["mapped", "capture", "capture + copy-out", "captures"], w),
  ];
  for (const r of rows) {
    out.push(pad([
      `${r.mappedMb} MiB`,
      `${f1(r.capture.median)} / ${f1(r.capture.p99)}`,
      `${f1(r.captureAndCopyOut.median)} / ${f1(r.captureAndCopyOut.p99)}`,
      String(r.captures),
    ], w));
  }
  out.push(
    "  PageCapture.capture (in the pause: the scan and the stop-and-copy) over the kernel memory " +
      "object and 64 MiB PMOs, no machine: tools/bench/page_scan.ts",
  );
  return out;
}

/** The goals, each with its figure and whether it is met. */
function goals(figures: Record<string, number>, o: OverheadResults): string[] {
  const g = (v: number | undefined, goal: number, unit: string, le = true) =>
    v === undefined || Number.isNaN(v)
      ? "not measured"
      : `${f1(v)} ${unit} (goal ${le ? "≤" : "≥"} ${goal} ${unit}: ${
        (le ? v <= goal : v >= goal) ? "met" : "NOT met"
      })`;
  const out = [
    "goals:",
    `  pause median at 64 pages / 1000 objects: ${g(figures.pause_median_us, 100, "µs")}`,
    `  pause p99 at 64 pages / 1000 objects:    ${g(figures.pause_p99_us, 1000, "µs")}`,
    `  overhead at 1 ms hybrid:                 ${g(figures.overhead_pct_1ms_hybrid, 10, "%")}`,
  ];
  if (o.regionRows.length > 0) {
    const byRegion = [...o.regionRows.map((r) => [r.region, r.overheadPct]), [
      REGION,
      figures.overhead_pct_1ms_hybrid,
    ]];
    out.push(
      `  overhead at 1 ms hybrid by pages written per ms: ${
        byRegion.map(([r, v]) => `${r}: ${f1(v)} %`).join(", ")
      }`,
    );
  }
  out.push(
    `  resume above the floor (worst size):     ${g(figures.resume_minus_floor_max_ms, 20, "ms")}` +
      `; spread across sizes ${f1(figures.resume_spread_ms)} ms`,
  );
  return out;
}

/** The readable report of one run: conditions, tables (a) to (f), goals, the command to reproduce. */
export function checkpointReport(r: CheckpointResults): string {
  const { quick, figures } = r;
  const out = [
    `checkpoint benchmark${quick ? " (quick)" : ""}: real machines, ckload app (timerMs=1), ` +
    `${navigator.hardwareConcurrency} cores, ${
      figures.bench_seconds.toFixed(0)
    } s; pause runs ${r.pause.pauseMs} ms after "ckload ready"; ` +
    `first ${WARMUP_CHECKPOINTS} checkpoints after it not counted`,
    `load average (1/5/15 min) before: ${r.loadBefore}, after: ${r.loadAfter} ` +
    "(the bench's own machines included; other processes on these cores distort the figures)",
    "",
    ...pauseTables(r.pause),
    "",
    ...overheadTables(r.overhead),
    "",
    ...resumeTable(r.resume, quick),
    "",
    ...pageScanTable(r.pageScan),
    "",
    ...goals(figures, r.overhead),
    `reproduce: deno task bench checkpoint${quick ? " --quick" : ""}`,
  ];
  return out.join("\n");
}
