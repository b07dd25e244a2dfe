/**
 * Test program: a step of several calls, as a new user would write it. On
 * every timer tick it creates file `/x<k>` in the FS server (open with
 * O_CREAT | O_EXCL), unlinks it, closes it, and only then stores k in its
 * PMO and prints `files k`. If the step ran again after a resume (the FS
 * had already done the create), the open would fail with EEXIST: it
 * prints `files ERROR <name> at k` instead.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { FsError, OpenFlag } from "../../servers/fs/vfs.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  const fs = await FsClient.connect(ctx);
  let busy = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy) return;
    busy = true;
    const k = state.getU32(0) + 1;
    (async () => {
      const fd = await fs.open(`/x${k}`, OpenFlag.WRONLY | OpenFlag.CREAT | OpenFlag.EXCL);
      await fs.unlink(`/x${k}`);
      await fs.close(fd);
      state.setU32(0, k);
      ctx.print(`files ${k}`);
    })().catch((e) => {
      const code = FsError.from(e)?.errnoName ??
        (e instanceof TardigradeError ? e.codeName : String(e));
      ctx.print(`files ERROR ${code} at ${k}`);
      // Carry on past it, so one failure does not hide the next.
      state.setU32(0, k);
    }).finally(() => busy = false);
  });
});
