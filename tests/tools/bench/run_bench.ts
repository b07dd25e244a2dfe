/**
 * Runs one benchmark as `deno task bench NAME …` does (deno.json's
 * permissions), for the tests that check a bench's real output.
 *
 * @module
 */

import { TASK_RUN_ARGS } from "../../helpers.ts";

/** A finished bench run: whether it exited 0, its stdout (the JSON) and stderr (its report). */
export interface BenchRun {
  success: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `deno task bench name ...args` in a process of its own. */
export async function runBench(name: string, args: string[]): Promise<BenchRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...TASK_RUN_ARGS,
      new URL("../../../tools/bench/mod.ts", import.meta.url).pathname,
      name,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { success: out.success, stdout: text(out.stdout), stderr: text(out.stderr) };
}
