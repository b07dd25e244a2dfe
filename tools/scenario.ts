/**
 * Crash-and-resume scenarios: `deno task scenario NAME [--seed S] [--iterations N]`.
 * This module is the command line: {@link SCENARIOS} names each scenario,
 * its flags and how it runs; the scenarios are modules of their own, which
 * never import this one.
 *
 * - crash (tools/crash_scenario.ts): boot with a counter and a write-heavy app, SIGKILL the machine at
 *   a seeded random instant (while running, or during resume itself), resume,
 *   check the invariants, repeat; `--load fs` adds the file-system load
 *   (tests/programs/fsload.ts), its tree checked after every resume.
 * - power (tools/power_scenario.ts): inject a fault into each kind of checkpoint write (data runs,
 *   header runs, the superblock) through the image's writer: power failure
 *   before or after it, a torn write, a lost write, an I/O error; resume, and
 *   check the image holds the previous or the new checkpoint, with the
 *   digest committed, never a mix and never less than was committed.
 * - nested: seeded SIGKILLs while requests make nested calls and steps
 *   await several calls; every effect must happen exactly once
 *   (tools/nested_scenario.ts).
 * - faults: seeded fault injection into the servers and apps
 *   (tools/faults_scenario.ts).
 * - net: seeded SIGKILLs under echo traffic from real TCP clients; every
 *   reply exactly once and no connection broken (tools/net_scenario.ts).
 * - kv: seeded SIGKILLs under redis-cli and raw-socket clients of the kv
 *   store (INCR, SET, APPEND, pipelined and not): every reply from
 *   committed state, every acknowledged write kept, no connection broken
 *   (tools/kv_scenario.ts).
 * - kvdiff: a long seeded differential run, the store (or a second
 *   redis-server) against a real redis-server, every reply compared byte
 *   for byte (tools/kv_diff.ts).
 * - fsdiff: a long seeded file-system differential run, one side against
 *   a temporary directory on the host, every result, error name and the
 *   final trees compared (tools/fs_diff.ts; --against booted: the booted
 *   FS server through tests/programs/fs_diff.ts, tools/fs_diff_booted.ts).
 *
 * Every choice comes from one seed (kernel/abi/prng.ts); a failure prints the
 * seed and the command that replays it. Each scenario's loop reports its
 * steps to a RunTrace (tools/run_trace.ts): a progress line on the terminal,
 * and after the run the SVG plots of what each step measured (`--plots DIR`). The checks are in
 * tools/invariants.ts; tests/persistence/ runs bounded versions.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { crashScenario } from "./crash_scenario.ts";
import type { ScenarioResult } from "./invariants.ts";
import { powerPoints, powerScenario } from "./power_scenario.ts";
import { freshSeed } from "../kernel/abi/prng.ts";
import { faultsScenario } from "./faults_scenario.ts";
import { nestedScenario } from "./nested_scenario.ts";
import { netScenario } from "./net_scenario.ts";
import { kvScenario } from "./kv_scenario.ts";
import { type Against, diffAgainst, formatMismatch } from "./kv_diff.ts";
import { FS_AGAINST, type FsAgainst, fsDiffAgainst } from "./fs_diff.ts";
import { diffBooted } from "./fs_diff_booted.ts";
import { requireCommand } from "../tests/helpers.ts";
import { flagHelp, type FlagTable, HELP_FLAG } from "../hw/flags.ts";
import { PLOTS_FLAG, runCaption, writeCharts } from "./plot/mod.ts";
import { loadAverage } from "./load_average.ts";
import { type OnStep, RunTrace } from "./run_trace.ts";

/** Starts the trace of a run: its progress line and the measures of its plots. */
export type Track = (total: number, stepName: string, xTitle?: string) => RunTrace;

