/**
 * Test program for tests/fs/close_lost_test.ts: a connection closed while
 * its close may be lost. Its phase is kept in a lasting PMO:
 *
 * - first start: on its first tick opens /held on a second connection,
 *   unlinks it (the open descriptor keeps the inode), and prints
 *   `fsclose held N` (N: inodes in use, /held's among them).
 * - the next start (a resume): first thing in `main`, while the FS server
 *   is still dormant, deletes that connection's capability (the connection
 *   closes for good) and prints `fsclose closed`.
 * - any later start: on its first tick prints `fsclose inodes N`.
 *
 * @module
 */

import { OpenFlag } from "../../servers/fs/vfs.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

/** Words of the state PMO. */
const PHASE = 0, SLOT = 4;

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "fsclose-state", 1);
  const phase = state.getU32(PHASE);
  if (phase === 1) {
    await ctx.sys.capDelete(state.getU32(SLOT));
    state.setU32(PHASE, 2);
    ctx.print("fsclose closed");
  }
  const fs = await FsClient.connect(ctx);
  let done = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (done || phase === 1) return;
    done = true;
    return (async () => {
      if (phase === 0) {
        const conn = await ctx.connect(ctx.cap("fs"));
        await new FsClient(conn).open("/held", OpenFlag.RDWR | OpenFlag.CREAT);
        await fs.unlink("/held");
        state.setU32(SLOT, conn.slot);
        state.setU32(PHASE, 1);
        ctx.print(`fsclose held ${(await fs.space()).inodes}`);
      } else {
        ctx.print(`fsclose inodes ${(await fs.space()).inodes}`);
      }
    })().catch((e) => ctx.print(`fsclose failed ${String(e)}`));
  });
});
