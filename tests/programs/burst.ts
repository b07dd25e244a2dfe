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
import { lastingPmo } from "../../servers/runtime/service.ts";

/** Lines of the burst. */
export const BURST_LINES = 48;

/** Line `i` of the burst. */
export function burstLine(i: number): string {
  return `burst ${i} ${"b".repeat(1000)}`;
}

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  if (!ctx.resumed) return ctx.print("burst: ready");
  if (state.getU32(0) !== 0) return;
  for (let i = 0; i < BURST_LINES; i++) ctx.print(burstLine(i));
  state.setU32(0, 1);
  ctx.log("burst: printed");
});
