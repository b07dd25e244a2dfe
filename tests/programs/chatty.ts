/**
 * Test program: prints `chatty N` and about 1 KiB of filler on every timer
 * tick (N kept in its own PMO), so its console ring wraps within a second.
 * The filler is `x`s, or the text of the `filler` argument repeated (e.g.
 * `é→😀`, for output that is not ASCII). Started by
 * tests/persistence/resume_test.ts and tests/persistence/console_test.ts.
 *
 * @module
 */

import { APP_TIMER_SLOT } from "../../servers/init/config.ts";
import { runProgram } from "../../servers/runtime/program.ts";

/** Slot of its PMO: after the timer (2) and the three service capabilities (3, 4, 5). */
const STATE_SLOT = 6;

runProgram(async (ctx) => {
  const unit = typeof ctx.args.filler === "string" ? ctx.args.filler : "x";
  const FILLER = unit.repeat(Math.ceil(1000 / new TextEncoder().encode(unit).length));
  if (!ctx.resumed) await ctx.sys.pmoCreate(1);
  const state = await ctx.map(STATE_SLOT);
  await ctx.onNotification(APP_TIMER_SLOT, () => {
    const n = state.getF64(0) + 1;
    state.setF64(0, n);
    ctx.print(`chatty ${n} ${FILLER}`);
  });
});
