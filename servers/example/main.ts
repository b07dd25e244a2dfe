/**
 * The example server: a counter that survives crashes, in a dozen lines.
 * Copy this folder to add a server (docs/ARCHITECTURE.md "Add a server").
 *
 * Its total lives in a PMO of its own, found again by name after a resume
 * or a restart (`lastingPmo`); `serveService` answers STATUS and ECHO and
 * passes every other request to `handle`. A handler runs to completion
 * between two safe points, so a checkpoint never holds half an ADD.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import type { Request } from "../runtime/ipc.ts";
import { runProgram } from "../runtime/program.ts";
import { lastingPmo, serveService } from "../runtime/service.ts";
import { ExampleLabel } from "./protocol.ts";

/** Byte offset of the total (f64) in the state PMO. */
const TOTAL_OFFSET = 0;

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  const reply = (total: number) => new PayloadWriter(8).f64(total).done();
  const handle = (req: Request) => {
    switch (req.label) {
      case ExampleLabel.ADD: {
        const r = new PayloadReader(req.payload, "example ADD");
        const n = r.f64();
        r.end();
        if (!Number.isFinite(n)) {
          throw new TardigradeError(Err.E_BAD_ARGUMENT, `example: ADD ${n}: not a finite number`);
        }
        state.setF64(TOTAL_OFFSET, state.getF64(TOTAL_OFFSET) + n);
        return reply(state.getF64(TOTAL_OFFSET));
      }
      case ExampleLabel.TOTAL:
        return reply(state.getF64(TOTAL_OFFSET));
      default:
        throw new TardigradeError(Err.E_NOT_SUPPORTED, `example: no operation ${req.label}`);
    }
  };
  await serveService(ctx, "example", handle);
});
