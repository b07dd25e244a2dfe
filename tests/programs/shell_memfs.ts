/**
 * The shell app (servers/apps/shell/app.ts) over a volatile in-memory
 * FsApi (_mem_fs.ts): its network side and its lasting sessions, tested
 * without the FS server (`--apps tests/programs/shell_memfs.ts?port=N`).
 *
 * @module
 */

import { runShell } from "../../servers/apps/shell/app.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { MemFs } from "./_mem_fs.ts";

runProgram((ctx) => runShell(ctx, new MemFs()));