/** One scenario of `deno task scenario NAME`: its flags and how it runs. */
export interface ScenarioEntry {
  /** One line for the usage. */
  summary: string;
  /** Its own flags, besides {@link COMMON_FLAGS}. */
  flags: FlagTable;
  /**
   * Runs it and prints its summary; returns the exit code. Its loop reports
   * each step to a trace from `track` (progress, plots), ended before the summary.
   */
  run(
    values: Record<string, string | boolean | undefined>,
    seed: number,
    track: Track,
  ): Promise<number>;
}

/** Flags every scenario takes. */
export const COMMON_FLAGS = {
  seed: { type: "string", arg: "S", help: "seed of every choice (default: a fresh one, printed)" },
  ...PLOTS_FLAG,
  ...HELP_FLAG,
} as const satisfies FlagTable;

/** Every scenario, by name: a new scenario is one entry here. */
export const SCENARIOS: Record<string, ScenarioEntry> = {
  crash: {
    summary: "seeded SIGKILLs while running and during resume, invariants checked after each",
    flags: {
      iterations: { type: "string", default: "50", arg: "N", help: "number of SIGKILLs" },
      "copy-method": {
        type: "string",
        default: "hybrid",
        arg: "METHOD",
        help: "stop-and-copy, cow or hybrid",
      },
      load: {
        type: "string",
        arg: "fs",
        help: "also the file-system load: the tree after each resume equals the host's replay " +
          "of the operations the console showed",
      },
    },
    async run(values, seed, track) {
      const iterations = Number(values.iterations);
      if (values.load !== undefined && values.load !== "fs") {
        console.error(`scenario crash: --load is fs, not "${values.load}"`);
        return 2;
      }
      const trace = track(iterations, "kill");
      const r = await crashScenario(seed, iterations, {
        ...traced(trace),
        copyMethod: String(values["copy-method"]),
        load: values.load === "fs" ? "fs" : undefined,
      }).finally(() => trace.end());
      return report(r, `--iterations ${iterations}${values.load ? ` --load ${values.load}` : ""}`);
    },
  },
  power: {
    summary: "power failure, torn, lost and failed writes at each write of a checkpoint: " +
      "old or new, never a mix",
    flags: {
      pages: {
        type: "string",
        default: "2",
        arg: "K",
        help: "data and header writes of the checkpoint to fault, each",
      },
    },
    async run(values, seed, track) {
      const points = powerPoints(Number(values.pages));
      const trace = track(points.length, "fault");
      const r = await powerScenario(seed, points, traced(trace)).finally(() => trace.end());
      if (r.outcomes) {
        const how = Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(", ");
        console.log(`power: ${r.iterations} faults injected; machine stopped by: ${how}`);
      }
      return report(r, `--pages ${values.pages}`);
    },
  },
  nested: {
    summary: "seeded SIGKILLs under nested calls and multi-call steps: every effect exactly once",
    flags: {
      iterations: { type: "string", default: "50", arg: "N", help: "number of SIGKILLs" },
    },
    async run(values, seed, track) {
      const iterations = Number(values.iterations);
      const trace = track(iterations, "kill");
      const r = await nestedScenario(seed, iterations, traced(trace)).finally(() => trace.end());
      console.log(`nested requests acknowledged ${r.acked}, file steps ${r.files}`);
      return report(r, `--iterations ${iterations}`);
    },
  },
  net: {
    summary:
      "seeded SIGKILLs under TCP echo traffic: every reply exactly once, no connection broken",
    flags: {
      iterations: { type: "string", default: "20", arg: "N", help: "number of SIGKILLs" },
      clients: { type: "string", default: "4", arg: "N", help: "steady client connections" },
    },
    async run(values, seed, track) {
      const iterations = Number(values.iterations);
      const trace = track(iterations, "kill");
      const r = await netScenario(seed, iterations, {
        ...traced(trace),
        clients: Number(values.clients),
      }).finally(() => trace.end());
      console.log(
        `summary: scenario net, seed ${seed}: kills ${r.kills}, resumes ${r.resumes}, ` +
          `connections ${r.connections}, lines ${r.lines}, replies ${r.replies}, ` +
          `bytes sent ${r.bytesSent}, received ${r.bytesReceived}, ` +
          `violations ${r.violations.length}, broken connections ${r.broken.length}`,
      );
      for (const v of r.violations) console.log(`violation: ${v}`);
      for (const b of r.broken) console.log(`broken: ${b}`);
      if (r.violations.length === 0 && r.broken.length === 0) return 0;
      console.log(
        `replay: deno task scenario net --seed ${seed} --iterations ${iterations} --clients ${values.clients}`,
      );
      return 1;
    },
  },
  kv: {
    summary: "seeded SIGKILLs under redis-cli and raw-socket clients of the kv store: " +
      "INCR exactly +1, no acknowledged write lost, no connection broken",
    flags: {
      kills: { type: "string", default: "20", arg: "N", help: "number of SIGKILLs" },
      clients: {
        type: "string",
        default: "4",
        arg: "N",
        help: "raw-socket clients (half pipelined)",
      },
      "cli-clients": { type: "string", default: "2", arg: "N", help: "redis-cli clients" },
    },
    async run(values, seed, track) {
      await requireCommand("redis-cli", "redis-tools");
      const kills = Number(values.kills);
      const trace = track(kills, "kill");
      const r = await kvScenario(seed, kills, {
        ...traced(trace),
        clients: Number(values.clients),
        cliClients: Number(values["cli-clients"]),
      }).finally(() => trace.end());
      console.log(
        `summary: scenario kv, seed ${seed}: kills ${r.kills}, resumes ${r.resumes}, ` +
          `commands acknowledged ${r.acknowledged}, lost ${r.lost}, ` +
          `violations ${r.violations.length}, broken connections ${r.broken.length}`,
      );
      for (const v of r.violations) console.log(`violation: ${v}`);
      for (const b of r.broken) console.log(`broken: ${b}`);
      console.log(
        `replay: deno task scenario kv --seed ${seed} --kills ${kills} --clients ${values.clients} ` +
          `--cli-clients ${values["cli-clients"]}`,
      );
      return r.violations.length === 0 && r.broken.length === 0 && r.lost === 0 ? 0 : 1;
    },
  },
  kvdiff: {
    summary:
      "the store against a real redis-server: seeded command sequences, replies byte for byte",
    flags: {
      commands: { type: "string", default: "20000", arg: "N", help: "commands to send" },
      against: {
        type: "string",
        default: "store",
        arg: "SIDE",
        help: "store (the booted kv app) or redis (a second redis-server: the comparator's check)",
      },
      "max-mismatches": {
        type: "string",
        default: "1",
        arg: "N",
        help: "stop after N mismatches (both sides are flushed after each)",
      },
    },
    run: runKvDiff,
  },
  fsdiff: {
    summary: "file-system operations on one side and on a host directory: " +
      "every result, error name and final tree compared",
    flags: {
      ops: { type: "string", default: "20000", arg: "N", help: "seeded operations in all" },
      length: {
        type: "string",
        default: "500",
        arg: "L",
        help: "operations of one sequence (seeds S, S+1, … each on a fresh tree; " +
          "booted: one sequence of --ops)",
      },
      against: {
        type: "string",
        default: FS_AGAINST[FS_AGAINST.length - 1],
        arg: "SIDE",
        help: `${FS_AGAINST.join(" or ")}: the side run against the host`,
      },
      exhaustive: {
        type: "boolean",
        default: false,
        help: "first every sequence of 1, 2 and 3 operations of the ACE set",
      },
      "max-mismatches": { type: "string", default: "1", arg: "N", help: "stop after N mismatches" },
    },
    run: runFsDiff,
  },
  faults: {
    summary: "seeded fault injection into every server and app (tools/faults_scenario.ts)",
    flags: {
      iterations: { type: "string", default: "200", arg: "N", help: "number of faults" },
      policy: {
        type: "string",
        arg: "NAME=POLICY,...",
        help: "restart policies, overriding init's",
      },
      "verify-every": {
        type: "string",
        default: "250",
        arg: "N",
        help: "check the ledger after a clean shutdown every N faults",
      },
      trace: { type: "boolean", default: false, help: "print every machine line" },
    },
    run: runFaults,
  },
};

