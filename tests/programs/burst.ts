/**
 * Test program: prints 48 lines of about 1 KiB (more than half the console
 * ring) in one handler, at its first start after a resume, then logs
 * "burst: printed" (a diagnostic, out at once), so a test knows the next
 * checkpoint covers all of it. At a fresh start it prints `burst: ready`; a
 * flag in its own PMO, set with the burst, keeps it from bursting twice.
 * Started by tests/persistence/console_test.ts.
 *
 * @module
 */

import { runProgram } from "../../servers/runtime/program.ts";

/** Slot of its PMO: after the timer (2) and the three service capabilities (3, 4, 5). */
const STATE_SLOT = 6;
/** Lines of the burst. */
export const BURST_LINES = 48;

/** Line `i` of the burst. */
export function burstLine(i: number): string {
  return `burst ${i} ${"b".repeat(1000)}`;
}

runProgram(async (ctx) => {
  if (!ctx.resumed) await ctx.sys.pmoCreate(1);
  const state = await ctx.map(STATE_SLOT);
  if (!ctx.resumed) return ctx.print("burst: ready");
  if (state.getU32(0) !== 0) return;
  for (let i = 0; i < BURST_LINES; i++) ctx.print(burstLine(i));
  state.setU32(0, 1);
  ctx.log("burst: printed");
});
