/**
 * The command line of the benchmarks: the flags of `deno task bench`
 * ({@link BENCH_FLAGS}, read by tools/bench/mod.ts), and the same flags for a
 * bench module run on its own: `deno run … tools/bench/NAME.ts [--quick]
 * [--json]`. (mod.ts imports this module, never the other way round: a bench
 * module that mod.ts loads must not import the module that is loading it.)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { flagHelp, type FlagTable, HELP_FLAG } from "../../hw/flags.ts";

/** The flags of `deno task bench` and of every bench module run on its own. */
export const BENCH_FLAGS = {
  json: {
    type: "boolean",
    default: false,
    help: "print only the figures, as one JSON object, on stdout",
  },
  quick: { type: "boolean", default: false, help: "smaller counts and shorter runs" },
  ...HELP_FLAG,
} as const satisfies FlagTable;

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
