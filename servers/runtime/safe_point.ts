/**
 * What a worker does at a safe point under the freeze line (the decision
 * servers/runtime/program.ts `safePoint` acts on), apart so it can be
 * checked on its own.
 *
 * @module
 */

import { FreezeLine } from "../../kernel/abi/layout.ts";

/**
 * "run": go on (no freeze; or DRAIN and a step in flight, continuations
 * not yet run, or work the freeze lets it do); "park": between steps under
 * the line, park; "hold": the line is at CAPTURE and the worker is not
 * between steps with nothing to do (it woke after the kernel's second look,
 * with a reply on its way): it waits for the line to change and runs
 * nothing, since the kernel is copying its pages and reading its console's
 * HEAD.
 */
export type SafePointAction = "run" | "park" | "hold";

/** The action at a safe point: the freeze line, whether the worker is between steps, whether the freeze lets it work. */
export function safePointAction(
  line: FreezeLine,
  betweenSteps: boolean,
  workUnderFreeze: boolean,
): SafePointAction {
  if (line === FreezeLine.OFF) return "run";
  const goOn = !betweenSteps || workUnderFreeze;
  if (line === FreezeLine.CAPTURE) return goOn ? "hold" : "park";
  return goOn ? "run" : "park";
}
