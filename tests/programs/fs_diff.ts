/**
 * Test program: the differential test on the booted system. It regenerates
 * the seeded operations of tools/fs_diff.ts from its args (`seed`, `ops`),
 * runs them on the FS server through `FsClient`, `batch` per timer tick
 * (default 10), and prints each result as one line, `fsdiff r N RESULT`;
 * then the final tree, `fsdiff tree LINE` each, and `fsdiff done N`. The
 * host side (tools/fs_diff.ts `diffBooted`) runs the same operations on a
 * host directory and compares with the lines the console showed. An
 * error outside the operations prints `fsdiff error …`.
 *
 * @module
 */

import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { applyOp, seededOps, sideState, treeOf } from "../../tools/fs_diff.ts";

runProgram(async (ctx) => {
  const seed = Number(ctx.args.seed ?? 1) >>> 0;
  const count = Number(ctx.args.ops ?? 100);
  const batch = Number(ctx.args.batch ?? 10);
  const fs = await FsClient.connect(ctx);
  const ops = seededOps(seed, count);
  const side = sideState();
  let next = 0, busy = false, done = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy || done) return;
    busy = true;
    return (async () => {
      for (let i = 0; i < batch && next < count; i++, next++) {
        ctx.print(`fsdiff r ${next} ${await applyOp(fs, side, ops[next])}`);
      }
      if (next === count) {
        done = true;
        for (const l of await treeOf(fs)) ctx.print(`fsdiff tree ${l}`);
        ctx.print(`fsdiff done ${count}`);
      }
    })().catch((e) => {
      done = true;
      ctx.print(`fsdiff error ${e instanceof Error ? e.message : String(e)}`);
    }).finally(() => busy = false);
  });
});
