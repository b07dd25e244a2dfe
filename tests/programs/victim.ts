/**
 * Test program: a server that hangs. Serves the endpoint in slot
 * `args.slot`; label 1 loops forever (the watchdog must stop it), any other
 * label echoes. Started by tests/programs/peerdeath.ts in its own cap group.
 *
 * @module
 */

import { runProgram } from "../../servers/runtime/program.ts";

runProgram(async (ctx) => {
  await ctx.serve(Number(ctx.args.slot), (req) => {
    if (req.label === 1) { for (;;) { /* hang on purpose */ } }
    return req.payload;
  });
});
