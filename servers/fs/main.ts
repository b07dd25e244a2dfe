/**
 * The file system server. At this stage it answers STATUS and ECHO over its
 * endpoint and checks that it can reach the memory server (slot 3).
 *
 * @module
 */

import { NEEDS_FIRST_SLOT } from "../init/config.ts";
import { runProgram } from "../runtime/program.ts";
import { serveService } from "../runtime/service.ts";

runProgram(async (ctx) => {
  const memory = ctx.resumed ? null : await ctx.connect(NEEDS_FIRST_SLOT);
  await serveService(ctx, "fs");
  if (memory) ctx.log(`fs: connected to the memory server (connection ${memory.connId})`);
});
