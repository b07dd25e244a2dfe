/**
 * Test program: another owner at the memory server, for
 * tests/programs/hostile.ts to attack. At its first start it creates the
 * named object "owner:file" holding "not yours" and prints `owner ready`.
 *
 * @module
 */

import { MemoryClient } from "../../servers/memory/client.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingConnection } from "../../servers/runtime/service.ts";
import { OWNER_BYTES, OWNER_OBJECT } from "./_owner_object.ts";

runProgram(async (ctx) => {
  const memory = new MemoryClient(await lastingConnection(ctx, "memory"));
  if (ctx.resumed) return;
  const o = await memory.create(OWNER_OBJECT, 16);
  await memory.write(o.id, 0, new TextEncoder().encode(OWNER_BYTES));
  ctx.print("owner ready");
});
