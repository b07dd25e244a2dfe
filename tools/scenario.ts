/**
 * Crash-and-resume scenarios: `deno task scenario NAME [--seed S] [--iterations N]`.
 *
 * - crash: boot with a counter and a write-heavy app, SIGKILL the machine at
 *   a seeded random instant (while running, or during resume itself), resume,
 *   check the invariants, repeat.
 * - power: stop the machine at every persistence step of a checkpoint
 *   (before/after each page write, before/after the superblock, a torn
 *   superblock), resume, and check the image holds the previous or the new
 *   checkpoint, never a mix.
 * - faults: seeded fault injection into the servers and apps
 *   (tools/faults_scenario.ts).
 *
 * Every choice comes from one seed (tools/prng.ts); a failure prints the
 * seed and the command that replays it. The checks are in
 * {@link InvariantChecker}; tests/persistence/ runs bounded versions.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { MachineLine } from "../hw/board.ts";
import type { PersistStep } from "../hw/nvm_image.ts";
import { ConsoleView, MachineProcess } from "./machine_process.ts";
import { freshSeed, Prng } from "./prng.ts";
import { faultsScenario } from "./faults_scenario.ts";

/** Summary of a scenario run. */
export interface ScenarioResult {
  scenario: string;
  seed: number;
  iterations: number;
  crashes: number;
  resumes: number;
  violations: string[];
  acknowledgedLost: number;
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
    const text = this.view.text.get(this.counterThread) ?? "";
    const lines = text.split("\n").filter((l) => l.length > 0);
    lines.forEach((l, i) => {
      if (l !== `counter ${i + 1}`) {
        this.violations.push(`counter line ${i + 1} reads "${l}"`);
      }
    });
    return lines.length;
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
  let m = start(image, ["--fresh", "--apps", "counter,writer", ...common], checker);
  await m.ready();
  let crashes = 0, resumes = 0;
  for (let i = 1; i <= iterations; i++) {
    const duringResume = i > 1 && rng.int(0, 9) < 3;
    const delayMs = duringResume ? rng.int(0, 250) : rng.int(20, 400);
    await new Promise((r) => setTimeout(r, delayMs));
    await m.kill();
    crashes++;
    m = start(image, common, checker);
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
  await m.ready().catch(() => {});
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

/** One power-failure point: the step, which occurrence, and the epoch it must hit. */
interface PowerPoint {
  step: PersistStep;
  index: number;
}

/** Every step of a checkpoint, for the first `pages` page writes. */
export function powerPoints(pages: number): PowerPoint[] {
  const points: PowerPoint[] = [];
  for (let i = 0; i < pages; i++) {
    points.push({ step: "page-before", index: i }, { step: "page-after", index: i });
  }
  for (const step of ["superblock-before", "superblock-torn", "superblock-after"] as const) {
    points.push({ step, index: 0 });
  }
  return points;
}

/** The power-failure scenario: stop at each persistence step, resume, check old-or-new. */
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
  for (const [i, p] of points.entries()) {
    const target = checker.committedEpoch + rng.int(3, 12);
    m = start(image, ["--digest", "--power-fail", `${p.step}:${p.index}@${target}`], checker);
    const died = await m.exited;
    crashes++;
    const digests = new Map<number, string>();
    for (const l of m.lines) {
      if (l.t === "digest" && l.when === "commit") digests.set(l.epoch, l.digest);
    }
    if (died.code !== 137) {
      checker.violations.push(
        `${p.step}:${p.index}: machine exited ${died.code}, not at the power failure`,
      );
    }
    const failedEpoch = Math.max(...digests.keys()) + 1;
    m = start(image, ["--digest"], checker);
    const boot = await m.waitFor(bootLine);
    const restored = await m.waitFor((l): l is Extract<MachineLine, { t: "digest" }> =>
      l.t === "digest" && l.when === "resume"
    );
    const expectNew = p.step === "superblock-after";
    const expected = expectNew ? failedEpoch : failedEpoch - 1;
    if (boot.epoch !== expected) {
      checker.violations.push(
        `${p.step}:${p.index}: resumed at epoch ${boot.epoch}, expected ${expected}`,
      );
    } else if (!expectNew && digests.get(expected) !== restored.digest) {
      checker.violations.push(
        `${p.step}:${p.index}: state at epoch ${expected} differs from what was committed`,
      );
    }
    checker.checkResumeEpoch(boot.epoch);
    await m.ready();
    resumes++;
    checker.checkCounter();
    await m.shutdown();
    log(
      `point ${i + 1}/${points.length} ${p.step}:${p.index}: resumed at epoch ${boot.epoch} (${
        expectNew ? "new" : "previous"
      } checkpoint); violations ${checker.violations.length}`,
    );
    if (checker.violations.length > 0) break;
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
  };
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      seed: { type: "string" },
      iterations: { type: "string" },
      "copy-method": { type: "string", default: "hybrid" },
      pages: { type: "string", default: "8" },
      policy: { type: "string" },
      "verify-every": { type: "string", default: "250" },
      trace: { type: "boolean", default: false },
    },
  });
  const name = positionals[0];
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : freshSeed();
  const log = (s: string) => console.log(s);
  console.log(`scenario ${name}, seed ${seed}`);
  if (name === "faults") {
    const iterations = Number(values.iterations ?? 200);
    const r = await faultsScenario(seed, iterations, {
      log,
      policy: values.policy,
      verifyEvery: Number(values["verify-every"]),
      trace: values.trace,
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
    const policy = values.policy ? ` --policy ${values.policy}` : "";
    console.log(
      `replay: deno task scenario faults --seed ${seed} --iterations ${iterations}${policy}`,
    );
    return 1;
  }
  let result: ScenarioResult;
  if (name === "crash") {
    const iterations = Number(values.iterations ?? 50);
    result = await crashScenario(seed, iterations, { log, copyMethod: values["copy-method"] });
  } else if (name === "power") {
    result = await powerScenario(seed, powerPoints(Number(values.pages)), { log });
  } else {
    console.error(`unknown scenario "${name}": use crash, power or faults`);
    return 2;
  }
  console.log(
    `summary: scenario ${result.scenario}, seed ${result.seed}: iterations ${result.iterations}, crashes ${result.crashes}, ` +
      `resumes ${result.resumes}, invariant violations ${result.violations.length}, acknowledged updates lost ${result.acknowledgedLost}`,
  );
  for (const v of result.violations) console.log(`violation: ${v}`);
  if (result.violations.length > 0) {
    console.log(
      `replay: deno task scenario ${name} --seed ${seed} ${
        name === "crash" ? `--iterations ${result.iterations}` : ""
      }`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
