/**
 * The outside observer of the crash-and-resume scenarios
 * (tools/crash_scenario.ts, power_scenario.ts, nested_scenario.ts): it sees
 * what anyone outside the machine sees (console text, committed epochs) and
 * checks the invariants after every resume.
 *
 * - {@link InvariantChecker}: no rollback visible in the console, never
 *   resumed older than what was seen or committed, the counter counts on.
 * - {@link startObserved}: a machine whose every line the checker reads.
 * - {@link ScenarioResult}: what a scenario run reports.
 *
 * @module
 */

import type { MachineLine } from "../hw/board.ts";
import { ConsoleView, MachineProcess } from "./machine_process.ts";

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

/** A console line of the machine. */
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

/** Starts a machine on `image` with `args` (and --report-checkpoints) and feeds every line to `checker`. */
export function startObserved(
  image: string,
  args: string[],
  checker: InvariantChecker,
): MachineProcess {
  const m = MachineProcess.start(image, ["--report-checkpoints", ...args]);
  m.onLine((l) => checker.observe(l));
  return m;
}

/** True for the machine's `boot` line. */
export const bootLine = (l: MachineLine): l is Extract<MachineLine, { t: "boot" }> =>
  l.t === "boot";
