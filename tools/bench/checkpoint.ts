/**
 * Checkpoint benchmark: the stop-the-world pause of the 1 ms whole-system
 * checkpoint, its cost to a running program, and resume time.
 *
 * Every measurement boots a real machine (hw/machine.ts, as a child process
 * through {@link MachineProcess}) on a temporary image that is removed
 * afterwards, with `--report-checkpoints`, and the load program
 * tests/programs/ckload.ts as an app (`timerMs=1`).
 *
 * - (a) Pause vs dirty pages: pages ∈ {1, 4, 16, 64, 256, 1024} with 1000
 *   extra kernel records, hybrid copy: median and p99 of the pause and of
 *   each part (freeze, capability tree, other kernel objects, page copy).
 *   Only checkpoints whose commit came after `ckload ready` was released
 *   count, less the first {@link WARMUP_CHECKPOINTS} of them (the one holding
 *   the start-up records and JIT warm-up).
 * - (b) Pause vs kernel objects: objects ∈ {10, 100, 1000, 10000}, 64 pages,
 *   one capability minted and deleted per tick.
 * - (c) Copy methods at 64 pages / 1000 objects.
 * - (d) Runtime overhead: ckload in throughput mode (flat-out 0.2 ms write
 *   bursts between safe points), checkpoint period ∈ {1, 5, 10, 50} ms ×
 *   method, against checkpoints off in the same machine: the bench turns
 *   checkpoints off and on in alternating windows through the command port
 *   (hw/commands.ts), in ABBA order, and takes the overhead of each adjacent
 *   off/on pair (1 − on ops/s ÷ off ops/s); the figure is the median over
 *   the pairs. Two separate processes are no baseline here: the same writer
 *   runs anywhere from 70 to 150 M writes/s depending on how V8 compiled it.
 *   (d') the same at 1 ms hybrid as the pages written grow.
 * - (e) Resume vs image size: boot fresh, shut down (final checkpoint), boot
 *   again; the `ready` line's `ms` (board start to ready) and the wall time
 *   from spawn. Baselines: a fresh boot plus `Deno.readFile` of a data file
 *   of the image's size; the floor: starting as many empty Workers as the
 *   system has threads, from this process's main thread.
 * - (f) The page scan in process vs memory mapped (36 to 512 MiB, 10 pages
 *   written per capture): `PageCapture.capture` alone, no machine.
 *
 * The sections live in their own modules: tools/bench/checkpoint_pause.ts
 * ((a), (b), (c)), checkpoint_overhead.ts ((d), (d')), checkpoint_resume.ts
 * ((e)), page_scan.ts ((f)), checkpoint_report.ts (the readable report); checkpoint_load.ts runs
 * the ckload machines they measure, tools/bench/stats.ts has the statistics.
 *
 * Run: `deno task bench checkpoint [--quick] [--json]`.
 *
 * @module
 */

import { runBenchCli } from "./cli.ts";
import { overheadRuns } from "./checkpoint_overhead.ts";
import { pauseRuns } from "./checkpoint_pause.ts";
import { checkpointReport } from "./checkpoint_report.ts";
import { loadAverageText as loadAverage } from "../load_average.ts";
import { resumeRuns } from "./checkpoint_resume.ts";
import { pageScanRuns } from "./page_scan.ts";

/** Options of {@link benchCheckpoint}. */
export interface CheckpointBenchOptions {
  /** Fewer points and shorter runs. */
  quick: boolean;
  /** No progress lines (--json). */
  quiet?: boolean;
}

/**
 * Runs the checkpoint benchmark; returns the figures (`pause_median_us`,
 * `pause_p99_us`, `freeze_median_us`, `page_copy_median_us`,
 * `pause_median_us_<method>`, `overhead_pct_<ms>ms_<method>`, resume
 * figures, and per-point figures of each sweep) and a readable report.
 */
export async function benchCheckpoint(
  opts: CheckpointBenchOptions,
): Promise<{ figures: Record<string, number>; report: string }> {
  const quick = opts.quick;
  const figures: Record<string, number> = {};
  const t0 = performance.now();
  const loadBefore = loadAverage();
  const quiet = opts.quiet === true;
  const pause = await pauseRuns(quick, figures, quiet);
  const overhead = await overheadRuns(quick, figures, quiet);
  const resume = await resumeRuns(quick, figures, quiet);
  const pageScan = pageScanRuns(quick, figures);
  figures.bench_seconds = (performance.now() - t0) / 1000;
  const loadAfter = loadAverage();
  const report = checkpointReport({
    quick,
    figures,
    pause,
    overhead,
    resume,
    pageScan,
    loadBefore,
    loadAfter,
  });
  return { figures, report };
}

if (import.meta.main) await runBenchCli(benchCheckpoint);
