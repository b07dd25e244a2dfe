/**
 * The nested scenario (`deno task scenario nested --seed S --iterations N`):
 * exactly-once effects across SIGKILLs, for requests whose handlers call
 * other servers and for program steps that await several calls.
 *
 * The machine runs tests/programs/nested.ts (a client whose every request
 * makes a middle server perform three non-idempotent increments in two
 * counter servers, after bumping its own count) and tests/programs/filestep.ts
 * (a step that creates a file, deletes it, then records it). The machine is
 * killed at seeded instants, while running and during resume, and resumed.
 * Everything is checked from the console output an outside observer saw:
 * - `acked N m=M x=X y=Y`: N counts 1, 2, 3, … with no gap or repeat, and
 *   M = N, X = 2N, Y = N (more would be an effect that happened twice, less
 *   one that was lost);
 * - `files K`: K counts 1, 2, 3, …; a `files ERROR` (EEXIST from an O_EXCL open
 *   that ran twice) is a violation;
 * - the general invariants of {@link InvariantChecker} (no rollback visible,
 *   never resumed older than what was seen);
 * - liveness: both programs make progress after the last resume (a kill
 *   before the first commit boots a fresh system, with the same apps).
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import type { MachineLine } from "../hw/board.ts";
import { MachineProcess } from "./machine_process.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { InvariantChecker, type ScenarioResult } from "./invariants.ts";
import { removeImage, tempImage } from "./temp_image.ts";

/** The apps of the scenario; their timers tick every few milliseconds. */
export const NESTED_APPS =
  "tests/programs/nested.ts?timerMs=2,tests/programs/filestep.ts?timerMs=3";

/** What the observer has read of the two programs' lines. */
interface Progress {
  acked: number;
  files: number;
}

/**
 * Checks every console line of the nested and filestep programs (`text`,
 * per thread, as the observer saw it; `names`, each thread's name); returns
 * how far each got. Violations are pushed to `violations`.
 */
export function checkNestedOutput(
  text: ReadonlyMap<number, string>,
  names: ReadonlyMap<number, string>,
  violations: string[],
): Progress {
  const progress: Progress = { acked: 0, files: 0 };
  for (const [thread, all] of text) {
    const name = names.get(thread);
    const lines = all.split("\n").filter((l) => l.length > 0);
    if (name === "nested") progress.acked = checkAcked(lines, violations);
    if (name === "filestep") progress.files = checkFiles(lines, violations);
  }
  return progress;
}

/** Line n must read `acked n m=n x=2n y=n`; reports the first line that does not. */
function checkAcked(lines: string[], violations: string[]): number {
  const bad = lines.findIndex((line, i) => line !== ackedLine(i + 1));
  if (bad >= 0) {
    violations.push(
      `nested line ${bad + 1} reads "${lines[bad]}", expected "${ackedLine(bad + 1)}"`,
    );
  }
  return lines.length;
}

function ackedLine(n: number): string {
  return `acked ${n} m=${n} x=${2 * n} y=${n}`;
}

/** Line k must read `files k`; reports the first line that does not. */
function checkFiles(lines: string[], violations: string[]): number {
  const bad = lines.findIndex((line, i) => line !== `files ${i + 1}`);
  if (bad >= 0) violations.push(`filestep line ${bad + 1} reads "${lines[bad]}"`);
  return lines.length;
}

const bootLine = (l: MachineLine): l is Extract<MachineLine, { t: "boot" }> => l.t === "boot";

/** The nested scenario: seeded SIGKILLs of a machine running nested calls and multi-call steps. */
export async function nestedScenario(
  seed: number,
  iterations: number,
  opts: { log?: (s: string) => void; onStep?: OnStep } = {},
): Promise<ScenarioResult & Progress> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const image = tempImage("nested");
  const checker = new InvariantChecker();
  const names = new Map<number, string>();
  const start = (args: string[]) => {
    const m = MachineProcess.start(image, ["--report-checkpoints", ...args]);
    m.onLine((l) => {
      checker.observe(l);
      if (l.t === "console") names.set(l.thread, l.name);
    });
    return m;
  };
  let m = start(["--fresh", "--apps", NESTED_APPS]);
  await m.ready();
  let crashes = 0, resumes = 0;
  let progress: Progress = { acked: 0, files: 0 };
  for (let i = 1; i <= iterations; i++) {
    const duringResume = i > 1 && rng.int(0, 9) < 3;
    const delayMs = duringResume ? rng.int(0, 250) : rng.int(30, 400);
    await new Promise((r) => setTimeout(r, delayMs));
    await m.kill();
    crashes++;
    const killedAt = performance.now();
    let readyMs = NaN;
    // With the apps: a kill before the first commit leaves nothing to resume, so it boots fresh.
    m = start(["--apps", NESTED_APPS]);
    const boot = await m.waitFor(bootLine);
    if (boot.fresh && checker.committedEpoch > 0) {
      checker.violations.push(`iteration ${i}: booted fresh after epoch ${checker.committedEpoch}`);
    }
    checker.checkResumeEpoch(boot.epoch);
    if (!duringResume || rng.int(0, 1) === 0) {
      await m.ready();
      readyMs = performance.now() - killedAt;
      resumes++;
    }
    progress = checkNestedOutput(checker.view.text, names, checker.violations);
    log(
      `iteration ${i}/${iterations}: killed ${duringResume ? "during resume" : "while running"} ` +
        `after ${delayMs} ms; resumed at epoch ${boot.epoch}; acked ${progress.acked}, ` +
        `files ${progress.files}; violations ${checker.violations.length}`,
    );
    opts.onStep?.(i, {
      "kill to ready (ms)": readyMs,
      "nested requests acknowledged": progress.acked,
    });
    if (checker.violations.length > 0) break;
  }
  await m.ready();
  // Liveness: after the last resume both programs go on (their next lines are released).
  const before = progress;
  await m.waitFor(() => {
    const now = checkNestedOutput(checker.view.text, names, []);
    return now.acked > before.acked + 5 && now.files > before.files + 5;
  }, 60_000);
  const status = await m.shutdown();
  if (status.code !== 0) checker.violations.push(`final clean shutdown exited with ${status.code}`);
  progress = checkNestedOutput(checker.view.text, names, checker.violations);
  removeImage(image);
  return {
    scenario: "nested",
    seed,
    iterations,
    crashes,
    resumes,
    // The output is checked after every iteration and again at the end: each violation once.
    violations: [...new Set(checker.violations)],
    acknowledgedLost: checker.acknowledgedLost,
    ...progress,
  };
}
