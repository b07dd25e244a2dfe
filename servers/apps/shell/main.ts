/**
 * The shell app (`deno task boot --apps shell [--shell-port N]`, default
 * port 2323; `nc 127.0.0.1 2323`, `deno task fs`): the serving loop of
 * app.ts with the commands over the file system's client library
 * (servers/runtime/fs.ts `FsClient`). The protocol: session.ts; the
 * commands: commands.ts.
 *
 * @module
 */

import type { FsApi } from "../../fs/vfs.ts";
import { type Context, runProgram } from "../../runtime/program.ts";
import { runShell } from "./app.ts";

/**
 * The file system's client library, connected. Loaded by name: the
 * library (servers/runtime/fs.ts) comes with the FS server's new protocol.
 */
async function connectFs(ctx: Context): Promise<FsApi> {
  const module = "../../runtime/fs.ts";
  const { FsClient } = await import(module) as {
    FsClient: { connect(ctx: Context): Promise<FsApi> };
  };
  return await FsClient.connect(ctx);
}

runProgram(async (ctx) => runShell(ctx, await connectFs(ctx)));
