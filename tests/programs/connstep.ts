/**
 * Test program: a step that opens a connection and calls through it. On
 * every timer tick (one step at a time) it connects to the memory server
 * (its capability named "memory"), makes an ECHO call over the new connection, and deletes the
 * connection's capability. The connection is announced to the server by a
 * kernel message, so under a freeze the parked server must take that
 * message before it can see the call. After STEPS steps it prints
 * `connstep done taken T skippedFreeze S` from the kernel's counters.
 * Started by tests/persistence/step_freeze_test.ts.
 *
 * @module
 */

import { Label } from "../../servers/protocol.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { unwrap } from "../../servers/runtime/ipc.ts";
import { runProgram } from "../../servers/runtime/program.ts";

/** Steps before the report. */
const STEPS = 40;

runProgram(async (ctx) => {
  let busy = false, n = 0;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy || n >= STEPS) return;
    busy = true;
    return (async () => {
      const conn = await ctx.connect(ctx.cap("memory"));
      unwrap(await conn.call(Label.ECHO, new Uint8Array(4)), "memory echo");
      await ctx.sys.capDelete(conn.slot);
      if (++n < STEPS) return;
      const { checkpoints } = await ctx.sys.systemInfo();
      ctx.print(
        `connstep done taken ${checkpoints.taken} skippedFreeze ${checkpoints.skippedFreeze}`,
      );
    })().finally(() => busy = false);
  });
});
