/**
 * Test program: prints `chatty N` and about 1 KiB of filler on every timer
 * tick (N kept in its own PMO), so its console ring wraps within a second.
 * Started by tests/persistence/resume_test.ts.
 *
 * @module
 */

import { APP_TIMER_SLOT } from "../../servers/init/config.ts";
import { runProgram } from "../../servers/runtime/program.ts";

/** Slot of its PMO: after the timer (2) and the three service capabilities (3, 4, 5). */
const STATE_SLOT = 6;
const FILLER = "x".repeat(1000);

runProgram(async (ctx) => {
  if (!ctx.resumed) await ctx.sys.pmoCreate(1);
  const state = await ctx.map(STATE_SLOT);
  await ctx.onNotification(APP_TIMER_SLOT, () => {
    const n = state.getF64(0) + 1;
    state.setF64(0, n);
    ctx.print(`chatty ${n} ${FILLER}`);
  });
});
