/**
 * Where a checkpoint's pause goes under the file-system bench: boots the
 * machine of `deno task bench fs` (tools/bench/fs.ts, `measureTardigrade`:
 * tests/programs/fsbench.ts through `FsClient`, checkpoints at 1 ms, the
 * no-sync, fsync-per-op and per-batch suites) and splits every
 * checkpoint's pause (`--report-checkpoints`) into freeze, kernel object
 * records, page scan and copy, and the rest (the thaw).
 *
 * Map of this file: {@link splitPause} (the medians and p99s), then the
 * command line.
 *
 * Run: `deno run -A --unstable-worker-options tools/bench/fs_pause.ts
 * [--fs-mb N] [--step-ms MS] [--full]` (default: the `--quick` sizes, the
 * file system those sizes get, the program's own step of 0.5 ms).
 *
 * @module
 */

import { fsMbFor, measureTardigrade } from "./fs.ts";
import { SIZES_FULL, SIZES_QUICK } from "./fs_workloads.ts";
import { dist } from "./stats.ts";
import type { CheckpointStats } from "../../kernel/abi/protocol.ts";

/** Checkpoints at the start of a run left out (the first touch of every page). */
const WARMUP = 5;

/** Median and p99, µs, of each part of the pause. */
export type PauseSplit = Record<
  "pause" | "freeze" | "objects" | "pages" | "rest" | "dirtyPages",
  { median: number; p99: number }
>;

/** The split of `stats` (the first {@link WARMUP} left out). */
export function splitPause(stats: CheckpointStats[]): PauseSplit {
  const s = stats.slice(WARMUP);
  const objects = (x: CheckpointStats) => Object.values(x.objectsUs).reduce((a, b) => a + b, 0);
  const part = (f: (x: CheckpointStats) => number) => {
    const d = dist(s.map(f));
    return { median: d.median, p99: d.p99 };
  };
  return {
    pause: part((x) => x.pauseUs),
    freeze: part((x) => x.freezeUs),
    objects: part(objects),
    pages: part((x) => x.pageCopyUs),
    rest: part((x) => x.pauseUs - x.freezeUs - x.pageCopyUs - objects(x)),
    dirtyPages: part((x) => x.dirtyPages),
  };
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const full = Deno.args.includes("--full");
  const sizes = full ? SIZES_FULL : SIZES_QUICK;
  const fsMb = arg("--fs-mb") ?? fsMbFor(sizes);
  const stepMs = arg("--step-ms");
  const appArgs = stepMs === undefined ? "" : `&stepMs=${stepMs}`;
  const r = await measureTardigrade(sizes, !full, "suite", [], appArgs, fsMb);
  const split = splitPause(r.checkpointStats ?? []);
  console.log(JSON.stringify({
    fsMb,
    stepMs: stepMs ?? "default",
    checkpoints: r.checkpointStats?.length ?? 0,
    perSecond: r.checkpoints?.perSecond,
    split,
  }));
}
