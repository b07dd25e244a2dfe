/**
 * The network driver. At this stage it answers STATUS and ECHO over its
 * endpoint; the NIC port and the switch come with the network issue.
 *
 * @module
 */

import { runProgram } from "../runtime/program.ts";
import { serveService } from "../runtime/service.ts";

runProgram(async (ctx) => {
  await serveService(ctx, "net");
});
