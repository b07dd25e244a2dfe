/**
 * Test program: a step of several calls, as a new user would write it. On
 * every timer tick it creates file `x<k>` in the FS server, deletes it,
 * and only then stores k in its PMO and prints `files k`. If the step ran
 * again after a resume (the FS had already done the create), the create
 * would fail with E_EXISTS: it prints `files ERROR <code> at k` instead.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { FsClient } from "../../servers/fs/protocol.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingConnection, lastingPmo } from "../../servers/runtime/service.ts";

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  const fs = new FsClient(await lastingConnection(ctx, "fs"));
  let busy = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy) return;
    busy = true;
    const k = state.getU32(0) + 1;
    (async () => {
      await fs.create(`x${k}`);
      await fs.delete(`x${k}`);
      state.setU32(0, k);
      ctx.print(`files ${k}`);
    })().catch((e) => {
      const code = e instanceof TardigradeError ? e.codeName : String(e);
      ctx.print(`files ERROR ${code} at ${k}`);
      // Carry on past it, so one failure does not hide the next.
      state.setU32(0, k);
    }).finally(() => busy = false);
  });
});
