/**
 * The command line every bench module shares when run on its own:
 * `deno run … tools/bench/NAME.ts [--quick] [--json]`.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What a bench module returns. */
export interface BenchResult {
  figures: Record<string, number>;
  report: string;
}

/** Runs `bench` with the flags in Deno.args; prints one JSON object (--json) or the report. */
export async function runBenchCli(
  bench: (opts: { quick: boolean }) => Promise<BenchResult>,
): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const { figures, report } = await bench({ quick: values.quick! });
  console.log(values.json ? JSON.stringify(figures) : report);
}
