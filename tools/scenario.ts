/**
 * Crash-and-resume scenarios: `deno task scenario NAME [--seed S] [--iterations N]`.
 *
 * - crash: boot with a counter and a write-heavy app, SIGKILL the machine at
 *   a seeded random instant (while running, or during resume itself), resume,
 *   check the invariants, repeat.
 * - power: inject a fault into each kind of checkpoint write (data runs,
 *   header runs, the superblock) through the image's writer: power failure
 *   before or after it, a torn write, a lost write, an I/O error; resume, and
 *   check the image holds the previous or the new checkpoint, with the
 *   digest committed, never a mix and never less than was committed.
 * - nested: seeded SIGKILLs while requests make nested calls and steps
 *   await several calls; every effect must happen exactly once
 *   (tools/nested_scenario.ts).
 * - faults: seeded fault injection into the servers and apps
 *   (tools/faults_scenario.ts).
 *
 * Every choice comes from one seed (kernel/abi/prng.ts); a failure prints the
 * seed and the command that replays it. The checks are in
 * {@link InvariantChecker}; tests/persistence/ runs bounded versions.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { MachineLine } from "../hw/board.ts";
import { EXIT_POWER_FAILURE } from "../hw/board.ts";
import { type PersistStep, WRITE_FAULTS } from "../hw/nvm_image.ts";
import { ConsoleView, MachineProcess } from "./machine_process.ts";
import { freshSeed, Prng } from "../kernel/abi/prng.ts";
import { faultsScenario } from "./faults_scenario.ts";
import { nestedScenario } from "./nested_scenario.ts";
import { flagHelp, type FlagTable, HELP_FLAG } from "../hw/flags.ts";

/** Summary of a scenario run. */
export interface ScenarioResult {
  scenario: string;
  seed: number;
  iterations: number;
  crashes: number;
  resumes: number;
  violations: string[];
  acknowledgedLost: number;
  /** Power scenario: how many injections ended each way (power, image-error, absorbed, never). */
  outcomes?: Record<string, number>;
}

type ConsoleLine = Extract<MachineLine, { t: "console" }>;

/**
 * The outside observer of a machine across crashes: it sees console text
 * (deduplicated by offset) and the epochs that covered it, and checks the
 * invariants after every resume.
 */
export class InvariantChecker {
  readonly view = new ConsoleView();
  /** Highest checkpoint epoch that covered something the observer saw. */
  seenEpoch = 0;
  /** Highest epoch the machine reported committed. */
  committedEpoch = 0;
  readonly violations: string[] = [];
  acknowledgedLost = 0;
  private counterThread = -1;

  /** Feeds one machine line. */
  observe(line: MachineLine): void {
    if (line.t === "console") this.observeConsole(line);
    if (line.t === "checkpoints") {
      for (const s of line.stats) this.committedEpoch = Math.max(this.committedEpoch, s.epoch);
    }
    if (line.t === "digest" && line.when === "commit") {
      this.committedEpoch = Math.max(this.committedEpoch, line.epoch);
    }
  }

  private observeConsole(line: ConsoleLine): void {
    const before = this.view.rollbacksSeen;
    const missed = this.view.bytesMissed;
    this.view.accept(line);
    if (this.view.rollbacksSeen !== before) {
      this.violations.push(
        `observer saw re-sent console bytes that differ (thread ${line.thread}, offset ${line.off})`,
      );
    }
    if (this.view.bytesMissed !== missed) {
      this.violations.push(
        `observer never got ${
          this.view.bytesMissed - missed
        } console bytes (thread ${line.thread}, ` +
          `frame at offset ${line.off})`,
      );
    }
    this.seenEpoch = Math.max(this.seenEpoch, line.epoch);
    if (line.name === "counter") this.counterThread = line.thread;
  }

  /** After a resume reached the "boot" line: the image must not be older than what anyone saw. */
  checkResumeEpoch(epoch: number): void {
    if (epoch < this.seenEpoch) {
      this.acknowledgedLost++;
      this.violations.push(
        `resumed at epoch ${epoch}, but output covered by epoch ${this.seenEpoch} was already seen`,
      );
    }
    if (epoch < this.committedEpoch) {
      this.violations.push(
        `resumed at epoch ${epoch}, older than committed epoch ${this.committedEpoch}`,
      );
    }
  }

