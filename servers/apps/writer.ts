/**
 * A write-heavy app for checkpoint measurements: on every timer tick it
 * writes one word in each of `PAGES_PER_TICK` pages of a 256-page PMO,
 * walking through it, and prints a line every 1000 ticks.
 *
 * @module
 */

import { CapName } from "../runtime/names.ts";
import { runProgram } from "../runtime/program.ts";
import { lastingPmo } from "../runtime/service.ts";

const PMO_PAGES = 256;
const PAGES_PER_TICK = 16;

runProgram(async (ctx) => {
  const mem = await lastingPmo(ctx, "state", PMO_PAGES);
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    const tick = mem.getF64(0) + 1;
    mem.setF64(0, tick);
    for (let i = 0; i < PAGES_PER_TICK; i++) {
      const page = 1 + ((tick * PAGES_PER_TICK + i) % (PMO_PAGES - 1));
      mem.setU32(page * 4096, tick);
    }
    if (tick % 1000 === 0) ctx.print(`writer tick ${tick}`);
  });
});