/** The options a traced scenario loop takes: its log lines and its steps go through `trace`. */
function traced(trace: RunTrace): {
  log: (s: string) => void;
  onStep: OnStep;
} {
  return { log: trace.log, onStep: (i, v, d) => trace.step(i, v, d) };
}

async function runKvDiff(
  values: Record<string, string | boolean | undefined>,
  seed: number,
  track: Track,
): Promise<number> {
  const against = String(values.against);
  if (against !== "store" && against !== "redis") {
    console.error(`scenario kvdiff: --against is store or redis, not "${against}"`);
    return 2;
  }
  const commands = Number(values.commands);
  const trace = track(commands, "1000 commands", "commands sent");
  const r = await diffAgainst(against as Against, {
    seed,
    commands,
    maxMismatches: Number(values["max-mismatches"]),
    ...traced(trace),
  }).finally(() => trace.end());
  console.log(
    `summary: scenario kvdiff, seed ${seed}, against ${against}: commands ${r.commands}, ` +
      `batches ${r.batches}, pipelined ${r.pipelined}, split batches ${r.splitBatches}, ` +
      `expiry waits ${r.expiryWaits}, mismatches ${r.mismatches.length}`,
  );
  if (r.mismatches.length === 0) return 0;
  console.log(
    formatMismatch(r.mismatches[0], { seed, commands, replayFlags: `--against ${against}` }).split(
      "\n",
    ).pop(),
  );
  return 1;
}

