/**
 * The memory server. At this stage it answers STATUS and ECHO over its
 * endpoint.
 *
 * @module
 */

import { runProgram } from "../runtime/program.ts";
import { serveService } from "../runtime/service.ts";

runProgram(async (ctx) => {
  await serveService(ctx, "memory");
});
