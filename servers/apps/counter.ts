/**
 * The counter demo: on every timer tick it adds one to a counter kept in its
 * own PMO and prints it. Across SIGKILL and resume the printed sequence never
 * goes back and never repeats: the board releases a line only once the
 * checkpoint holding the counter that produced it has committed.
 *
 * @module
 */

import { APP_TIMER_SLOT } from "../init/config.ts";
import { runProgram } from "../runtime/program.ts";

/** Slot of the counter's PMO (the first free slot after the timer). */
const STATE_SLOT = 3;
/** Byte offset of the counter in the PMO. */
const COUNTER_OFFSET = 0;

runProgram(async (ctx) => {
  if (!ctx.resumed) {
    const slot = await ctx.sys.pmoCreate(1);
    if (slot !== STATE_SLOT) throw new Error(`counter: state PMO landed in slot ${slot}`);
  }
  const state = await ctx.map(STATE_SLOT);
  await ctx.onNotification(APP_TIMER_SLOT, () => {
    const next = state.getF64(COUNTER_OFFSET) + 1;
    state.setF64(COUNTER_OFFSET, next);
    ctx.print(`counter ${next}`);
  });
});