async function runFsDiff(
  values: Record<string, string | boolean | undefined>,
  seed: number,
  track: Track,
): Promise<number> {
  const against = String(values.against) as FsAgainst;
  if (!FS_AGAINST.includes(against)) {
    console.error(`scenario fsdiff: --against is ${FS_AGAINST.join(" or ")}, not "${against}"`);
    return 2;
  }
  const trace = track(Number(values.ops), "sequence", "operations done");
  const r =
    await (against === "booted"
      ? diffBooted({ seed, ops: Number(values.ops), log: trace.log })
      : fsDiffAgainst(against, {
        seed,
        ops: Number(values.ops),
        length: Number(values.length),
        exhaustive: values.exhaustive === true,
        maxMismatches: Number(values["max-mismatches"]),
        ...traced(trace),
      })).finally(() => trace.end());
  console.log(
    `summary: scenario fsdiff, seed ${seed}, against ${against}: sequences ${r.sequences}, ` +
      `operations ${r.operations}, mismatches ${r.mismatches.length}`,
  );
  return r.mismatches.length === 0 ? 0 : 1;
}

async function runFaults(
  values: Record<string, string | boolean | undefined>,
  seed: number,
  track: Track,
): Promise<number> {
  const iterations = Number(values.iterations);
  const policy = values.policy as string | undefined;
  const trace = track(iterations, "fault");
  const r = await faultsScenario(seed, iterations, {
    ...traced(trace),
    policy,
    verifyEvery: Number(values["verify-every"]),
    trace: values.trace === true,
  }).finally(() => trace.end());
  const kinds = Object.entries(r.byKind).map(([k, c]) => `${k} ${c.contained}/${c.injected}`);
  const targets = Object.entries(r.byTarget).map(([k, c]) => `${k} ${c.contained}/${c.injected}`);
  console.log(`contained by fault: ${kinds.join(", ")}`);
  console.log(`contained by component: ${targets.join(", ")}`);
  console.log(
    `summary: scenario faults, seed ${seed}: faults injected ${r.injected}, contained ${r.contained}, ` +
      `kernel survived ${r.kernelSurvived}/${r.injected}, other components unaffected ${r.othersUnaffected}/${r.injected}, ` +
      `committed data lost ${r.committedDataLost}, console rollbacks ${r.consoleRollbacks}, resumes ${r.resumes}`,
  );
  for (const v of r.violations) console.log(`violation: ${v}`);
  if (r.violations.length === 0) return 0;
  const replayPolicy = policy ? ` --policy ${policy}` : "";
  console.log(
    `replay: deno task scenario faults --seed ${seed} --iterations ${iterations}${replayPolicy}`,
  );
  return 1;
}

