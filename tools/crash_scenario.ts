/**
 * The crash scenario (`deno task scenario crash --seed S --iterations N`):
 * a machine runs the counter and a write-heavy app; it is SIGKILLed at
 * seeded random instants, while running or during resume itself, and
 * resumed, and the observer ({@link InvariantChecker}) checks after each
 * resume that nothing it saw was rolled back. A liveness check ends it: the
 * counter goes on after the last resume.
 *
 * @module
 */

import { bootLine, InvariantChecker, type ScenarioResult, startObserved } from "./invariants.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { removeImage, tempImage } from "./temp_image.ts";

/** The crash scenario: seeded SIGKILLs while running and during resume. */
export async function crashScenario(
  seed: number,
  iterations: number,
  opts: { image?: string; log?: (s: string) => void; copyMethod?: string } = {},
): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const image = opts.image ?? tempImage("crash");
  const checker = new InvariantChecker();
  const common = ["--copy-method", opts.copyMethod ?? "hybrid"];
  const apps = ["--apps", "counter,writer"];
  let m = startObserved(image, ["--fresh", ...apps, ...common], checker);
  await m.ready();
  let crashes = 0, resumes = 0;
  for (let i = 1; i <= iterations; i++) {
    const duringResume = i > 1 && rng.int(0, 9) < 3;
    const delayMs = duringResume ? rng.int(0, 250) : rng.int(20, 400);
    await new Promise((r) => setTimeout(r, delayMs));
    await m.kill();
    crashes++;
    // With the apps: a kill before the first commit leaves nothing to resume, so it boots fresh.
    m = startObserved(image, [...apps, ...common], checker);
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
