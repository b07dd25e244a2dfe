/**
 * The shell app (`deno task boot --apps shell [--shell-port N]`, default
 * port 2323; `nc 127.0.0.1 2323`, `deno task fs`): the serving loop of
 * app.ts with the commands over the file system's client library
 * (servers/runtime/fs.ts {@link FsClient}). The protocol: session.ts; the
 * commands: commands.ts.
 *
 * @module
 */

import { FsClient } from "../../runtime/fs.ts";
import { runProgram } from "../../runtime/program.ts";
import { runShell } from "./app.ts";

runProgram(async (ctx) => runShell(ctx, await FsClient.connect(ctx)));