  /** The counter's output must read "counter 1", "counter 2", … with no gap, repeat or step back. */
  checkCounter(): number {
    const lines = this.counterLines();
    lines.forEach((l, i) => {
      if (l !== `counter ${i + 1}`) {
        this.violations.push(`counter line ${i + 1} reads "${l}"`);
      }
    });
    return lines.length;
  }

  /** The counter's lines the observer has seen. */
  counterLines(): string[] {
    const text = this.view.text.get(this.counterThread) ?? "";
    return text.split("\n").filter((l) => l.length > 0);
  }
}

/** Starts a machine and feeds every line to the checker. */
function start(image: string, args: string[], checker: InvariantChecker): MachineProcess {
  const m = MachineProcess.start(image, ["--report-checkpoints", ...args]);
  m.onLine((l) => checker.observe(l));
  return m;
}

const bootLine = (l: MachineLine): l is Extract<MachineLine, { t: "boot" }> => l.t === "boot";

/** The crash scenario: seeded SIGKILLs while running and during resume. */
export async function crashScenario(
  seed: number,
  iterations: number,
  opts: { image?: string; log?: (s: string) => void; copyMethod?: string } = {},
): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const image = opts.image ?? `${Deno.makeTempDirSync({ prefix: "tardigrade-crash-" })}/crash.img`;
  const checker = new InvariantChecker();
  const common = ["--copy-method", opts.copyMethod ?? "hybrid"];
  const apps = ["--apps", "counter,writer"];
  let m = start(image, ["--fresh", ...apps, ...common], checker);
  await m.ready();
  let crashes = 0, resumes = 0;
  for (let i = 1; i <= iterations; i++) {
    const duringResume = i > 1 && rng.int(0, 9) < 3;
    const delayMs = duringResume ? rng.int(0, 250) : rng.int(20, 400);
    await new Promise((r) => setTimeout(r, delayMs));
    await m.kill();
    crashes++;
    // With the apps: a kill before the first commit leaves nothing to resume, so it boots fresh.
    m = start(image, [...apps, ...common], checker);
    const boot = await m.waitFor(bootLine);
    // Booting fresh is right only while nothing was ever committed (a kill before the first commit).
    if (boot.fresh && checker.committedEpoch > 0) {
      checker.violations.push(
        `iteration ${i}: the machine booted fresh although epoch ${checker.committedEpoch} had committed`,
      );
    }
    checker.checkResumeEpoch(boot.epoch);
    if (!duringResume || rng.int(0, 1) === 0) {
      await m.ready();
      resumes++;
    }
    const counted = checker.checkCounter();
    log(
      `iteration ${i}/${iterations}: killed ${
        duringResume ? "during resume" : "while running"
      } after ${delayMs} ms; ` +
        `resumed at epoch ${boot.epoch}; counter lines seen ${counted}; violations ${checker.violations.length}`,
    );
    if (checker.violations.length > 0) break;
  }
  if (checker.violations.length === 0) {
    // Liveness: after the last resume the counter goes on.
    await m.ready();
    const seen = checker.counterLines().length;
    await m.waitFor(() => checker.counterLines().length > seen + 5, 60_000);
  }
  const status = await m.shutdown();
  if (status.code !== 0) checker.violations.push(`final clean shutdown exited with ${status.code}`);
  if (!opts.image) Deno.removeSync(image.replace(/\/[^/]+$/, ""), { recursive: true });
  return {
    scenario: "crash",
    seed,
    iterations,
    crashes,
    resumes,
    violations: checker.violations,
    acknowledgedLost: checker.acknowledgedLost,
  };
}

/** One injection point of the power scenario: a write kind and fault, and which write of that kind. */
export interface PowerPoint {
  step: PersistStep;
  index: number;
}

/**
 * Every fault (before, torn, lost, after, eio) at each of the first `writes`
 * data writes and header writes of a checkpoint, then at its superblock.
 */
