/**
 * Test program: a component that fails on purpose. Its first life runs a
 * few timer ticks, then does what `fault` says (`loop`: an endless loop in
 * a handler; `throw`: an uncaught exception; `exit`: the worker closes
 * itself between handlers); every later life (restarted
 * by the kernel) prints `faulty restarted N dirty D` and keeps ticking.
 * Lives are counted in its own PMO. Just before it throws, in the same
 * handler (so no checkpoint can hold either), it sets the PMO's dirty word
 * and prints `faulty doomed`: after a `rollback` restart D is 0 and that
 * line is never released; after a `fresh` one D is 1 and it is.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

/** Byte offsets in the state PMO. */
const LIVES_OFFSET = 0, DIRTY_OFFSET = 4;

runProgram(async (ctx) => {
  const mem = await lastingPmo(ctx, "state", 1);
  const lives = mem.getU32(LIVES_OFFSET) + 1;
  mem.setU32(LIVES_OFFSET, lives);
  if (lives > 1) ctx.print(`faulty restarted ${lives - 1} dirty ${mem.getU32(DIRTY_OFFSET)}`);
  let ticks = 0;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    ticks++;
    if (lives === 1 && ticks === 5) {
      if (ctx.args.fault === "throw") {
        mem.setU32(DIRTY_OFFSET, 1);
        ctx.print("faulty doomed");
        throw new Error("faulty: thrown on purpose");
      }
      if (ctx.args.fault === "exit") {
        setTimeout(() => self.close(), 0); // outside any handler: Deno reports nothing
        return;
      }
      for (;;) { /* an endless loop on purpose */ }
    }
  });
});
