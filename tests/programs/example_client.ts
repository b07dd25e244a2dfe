/**
 * Test program: the client of the example server (servers/example/), as
 * docs/ARCHITECTURE.md "Add a server" writes it. On every timer tick it adds
 * 1 to the server's total and prints `example total T`; a call that fails
 * prints `example ERROR <code>` and the next tick tries again. Its
 * connection is found again by name after a resume (`lastingConnection`).
 * ADD is not idempotent, so it asks for no transparent retry: a call still
 * waiting in the ring when the server dies is served by the restarted
 * server, once; only a call the dead server had already taken fails
 * (E_PEER_DIED: it may have run). Started by tests/servers/add_server_test.ts.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { ExampleClient } from "../../servers/example/protocol.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingConnection } from "../../servers/runtime/service.ts";

runProgram(async (ctx) => {
  const conn = await lastingConnection(ctx, "example");
  const example = new ExampleClient(conn);
  let busy = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy) return;
    busy = true;
    example.add(1)
      .then((total) => ctx.print(`example total ${total}`))
      .catch((e) => ctx.print(`example ERROR ${e instanceof TardigradeError ? e.codeName : e}`))
      .finally(() => busy = false);
  });
});
