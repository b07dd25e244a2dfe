/**
 * Test program: prints `chatty N` and about 1 KiB of filler on every timer
 * tick (N kept in its own PMO), so its console ring wraps within a second.
 * The filler is `x`s, or the text of the `filler` argument repeated (e.g.
 * `é→😀`, for output that is not ASCII). Started by
 * tests/persistence/resume_test.ts and tests/persistence/console_test.ts.
 *
 * @module
 */

import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

runProgram(async (ctx) => {
  const unit = typeof ctx.args.filler === "string" ? ctx.args.filler : "x";
  const FILLER = unit.repeat(Math.ceil(1000 / new TextEncoder().encode(unit).length));
  const state = await lastingPmo(ctx, "state", 1);
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    const n = state.getF64(0) + 1;
    state.setF64(0, n);
    ctx.print(`chatty ${n} ${FILLER}`);
  });
});
