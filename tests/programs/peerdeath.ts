/**
 * Test program: a caller whose server dies mid-call gets E_PEER_DIED, not a
 * hang. Starts tests/programs/victim.ts in its own cap group (policy none),
 * checks an echo, then calls the label that makes the victim loop; the
 * kernel's watchdog stops the victim and the pending call fails. Prints one
 * line `peerdeath {json}`.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { unwrap } from "../../servers/runtime/ipc.ts";
import { runProgram } from "../../servers/runtime/program.ts";

runProgram(async (ctx) => {
  if (ctx.resumed) return;
  const endpoint = await ctx.sys.endpointCreate();
  await ctx.sys.threadCreate(0, "tests/programs/victim.ts", { slot: endpoint }, "none");
  const conn = await ctx.connect(endpoint);
  const echo = new TextDecoder().decode(
    unwrap(await conn.call(2, new TextEncoder().encode("hi")), "echo"),
  );
  const t0 = performance.now();
  const reply = await conn.call(1);
  const waitedMs = Math.round(performance.now() - t0);
  let after = "";
  try {
    await conn.call(2);
  } catch (e) {
    after = e instanceof TardigradeError ? e.codeName : String(e);
  }
  ctx.print(`peerdeath ${JSON.stringify({ echo, status: reply.status, waitedMs, after })}`);
});
