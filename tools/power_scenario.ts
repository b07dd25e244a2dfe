/**
 * The power scenario (`deno task scenario power --seed S --pages K`): a
 * fault injected into each kind of checkpoint write (data runs, header runs,
 * the superblock) through the image's writer (hw/nvm_writer.ts): power
 * failure before or after it, a torn write, a lost write, an I/O error. A
 * second machine resumes each time; the image must hold the previous or the
 * new checkpoint, with the digest committed, never a mix and never less than
 * was committed or seen.
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import type { MachineLine } from "../hw/board.ts";
import { EXIT_POWER_FAILURE } from "../hw/board.ts";
import { type PersistStep, WRITE_FAULTS } from "../hw/nvm_image.ts";
import { bootLine, InvariantChecker, type ScenarioResult, startObserved } from "./invariants.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { removeImage, tempImage } from "./temp_image.ts";

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
  const m = startObserved(image, ["--digest", "--power-fail", spec], checker);
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

/** The way the machine stopped must be the one the fault causes; an image error is E_IMAGE_IO. */
function checkStop(name: string, step: PersistStep, o: PowerOutcome, violations: string[]): void {
  const want = expectedHow(step);
  const absorbedOk = o.how === "absorbed" && step.endsWith("-lost");
  if (o.how !== want && !absorbedOk) {
    violations.push(`${name}: the machine stopped as "${o.how}" (exit ${o.exit}), not "${want}"`);
  }
  if (o.how === "image-error" && o.errorCode !== "E_IMAGE_IO") {
    violations.push(`${name}: image error line has code "${o.errorCode}", not E_IMAGE_IO`);
  }
}

/**
 * Resumes the image after injection `o`: the epoch must be the previous
 * checkpoint, or the new one once its superblock reached the file (or the
 * fault was absorbed), with the digest committed at that epoch; the counter
 * must count on. Returns the boot line and how the digest compared.
 */
async function resumeAfter(
  image: string,
  name: string,
  step: PersistStep,
  o: PowerOutcome,
  checker: InvariantChecker,
): Promise<{ boot: Extract<MachineLine, { t: "boot" }>; digest: string }> {
  const lastCommitted = Math.max(0, ...o.digests.keys());
  const isNew = step === "superblock-after" || o.how === "absorbed";
  const expected = o.how === "absorbed" ? lastCommitted : isNew ? o.epoch : o.epoch - 1;
  const m = startObserved(image, ["--digest"], checker);
  const boot = await m.waitFor(bootLine);
  const restored = await m.waitFor((l): l is DigestLine => l.t === "digest" && l.when === "resume");
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
  checker.checkCounter();
  await m.shutdown();
  return { boot, digest };
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
  opts: { log?: (s: string) => void; onStep?: OnStep } = {},
): Promise<ScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const image = tempImage("power");
  const checker = new InvariantChecker();
  const m = startObserved(image, ["--fresh", "--apps", "counter,writer", "--digest"], checker);
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
    checkStop(name, p.step, o, checker.violations);
    const resumeAt = performance.now();
    const { boot, digest } = await resumeAfter(image, name, p.step, o, checker);
    const resumeMs = performance.now() - resumeAt;
    resumes++;
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
    opts.onStep?.(i + 1, { "resume and check (ms)": resumeMs }, name);
  }
  removeImage(image);
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
