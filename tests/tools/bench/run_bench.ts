/**
 * Runs one benchmark as `deno task bench NAME …` does (deno.json's
 * permissions), for the tests that check a bench's real output.
 *
 * @module
 */

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
      "run",
      "--unstable-worker-options",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env",
      "--allow-net=127.0.0.1",
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
