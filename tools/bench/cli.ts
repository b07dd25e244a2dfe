/**
 * The command line of the benchmarks: the flags of `deno task bench`
 * ({@link BENCH_FLAGS}, read by tools/bench/mod.ts), and the same flags for a
 * bench module run on its own: `deno run … tools/bench/NAME.ts [--quick]
 * [--json] [--plots DIR]`. (mod.ts imports this module, never the other way round: a bench
 * module that mod.ts loads must not import the module that is loading it.)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { flagHelp, type FlagTable, HELP_FLAG } from "../../hw/flags.ts";
import { type Chart, PLOTS_FLAG } from "../plot/mod.ts";
import { loadAverage } from "../load_average.ts";
import { writeBenchPlots } from "./plots.ts";

/** The flags of `deno task bench` and of every bench module run on its own. */
export const BENCH_FLAGS = {
  json: {
    type: "boolean",
    default: false,
    help: "print only the figures, as one JSON object, on stdout",
  },
  quick: { type: "boolean", default: false, help: "smaller counts and shorter runs" },
  requests: {
    type: "string",
    arg: "N",
    help: "bench kv: requests per redis-benchmark test (default 5000; -c 1 runs take N/50)",
  },
  ...PLOTS_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagTable;

/** What a bench module returns. */
export interface BenchResult {
  figures: Record<string, number>;
  report: string;
  /** Charts of samples the figures leave out (the figures' own charts: tools/bench/plots.ts). */
  plots?: Chart[];
}

/** What every bench function is given: --quick, --requests when set (bench kv), --json as quiet. */
export interface BenchCliOptions {
  quick: boolean;
  requests?: number;
  /** No progress line (--json). */
  quiet?: boolean;
}

/** The --requests value, checked: a positive integer, or undefined when the flag is absent. */
export function requestsOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
    throw new Error(`--requests must be an integer in 1…10000000, got ${text}`);
  }
  return n;
}

/** Runs `bench` with the flags in Deno.args; prints one JSON object (--json) or the report. */
export async function runBenchCli(
  bench: (opts: BenchCliOptions) => Promise<BenchResult>,
): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: BENCH_FLAGS });
  if (values.help) {
    console.log(
      `usage: deno run … ${new URL(Deno.mainModule).pathname} [flags]\n${flagHelp(BENCH_FLAGS)}`,
    );
    return;
  }
  const load = loadAverage();
  const result = await bench({
    quick: values.quick!,
    requests: requestsOption(values.requests),
    quiet: values.json,
  });
  console.log(values.json ? JSON.stringify(result.figures) : result.report);
  const name = new URL(Deno.mainModule).pathname.split("/").pop()!.replace(/\.ts$/, "");
  const command = `deno run … tools/bench/${name}.ts ${Deno.args.join(" ")}`.trim();
  printPlots(await writeBenchPlots(name, result, values.plots!, command, load), values.json!);
}

/** Prints each plot file written: on stdout after the report, on stderr with --json. */
export function printPlots(paths: string[], json: boolean): void {
  for (const p of paths) (json ? console.error : console.log)(`plot: ${p}`);
}
