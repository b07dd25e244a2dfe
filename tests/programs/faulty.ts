/**
 * Test program: a component that fails on purpose. Its first life runs a
 * few timer ticks, then does what `fault` says (`loop`: an endless loop in
 * a handler; `throw`: an uncaught exception; `exit`: the worker closes
 * itself between handlers); every later life (restarted
 * by the kernel) prints `faulty restarted N` and keeps ticking. Lives are
 * counted in its own PMO.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { runProgram } from "../../servers/runtime/program.ts";

const STATE_SLOT = 3 + 3; // after the timer (2) and the three service capabilities (3, 4, 5)

runProgram(async (ctx) => {
  if (!ctx.resumed) await ctx.sys.pmoCreate(1);
  const mem = await ctx.map(STATE_SLOT);
  const lives = mem.getU32(0) + 1;
  mem.setU32(0, lives);
  if (lives > 1) ctx.print(`faulty restarted ${lives - 1}`);
  let ticks = 0;
  await ctx.onNotification(2, () => {
    ticks++;
    if (lives === 1 && ticks === 5) {
      if (ctx.args.fault === "throw") throw new Error("faulty: thrown on purpose");
      if (ctx.args.fault === "exit") {
        setTimeout(() => self.close(), 0); // outside any handler: Deno reports nothing
        return;
      }
      for (;;) { /* an endless loop on purpose */ }
    }
  });
});
