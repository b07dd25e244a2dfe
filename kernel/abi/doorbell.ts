/**
 * Doorbells: one wake word per thread (see layout.ts DoorbellWord).
 *
 * A waker increments RING and calls Atomics.notify only when the owner has
 * said it sleeps (SLEEPING = 1), so a busy owner costs its wakers one atomic
 * add. The owner sets SLEEPING, re-checks RING, then waits: with sequentially
 * consistent atomics one of the two always sees the other.
 *
 * @module
 */

import { ControlWord, DoorbellWord } from "./layout.ts";

/** Wakes whoever waits on `doorbell`. */
export function ringDoorbell(doorbell: Int32Array): void {
  Atomics.add(doorbell, DoorbellWord.RING, 1);
  if (Atomics.load(doorbell, DoorbellWord.SLEEPING) !== 0) {
    Atomics.notify(doorbell, DoorbellWord.RING);
  }
}

/** The current ring count, to pass to a later wait. */
export function doorbellCount(doorbell: Int32Array): number {
  return Atomics.load(doorbell, DoorbellWord.RING);
}

/**
 * Spins up to `iterations` for RING to move from `seen`; true if it did. With
 * a thread's control block, it also stops (true) once the kernel raises the
 * freeze line: an idle worker spinning here is not at a safe point, and would
 * hold the checkpoint back for the whole spin.
 */
export function spinDoorbell(
  doorbell: Int32Array,
  seen: number,
  iterations: number,
  control?: Int32Array,
): boolean {
  for (let i = 0; i < iterations; i++) {
    if (Atomics.load(doorbell, DoorbellWord.RING) !== seen) return true;
    if (control && Atomics.load(control, ControlWord.FREEZE) !== 0) return true;
  }
  return false;
}
