/**
 * The crash scenario (`deno task scenario crash --seed S --iterations N`):
 * a machine runs the counter and a write-heavy app; it is SIGKILLed at
 * seeded random instants, while running or during resume itself, and
 * resumed, and the observer ({@link InvariantChecker}) checks after each
 * resume that nothing it saw was rolled back. A liveness check ends it: the
 * counter goes on after the last resume.
 *
 * With `--load fs` the machine also runs the file-system load
 * (tests/programs/fsload.ts, seeded from the scenario's seed): after each
 * resume the program prints the tree it finds, and {@link FsLoadObserver}
 * requires it to equal the replay on a host directory of exactly the
 * operations the console showed, every operation before a printed
 * "synced" among them (tools/fs_load.ts); every result must be the host's
 * too; the liveness check then wants more operations after the last
 * resume.
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import { bootLine, InvariantChecker, type ScenarioResult, startObserved } from "./invariants.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { removeImage, tempImage } from "./temp_image.ts";
import { ConsoleView } from "./machine_process.ts";
import type { MachineLine } from "../hw/board.ts";
import { FsLoadChecker } from "./fs_load.ts";

/** Operations the fs load program runs at most (more than any run here reaches). */
const FS_LOAD_OPS = 200_000;
/** The fs load program syncs after every this many operations. */
const FS_LOAD_SYNC_EVERY = 7;

/** The machine's app spec of the fs load program for `seed`. */
export function fsLoadApp(seed: number): string {
  return `tests/programs/fsload.ts?seed=${seed}&ops=${FS_LOAD_OPS}&syncEvery=${FS_LOAD_SYNC_EVERY}&timerMs=2`;
}

/**
 * The observer of the fs load program across crashes: its console lines,
 * deduplicated by offset, fed in order to a {@link FsLoadChecker}.
 */
export class FsLoadObserver {
  private view = new ConsoleView();
  private checker: FsLoadChecker;
  private partial = "";
  private chain: Promise<void> = Promise.resolve();
  /** Trees the program printed (one per start), counted as their lines come. */
  treesPrinted = 0;
  /** Operation lines seen. */
  opsPrinted = 0;

  constructor(readonly seed: number) {
    this.checker = new FsLoadChecker(seed, FS_LOAD_OPS);
  }

  /** Feeds one machine line. */
  observe(line: MachineLine): void {
    if (line.t !== "console" || line.name !== "fsload") return;
    const lines = (this.partial + this.view.accept(line)).split("\n");
    this.partial = lines.pop()!;
    for (const l of lines) {
      if (/^fsload tree \d+ end$/.test(l)) this.treesPrinted++;
      if (l.startsWith("fsload op ")) this.opsPrinted++;
      const checker = this.checker;
      this.chain = this.chain.then(() => checker.line(l));
    }
  }

  /** A fresh boot: the program starts again on an empty tree. */
  reset(): void {
    const old = this.checker;
    this.chain = this.chain.then(() => old.dispose());
    this.checker = new FsLoadChecker(this.seed, FS_LOAD_OPS);
    this.view = new ConsoleView();
    this.partial = "";
  }

  /** Every line fed so far checked: the checker's violations and figures. */
  async settle(): Promise<FsLoadChecker> {
    await this.chain;
    return this.checker;
  }

  /** Frees the host tree. */
  async dispose(): Promise<void> {
    await this.chain;
    this.checker.dispose();
  }
}

/** The crash scenario: seeded SIGKILLs while running and during resume. */
export async function crashScenario(
  seed: number,
  iterations: number,
  opts: {
    image?: string;
    log?: (s: string) => void;
    onStep?: OnStep;
    copyMethod?: string;
    load?: "fs";
  } = {},
): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const image = opts.image ?? tempImage("crash");
  const checker = new InvariantChecker();
  const common = ["--copy-method", opts.copyMethod ?? "hybrid"];
  const fs = opts.load === "fs" ? new FsLoadObserver(seed) : undefined;
  const apps = ["--apps", fs ? `counter,writer,${fsLoadApp(seed)}` : "counter,writer"];
  const start = (args: string[]) => {
    const m = startObserved(image, args, checker);
    if (fs) m.onLine((l) => fs.observe(l));
    return m;
  };
  let m = start(["--fresh", ...apps, ...common]);
  await m.ready();
  let crashes = 0, resumes = 0;
  for (let i = 1; i <= iterations; i++) {
    const duringResume = i > 1 && rng.int(0, 9) < 3;
    const delayMs = duringResume ? rng.int(0, 250) : rng.int(20, 400);
    await new Promise((r) => setTimeout(r, delayMs));
    await m.kill();
    crashes++;
    const killedAt = performance.now();
    // With the apps: a kill before the first commit leaves nothing to resume, so it boots fresh.
    const treesBefore = fs?.treesPrinted ?? 0;
    m = start([...apps, ...common]);
    const boot = await m.waitFor(bootLine);
    const bootMs = performance.now() - killedAt;
    let readyMs = NaN;
    if (boot.fresh) fs?.reset();
    // Booting fresh is right only while nothing was ever committed (a kill before the first commit).
    if (boot.fresh && checker.committedEpoch > 0) {
      checker.violations.push(
        `iteration ${i}: the machine booted fresh although epoch ${checker.committedEpoch} had committed`,
      );
    }
    checker.checkResumeEpoch(boot.epoch);
    if (!duringResume || rng.int(0, 1) === 0) {
      await m.ready();
      readyMs = performance.now() - killedAt;
      resumes++;
      // The fs load prints the tree it found at its start; it is checked before the next kill.
      if (fs) await m.waitFor(() => fs.treesPrinted > treesBefore, 60_000);
    }
    const counted = checker.checkCounter();
    if (fs) checker.violations.push(...(await fs.settle()).violations.splice(0));
    log(
      `iteration ${i}/${iterations}: killed ${
        duringResume ? "during resume" : "while running"
      } after ${delayMs} ms; ` +
        `resumed at epoch ${boot.epoch}; counter lines seen ${counted}` +
        (fs ? `; fs operations seen ${fs.opsPrinted}, trees ${fs.treesPrinted}` : "") +
        `; violations ${checker.violations.length}`,
    );
    opts.onStep?.(i, {
      "kill to boot line (ms)": bootMs,
      "kill to ready (ms)": readyMs,
      "counter lines seen": counted,
    });
    if (checker.violations.length > 0) break;
  }
  if (checker.violations.length === 0) {
    // Liveness: after the last resume the counter goes on.
    await m.ready();
    const seen = checker.counterLines().length;
    await m.waitFor(() => checker.counterLines().length > seen + 5, 60_000);
    if (fs) {
      const ops = fs.opsPrinted;
      await m.waitFor(() => fs.opsPrinted > ops + 5, 60_000);
      const c = await fs.settle();
      checker.violations.push(...c.violations.splice(0));
      log(`fs load: ${c.opsSeen} operations checked, ${c.trees} trees, synced up to ${c.synced}`);
    }
  }
  await fs?.dispose();
  const status = await m.shutdown();
  if (status.code !== 0) checker.violations.push(`final clean shutdown exited with ${status.code}`);
  if (!opts.image) removeImage(image);
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
