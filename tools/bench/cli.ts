/**
 * The command line every bench module shares when run on its own:
 * `deno run … tools/bench/NAME.ts [--quick] [--json]`, with the flags of
 * `deno task bench` (tools/bench/mod.ts {@link BENCH_FLAGS}).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { flagHelp } from "../../hw/flags.ts";
import { BENCH_FLAGS } from "./mod.ts";

/** What a bench module returns. */
export interface BenchResult {
  figures: Record<string, number>;
  report: string;
}

/** Runs `bench` with the flags in Deno.args; prints one JSON object (--json) or the report. */
export async function runBenchCli(
  bench: (opts: { quick: boolean }) => Promise<BenchResult>,
): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: BENCH_FLAGS });
  if (values.help) {
    console.log(
      `usage: deno run … ${new URL(Deno.mainModule).pathname} [flags]\n${flagHelp(BENCH_FLAGS)}`,
    );
    return;
  }
  const { figures, report } = await bench({ quick: values.quick! });
  console.log(values.json ? JSON.stringify(figures) : report);
}
