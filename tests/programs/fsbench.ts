/**
 * Bench program of `deno task bench fs` (tools/bench/fs.ts): runs the
 * workloads of tools/bench/fs_workloads.ts through `FsClient` against the
 * FS server, and prints its timings on the console.
 *
 * Arguments (`--apps tests/programs/fsbench.ts?quick=1&timerMs=0`):
 * - `quick`: 1 for the sizes of `--quick`;
 * - `suite`: "suite" (default), "flat" (the flat-cost sweep) or "both";
 * - `only`: "none" to run the suite without durability only (for a machine
 *   with checkpoints off, where `fsync` and `sync` return at once);
 * - `stepMs`: the longest step (default {@link STEP_MS}).
 *
 * Steps: a program runs in steps, and a checkpoint cuts only between two
 * (servers/runtime/program.ts). The suite runs in steps of at most
 * {@link STEP_MS}: before each operation, once the step has run that
 * long, it ends the step and signals its own notification, whose handler
 * starts the next one. A `fsync` or `sync` parks its step until the
 * checkpoint covering it commits. So checkpoints (every 1 ms by default)
 * run among the operations as they would among any program's.
 *
 * Output, one line each, released when the checkpoint covering it commits:
 * `fsbench M KEY OPS MS MEDIAN_US P99_US BYTES` per measure (KEY e.g.
 * `small_files.each`), `fsbench F dir|file SIZE A B [C]` per flat-cost row,
 * then `fsbench done`; `fsbench ERROR text` if a call failed.
 *
 * @module
 */

import { FsClient } from "../../servers/runtime/fs.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import {
  DURABILITIES,
  FLAT_FULL,
  FLAT_QUICK,
  flatCost,
  runSuite,
  SIZES_FULL,
  SIZES_QUICK,
} from "../../tools/bench/fs_workloads.ts";

/** Longest step between two operations, ms. */
const STEP_MS = 0.5;

runProgram(async (ctx) => {
  if (ctx.resumed) return; // a bench run is not resumed: a fresh image each time
  const quick = ctx.args.quick === 1;
  const which = typeof ctx.args.suite === "string" ? ctx.args.suite : "suite";
  const fs = await FsClient.connect(ctx);
  const wake = await ctx.sys.notificationCreate();

  // The step in flight: `end` settles its handler's promise; `next` starts the next one.
  let end: (() => void) | undefined;
  let next: (() => void) | undefined;
  let stepStart = 0;
  const stepMs = typeof ctx.args.stepMs === "number" ? ctx.args.stepMs : STEP_MS;
  const between = async () => {
    if (end && performance.now() - stepStart < stepMs) return;
    const endThis = end;
    end = undefined;
    const started = new Promise<void>((r) => (next = r));
    await ctx.sys.notificationSignal(wake);
    endThis?.();
    await started;
  };
  await ctx.onNotification(wake, () => {
    const start = next;
    if (!start) return;
    next = undefined;
    return new Promise<void>((resolve) => {
      end = resolve;
      stepStart = performance.now();
      start();
    });
  });

  const run = async () => {
    if (which !== "flat") {
      const ds = ctx.args.only === "none" ? DURABILITIES.slice(0, 1) : DURABILITIES;
      const sizes = quick ? SIZES_QUICK : SIZES_FULL;
      const result = await runSuite(fs, "/fsbench", ds, sizes, { between });
      for (const [key, m] of Object.entries(result)) {
        ctx.print(`fsbench M ${key} ${m.ops} ${m.ms} ${m.medianUs} ${m.p99Us} ${m.bytes ?? 0}`);
      }
    }
    if (which !== "suite") {
      const flat = await flatCost(fs, "/fsflat", quick ? FLAT_QUICK : FLAT_FULL, { between });
      for (const r of flat.dir) {
        ctx.print(`fsbench F dir ${r.entries} ${r.create} ${r.stat} ${r.unlink}`);
      }
      for (const r of flat.file) ctx.print(`fsbench F file ${r.bytes} ${r.pread} ${r.pwrite}`);
    }
    ctx.print("fsbench done");
  };
  // The first step starts with the first operation (main is not a step: no checkpoint-wait here).
  between().then(run).catch((e) => {
    ctx.print(`fsbench ERROR ${e instanceof Error ? e.message : String(e)}`);
  }).finally(() => end?.());
});