/** Prints a crash or power result; returns the exit code. */
function report(result: ScenarioResult, replayFlags: string): number {
  console.log(
    `summary: scenario ${result.scenario}, seed ${result.seed}: iterations ${result.iterations}, crashes ${result.crashes}, ` +
      `resumes ${result.resumes}, invariant violations ${result.violations.length}, acknowledged updates lost ${result.acknowledgedLost}`,
  );
  for (const v of result.violations) console.log(`violation: ${v}`);
  if (result.violations.length === 0) return 0;
  console.log(`replay: deno task scenario ${result.scenario} --seed ${result.seed} ${replayFlags}`);
  return 1;
}

/** Usage of one scenario, or of all of them when `name` is undefined. */
export function scenarioUsage(name?: string): string {
  const names = name === undefined ? Object.keys(SCENARIOS) : [name];
  const head = name === undefined
    ? `usage: deno task scenario NAME [flags]   (NAME one of: ${Object.keys(SCENARIOS).join(", ")})`
    : `usage: deno task scenario ${name} [flags]`;
  const parts = names.map((n) =>
    `${n}: ${SCENARIOS[n].summary}${
      Object.keys(SCENARIOS[n].flags).length > 0 ? `\n${flagHelp(SCENARIOS[n].flags)}` : ""
    }`
  );
  return `${head}\n\n${parts.join("\n\n")}\n\nevery scenario:\n${flagHelp(COMMON_FLAGS)}`;
}

/** The first positional argument, read with every scenario's flags (so `--seed 5` is no name). */
function scenarioName(args: string[]): string | undefined {
  const every: FlagTable = { ...COMMON_FLAGS };
  for (const s of Object.values(SCENARIOS)) Object.assign(every, s.flags);
  return parseArgs({ args, options: every, strict: false, allowPositionals: true }).positionals[0];
}

/** Parses `deno task scenario` arguments and runs one scenario; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const name = scenarioName(args);
  const entry = name !== undefined && Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name] : undefined;
  if (!entry) {
    const help = name === undefined && (args.includes("--help") || args.includes("-h"));
    if (help) {
      console.log(scenarioUsage());
      return 0;
    }
    const why = name === undefined ? "no scenario given" : `unknown scenario "${name}"`;
    console.error(`scenario: ${why}\n${scenarioUsage()}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { ...COMMON_FLAGS, ...entry.flags },
      strict: true,
    });
  } catch (e) {
    console.error(`scenario ${name}: ${(e as Error).message}\n${scenarioUsage(name)}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(scenarioUsage(name));
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== name) {
    console.error(`scenario ${name}: one scenario name, then flags\n${scenarioUsage(name)}`);
    return 2;
  }
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : freshSeed();
  console.log(`scenario ${name}, seed ${seed}`);
  const load = loadAverage();
  const traces: RunTrace[] = [];
  const track: Track = (total, stepName, xTitle) => {
    const t = new RunTrace({ name: `scenario ${name}`, total, seed }, stepName, xTitle);
    traces.push(t);
    return t;
  };
  const code = await entry.run(values, seed, track);
  const charts = traces.flatMap((t) => t.charts(`scenario ${name}, seed ${seed}`));
  const command = ["deno task scenario", ...args, ...(values.seed ? [] : [`--seed ${seed}`])];
  const paths = await writeCharts(
    String(values.plots),
    `scenario_${name}`,
    charts,
    runCaption(command.join(" "), load),
  );
  for (const p of paths) console.log(`plot: ${p}`);
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
