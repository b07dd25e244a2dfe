/**
 * Test program: many concurrent clients. Opens CONNECTIONS connections to
 * the memory server (the capability "memory") and runs CALLS echo calls on each, all at once;
 * checks every reply carries exactly its own request's bytes. Prints one line
 * `ipcload {json}`.
 *
 * @module
 */

import { Err } from "../../kernel/abi/errors.ts";
import { Label } from "../../servers/protocol.ts";
import type { ClientConnection } from "../../servers/runtime/ipc.ts";
import { runProgram } from "../../servers/runtime/program.ts";

const CONNECTIONS = 8;
const CALLS = 200;

runProgram(async (ctx) => {
  if (ctx.resumed) return;
  const conns: ClientConnection[] = [];
  for (let i = 0; i < CONNECTIONS; i++) conns.push(await ctx.connect(ctx.cap("memory")));
  let ok = 0, mismatches = 0, errors = 0;
  await Promise.all(conns.map(async (conn, i) => {
    for (let n = 0; n < CALLS; n++) {
      const text = `${ctx.threadId}/${i}/${n}`;
      const reply = await conn.call(Label.ECHO, new TextEncoder().encode(text));
      if (reply.status !== Err.OK) errors++;
      else if (new TextDecoder().decode(reply.payload) !== text) mismatches++;
      else ok++;
    }
  }));
  ctx.print(`ipcload ${JSON.stringify({ ok, mismatches, errors, expected: CONNECTIONS * CALLS })}`);
});
