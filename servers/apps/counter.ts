/**
 * The counter demo: on every timer tick it adds one to a counter kept in its
 * own PMO and prints it. Across SIGKILL and resume the printed sequence never
 * goes back and never repeats: the board releases a line only once the
 * checkpoint holding the counter that produced it has committed.
 *
 * @module
 */

import { CapName } from "../runtime/names.ts";
import { runProgram } from "../runtime/program.ts";
import { lastingPmo } from "../runtime/service.ts";

/** Byte offset of the counter in the PMO. */
const COUNTER_OFFSET = 0;

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    const next = state.getF64(COUNTER_OFFSET) + 1;
    state.setF64(COUNTER_OFFSET, next);
    ctx.print(`counter ${next}`);
  });
});
