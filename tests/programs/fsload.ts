/**
 * Test program: the file-system load of `scenario crash --load fs`
 * (tools/fs_load.ts has the line format and the check). Args: `seed`,
 * `ops` (how many at most, default 100000), `syncEvery` (default 10). On
 * every timer tick, one step: the next seeded path operation, printed as
 * `fsload op N RESULT`, and after every `syncEvery`-th a `sync`, printed as
 * `fsload synced N`. The count of operations done lives in a lasting PMO,
 * written in the same step before the sync (a checkpoint is cut while the
 * sync waits), so after a resume the program goes on from the committed
 * one; the first tick after every start prints the tree it
 * finds (`fsload tree N …`).
 *
 * @module
 */

import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { loadOps, printTree, runLoadOp } from "../../tools/fs_load.ts";

runProgram(async (ctx) => {
  const seed = Number(ctx.args.seed ?? 1) >>> 0;
  const count = Number(ctx.args.ops ?? 100_000);
  const syncEvery = Math.max(1, Number(ctx.args.syncEvery ?? 10));
  const state = await lastingPmo(ctx, "fsload", 1);
  const fs = await FsClient.connect(ctx);
  const ops = loadOps(seed, count);
  const print = (s: string) => ctx.print(s);
  let started = false, busy = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy) return;
    const n = state.getU32(0);
    if (started && n >= count) return;
    busy = true;
    return (async () => {
      if (!started) {
        started = true;
        await printTree(fs, n, print);
        return;
      }
      await runLoadOp(fs, ops, n, syncEvery, print, () => state.setU32(0, n + 1));
    })().catch((e) => {
      print(`fsload error ${e instanceof Error ? e.message : String(e)}`);
    }).finally(() => busy = false);
  });
});