export function powerPoints(writes: number): PowerPoint[] {
  const points: PowerPoint[] = [];
  for (const kind of ["data", "header"] as const) {
    for (let index = 0; index < writes; index++) {
      for (const f of WRITE_FAULTS) points.push({ step: `${kind}-${f}`, index });
    }
  }
  for (const f of WRITE_FAULTS) points.push({ step: `superblock-${f}`, index: 0 });
  return points;
}

/** Commits a fault may wait for before it fires (a write index a checkpoint never reaches). */
const POWER_FIRE_EPOCHS_MAX = 40;

/** What one injection did to the machine, as seen from outside. */
interface PowerOutcome {
  /** The epoch whose checkpoint took the fault; -1 if the fault never fired. */
  epoch: number;
  /** "power" (exit 137), "image-error" (exit 74), "absorbed" (the checkpoint committed). */
  how: "power" | "image-error" | "absorbed" | "never";
  exit: number;
  errorCode: string;
  /** Commit digests seen, by epoch. */
  digests: Map<number, string>;
}

type DigestLine = Extract<MachineLine, { t: "digest" }>;

/** Runs one machine with `spec` until the fault has stopped it, or its checkpoint committed anyway. */
async function injectOnce(
  image: string,
  spec: string,
  target: number,
  checker: InvariantChecker,
): Promise<PowerOutcome> {
  const m = start(image, ["--digest", "--power-fail", spec], checker);
  let epoch = -1;
  const absorbed = m.waitFor((l) => {
    if (l.t === "log") {
      const hit = /^board: injecting .* of epoch (\d+)$/.exec(l.text);
      if (hit) epoch = Number(hit[1]);
    }
    if (l.t !== "digest" || l.when !== "commit") return false;
    return (epoch > 0 && l.epoch >= epoch) || l.epoch > target + POWER_FIRE_EPOCHS_MAX;
  }, 120_000).then(() => true, () => false);
  const stopped = await Promise.race([m.exited.then(() => false), absorbed]);
  if (stopped) await m.kill();
  const status = await m.exited;
  const digests = new Map<number, string>();
  for (const l of m.lines) {
    if (l.t === "digest" && l.when === "commit") digests.set(l.epoch, l.digest);
  }
  const err = m.lines.find((l) => l.t === "error");
  const how = epoch < 0
    ? "never"
    : stopped
    ? "absorbed"
    : status.code === EXIT_POWER_FAILURE
    ? "power"
    : "image-error";
  return {
    epoch,
    how,
    exit: status.code,
    errorCode: err?.t === "error" ? err.code : "",
    digests,
  };
}

/** The exit a fault must cause: a power failure for before/torn/after, an image error for lost/eio. */
function expectedHow(step: PersistStep): PowerOutcome["how"] {
  return step.endsWith("-lost") || step.endsWith("-eio") ? "image-error" : "power";
}

/**
 * The power scenario: for each point, a machine injects the fault into its
 * checkpoint writer, stops (or carries on after an absorbed lost write), and
 * a second machine resumes; the resumed state must be the previous
 * checkpoint or (after the superblock reached the file) the new one, with the
 * digest the machine reported when it committed, and never older than what
 * was committed or seen.
 */
