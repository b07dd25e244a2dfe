/**
 * The freeze protocol: how a checkpoint stops the world between steps
 * (docs/ARCHITECTURE.md, "Steps, and why every request takes effect once").
 *
 * Map of this file:
 * - {@link freeze}: DRAIN until every worker is PARKED or WAITING, then
 *   CAPTURE and a second look at every WAKE_SEQ (back to DRAIN if one
 *   moved); spins, then sleeps in slices, or turns the kernel's event loop
 *   while a step waits for system calls; gives up after FREEZE_BUDGET_MS.
 * - {@link thaw}: the line goes OFF; parked workers' doorbells are rung.
 *
 * Each worker's control block is its own: the line is set per worker, and
 * only a worker that found CAPTURE sleeps on it, so raising it wakes nobody.
 *
 * @module
 */

import { ControlWord, FreezeLine, RunState } from "./abi/layout.ts";
import { ringDoorbell } from "./abi/doorbell.ts";
import { setImmediate } from "node:timers";
import { FREEZE_BUDGET_MS, FREEZE_SLICE_MS, FREEZE_SPIN_MS } from "./abi/limits.ts";

/** What the freeze needs of a thread: its control block, and its doorbell to wake it. */
export interface FreezeWorker {
  readonly control: Int32Array;
  readonly doorbellWords?: Int32Array;
}

/**
 * Raises the freeze line (DRAIN) and waits until every worker is between
 * steps: PARKED or WAITING. Workers in the middle of a step run on, and
 * parked ones serve the calls those steps make. Then CAPTURE, and a
 * second look at every WAKE_SEQ: a worker that woke in between sends the
 * freeze back to DRAIN. While a step waits for system calls the kernel
 * turns its own event loop to answer them. Resolves true once the line is
 * at CAPTURE with every worker between steps; false when that took longer
 * than FREEZE_BUDGET_MS (the line is left up: the caller thaws).
 */
export async function freeze(live: readonly FreezeWorker[]): Promise<boolean> {
  setLine(live, FreezeLine.DRAIN);
  const start = performance.now();
  for (let spins = 0;; spins++) {
    const seqs = betweenSteps(live);
    if (seqs) {
      setLine(live, FreezeLine.CAPTURE);
      const again = betweenSteps(live);
      if (again && again.every((v, i) => v === seqs[i])) return true;
      setLine(live, FreezeLine.DRAIN);
    }
    if ((spins & 255) !== 255) {
      Atomics.pause();
      continue;
    }
    const waited = performance.now() - start;
    if (waited > FREEZE_BUDGET_MS) return false;
    if (live.some((t) => Atomics.load(t.control, ControlWord.SYSCALLS_PENDING) > 0)) {
      await new Promise((resolve) => setImmediate(resolve));
    } else if (waited > FREEZE_SPIN_MS) {
      // A worker that is not at a safe point yet may be waiting for a core: after a short
      // spin, give this one up (two cores, and the board and timer want them too) until the
      // first worker still running parks or waits (it notifies its RUN_STATE), a slice at most.
      const running = live.find((t) =>
        !isBetweenSteps(Atomics.load(t.control, ControlWord.RUN_STATE))
      );
      if (running) {
        const state = Atomics.load(running.control, ControlWord.RUN_STATE);
        if (!isBetweenSteps(state)) {
          Atomics.wait(running.control, ControlWord.RUN_STATE, state, FREEZE_SLICE_MS);
        }
      }
    }
  }
}

/**
 * Lowers the freeze line. Parked workers sleep on their doorbells, so ring
 * theirs (not a WAITING worker's: it sleeps on as before the freeze).
 */
export function thaw(live: readonly FreezeWorker[]): void {
  setLine(live, FreezeLine.OFF);
  for (const t of live) {
    const parked = Atomics.load(t.control, ControlWord.RUN_STATE) === RunState.PARKED;
    if (parked && t.doorbellWords) ringDoorbell(t.doorbellWords);
  }
}

/** True for PARKED and WAITING, the states a worker is frozen in. */
function isBetweenSteps(state: number): boolean {
  return state === RunState.PARKED || state === RunState.WAITING;
}

/** Every worker's WAKE_SEQ if all are PARKED or WAITING; null if one is not. */
function betweenSteps(live: readonly FreezeWorker[]): number[] | null {
  const seqs: number[] = [];
  for (const t of live) {
    const seq = Atomics.load(t.control, ControlWord.WAKE_SEQ);
    const s = Atomics.load(t.control, ControlWord.RUN_STATE);
    if (!isBetweenSteps(s)) return null;
    seqs.push(seq);
  }
  return seqs;
}

/**
 * Sets every worker's freeze line. Only a worker that found CAPTURE sleeps
 * on the line itself (until it changes), so raising it wakes nobody.
 */
function setLine(live: readonly FreezeWorker[], line: FreezeLine): void {
  for (const t of live) {
    const was = Atomics.exchange(t.control, ControlWord.FREEZE, line);
    if (was === FreezeLine.CAPTURE) Atomics.notify(t.control, ControlWord.FREEZE);
  }
}
