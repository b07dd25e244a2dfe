/**
 * Test program: a step parked in `checkpoint_wait` with another step
 * queued behind it, as a network app's POLL steps queue behind one another
 * (servers/runtime/net.ts `Sockets.exclusive`). Each timer tick returns the
 * run queued behind the one in flight (one queued at a time); each run
 * waits for the checkpoint covering it. After ROUNDS runs it prints
 * `syncqueue done N`. Started by tests/persistence/step_freeze_test.ts.
 *
 * @module
 */

import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";

/** Runs before the report. */
const ROUNDS = 10;

runProgram(async (ctx) => {
  let tail: Promise<void> = Promise.resolve(), queued: Promise<void> | undefined, n = 0;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (n >= ROUNDS) return;
    return queued ??= tail = tail.then(async () => {
      queued = undefined;
      await ctx.sys.checkpointWait();
      if (++n === ROUNDS) ctx.print(`syncqueue done ${n}`);
    });
  });
});