export async function powerScenario(
  seed: number,
  points: PowerPoint[],
  opts: { log?: (s: string) => void } = {},
): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const image = `${Deno.makeTempDirSync({ prefix: "tardigrade-power-" })}/power.img`;
  const checker = new InvariantChecker();
  let m = start(image, ["--fresh", "--apps", "counter,writer", "--digest"], checker);
  await m.ready();
  await m.shutdown();
  let crashes = 0, resumes = 0;
  const outcomes: Record<string, number> = {};
  for (const [i, p] of points.entries()) {
    const name = `${p.step}:${p.index}`;
    const target = checker.committedEpoch + rng.int(3, 12);
    const before = checker.violations.length;
    const o = await injectOnce(image, `${name}@${target}`, target, checker);
    crashes++;
    outcomes[o.how] = (outcomes[o.how] ?? 0) + 1;
    const want = expectedHow(p.step);
    const absorbedOk = o.how === "absorbed" && p.step.endsWith("-lost");
    if (o.how !== want && !absorbedOk) {
      checker.violations.push(
        `${name}: the machine stopped as "${o.how}" (exit ${o.exit}), not "${want}"`,
      );
    }
    if (o.how === "image-error" && o.errorCode !== "E_IMAGE_IO") {
      checker.violations.push(
        `${name}: image error line has code "${o.errorCode}", not E_IMAGE_IO`,
      );
    }
    const lastCommitted = Math.max(0, ...o.digests.keys());
    const isNew = p.step === "superblock-after" || o.how === "absorbed";
    const expected = o.how === "absorbed" ? lastCommitted : isNew ? o.epoch : o.epoch - 1;
    m = start(image, ["--digest"], checker);
    const boot = await m.waitFor(bootLine);
    const restored = await m.waitFor((l): l is DigestLine =>
      l.t === "digest" && l.when === "resume"
    );
    let digest = "not compared (the power failed before the commit was reported)";
    const epochOk = o.how === "absorbed" ? boot.epoch >= expected : boot.epoch === expected;
    if (!epochOk) {
      checker.violations.push(`${name}: resumed at epoch ${boot.epoch}, expected ${expected}`);
    } else if (o.digests.has(boot.epoch)) {
      digest = o.digests.get(boot.epoch) === restored.digest ? "matches" : "DIFFERS";
      if (digest === "DIFFERS") {
        checker.violations.push(
          `${name}: state at epoch ${boot.epoch} differs from what was committed`,
        );
      }
    }
    checker.checkResumeEpoch(boot.epoch);
    await m.ready();
    resumes++;
    checker.checkCounter();
    await m.shutdown();
    const which = boot.epoch === o.epoch ? "new" : "previous";
    const how = o.how === "absorbed"
      ? "absorbed (the file already held those bytes; it committed, then a SIGKILL"
      : `${o.how} (exit ${o.exit}`;
    const at = `point ${i + 1}/${points.length} ${name}`;
    log(
      `${at}: fault in epoch ${o.epoch}, ${how}` +
        `${o.errorCode ? `, ${o.errorCode}` : ""}); resumed at epoch ${boot.epoch} (${which} ` +
        `checkpoint), digest ${digest}; violations ${checker.violations.length - before}`,
    );
  }
  Deno.removeSync(image.replace(/\/[^/]+$/, ""), { recursive: true });
  return {
    scenario: "power",
    seed,
    iterations: points.length,
    crashes,
    resumes,
    violations: checker.violations,
    acknowledgedLost: checker.acknowledgedLost,
    outcomes,
  };
}

/** One scenario of `deno task scenario NAME`: its flags and how it runs. */
export interface ScenarioEntry {
  /** One line for the usage. */
  summary: string;
  /** Its own flags, besides {@link COMMON_FLAGS}. */
  flags: FlagTable;
  /** Runs it and prints its summary; returns the exit code. */
  run(values: Record<string, string | boolean | undefined>, seed: number): Promise<number>;
}

/** Flags every scenario takes. */
export const COMMON_FLAGS = {
  seed: { type: "string", arg: "S", help: "seed of every choice (default: a fresh one, printed)" },
  ...HELP_FLAG,
} as const satisfies FlagTable;

const log = (s: string) => console.log(s);

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
    },
    async run(values, seed) {
      const iterations = Number(values.iterations);
      const r = await crashScenario(seed, iterations, {
        log,
        copyMethod: String(values["copy-method"]),
      });
      return report(r, `--iterations ${iterations}`);
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
    async run(values, seed) {
      const r = await powerScenario(seed, powerPoints(Number(values.pages)), { log });
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
    async run(values, seed) {
      const iterations = Number(values.iterations);
      const r = await nestedScenario(seed, iterations, { log });
      console.log(`nested requests acknowledged ${r.acked}, file steps ${r.files}`);
      return report(r, `--iterations ${iterations}`);
    },
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

async function runFaults(
  values: Record<string, string | boolean | undefined>,
  seed: number,
): Promise<number> {
  const iterations = Number(values.iterations);
  const policy = values.policy as string | undefined;
  const r = await faultsScenario(seed, iterations, {
    log,
    policy,
    verifyEvery: Number(values["verify-every"]),
    trace: values.trace === true,
  });
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
  return await entry.run(values, seed);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
