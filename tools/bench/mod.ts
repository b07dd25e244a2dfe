/**
 * `deno task bench NAME [--json] [--quick] [--plots DIR]`: runs one benchmark.
 *
 * With `--json`, stdout holds exactly one JSON object (the figures) and
 * nothing else; progress and the plot files written go to stderr. Without
 * it, stdout gets the benchmark's readable report, then `plot: PATH` for
 * each SVG written (tools/bench/plots.ts; `--plots off`: none). An unknown
 * NAME lists the names and exits 2.
 *
 * To add a benchmark: write `tools/bench/NAME.ts` exporting a function of
 * type {@link BenchFn} and add a loader to {@link BENCHES}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { flagHelp } from "../../hw/flags.ts";
import { BENCH_FLAGS, type BenchResult, printPlots, requestsOption } from "./cli.ts";
import { writeBenchPlots } from "./plots.ts";
import { loadAverage } from "../load_average.ts";

/** Options every benchmark takes. */
export interface BenchOptions {
  /** Smaller counts and shorter runs. */
  quick: boolean;
  /** `--requests N` (bench kv: requests per redis-benchmark test). */
  requests?: number;
  /** No progress line on the terminal (--json). */
  quiet?: boolean;
}

/** A benchmark: figures (flat numbers, for --json), a readable report, charts of its samples. */
export type BenchFn = (opts: BenchOptions) => Promise<BenchResult>;

/** Every benchmark, by name; loaded on demand, so a missing module fails only when run. */
export const BENCHES: Record<string, () => Promise<BenchFn>> = {
  ipc: () => import("./ipc.ts").then((m) => m.benchIpc),
  memory: () => import("./memory.ts").then((m) => m.benchMemory),
  checkpoint: () => import("./checkpoint.ts").then((m) => m.benchCheckpoint),
  net: () => import("./net.ts").then((m) => m.benchNet),
  kv: () => import("./kv.ts").then((m) => m.benchKv),
  fs: () => import("./fs.ts").then((m) => m.benchFs),
};

const USAGE = `usage: deno task bench NAME [flags]   (NAME one of: ${
  Object.keys(BENCHES).join(", ")
})
${flagHelp(BENCH_FLAGS)}`;

/** Parses the arguments and runs one benchmark; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: BENCH_FLAGS,
    });
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`bench: expected one benchmark name, got ${positionals.length}\n${USAGE}`);
    return 2;
  }
  const name = positionals[0];
  const load = Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
  if (!load) {
    console.error(
      `bench: unknown benchmark "${name}"; the benchmarks are: ${
        Object.keys(BENCHES).join(", ")
      }\n${USAGE}`,
    );
    return 2;
  }
  let bench: BenchFn;
  try {
    bench = await load();
  } catch (e) {
    console.error(
      `bench: cannot load benchmark "${name}" (tools/bench/${name}.ts): ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
    return 1;
  }
  if (typeof bench !== "function") {
    console.error(`bench: tools/bench/${name}.ts does not export the expected bench function`);
    return 1;
  }
  const quick = values.quick!;
  let requests: number | undefined;
  try {
    requests = requestsOption(values.requests);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  console.error(`bench: running ${name}${quick ? " (quick)" : ""}...`);
  const t0 = performance.now();
  const loadBefore = loadAverage();
  const result = await bench({ quick, requests, quiet: values.json });
  console.error(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(values.json ? JSON.stringify(result.figures) : result.report);
  const command = ["deno task bench", ...args].join(" ");
  printPlots(await writeBenchPlots(name, result, values.plots!, command, loadBefore), values.json!);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
