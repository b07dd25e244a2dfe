/**
 * LLFree recovery and checking: both read a handle's {@link LLFreeGeometry}
 * and treat the bitfields and HUGE flags as the truth.
 *
 * - {@link recoverCounters}: after an unclean stop, clears every worker slot
 *   (reservations and credits are hints) and rebuilds each frame word and
 *   tree counter from the bitfields.
 * - {@link checkCounters}: asserts that counters, credits and reservations
 *   agree with the bitfields.
 * - {@link freeBits}: free pages of one frame, counted from its bitfield.
 *
 * @module
 */

import { assert } from "../../../kernel/abi/errors.ts";
import {
  FRAME_COUNT_MASK,
  FRAME_HUGE,
  FRAME_PAGES,
  FRAME_WORDS,
  FRAMES_PER_TREE,
  type LLFreeGeometry,
  LLFreeHeader,
  LLFreeSlot,
  LLFreeTree,
  popcount32,
  WORKER_SLOTS,
} from "./layout.ts";

/** Result of {@link recoverCounters} (and `LLFree.recover`). */
export interface LLFreeRecovery {
  /** Frame words that did not match their bitfield. */
  framesFixed: number;
  /** Tree counters that did not match their frames, or were reserved. */
  treesFixed: number;
  /** Worker slots that still held a reservation or credits. */
  reservationsDropped: number;
}

/** Free pages of frame `f` from its bitfield (0 for a huge frame). */
export function freeBits(g: LLFreeGeometry, f: number): number {
  if (g.words[g.frameWord + f] & FRAME_HUGE) return 0;
  const b = g.bitWord + f * FRAME_WORDS;
  let used = 0;
  for (let i = 0; i < FRAME_WORDS; i++) used += popcount32(g.words[b + i]);
  return FRAME_PAGES - used;
}

/** Word index of worker slot 0. */
function slotsWord(g: LLFreeGeometry): number {
  return g.baseWord + g.words[g.baseWord + LLFreeHeader.SLOTS];
}

/**
 * Rebuilds every counter from the bitfields and zeroes every worker slot.
 * No handle may be in use; the caller resets its own volatile copies.
 */
export function recoverCounters(g: LLFreeGeometry): LLFreeRecovery {
  const reservationsDropped = clearSlots(g);
  let framesFixed = 0;
  let treesFixed = 0;
  for (let t = 0; t < g.treeCount; t++) {
    const r = rebuildTree(g, t);
    framesFixed += r.framesFixed;
    if (r.treeFixed) treesFixed++;
  }
  return { framesFixed, treesFixed, reservationsDropped };
}

/** Zeroes every worker slot; returns how many held a reservation or credits. */
function clearSlots(g: LLFreeGeometry): number {
  const words = g.words;
  const slots = slotsWord(g);
  let dropped = 0;
  for (let i = 0; i < WORKER_SLOTS; i++) {
    const s = slots + i * LLFreeSlot.WORDS;
    if (words[s + LLFreeSlot.TREE] !== 0 || words[s + LLFreeSlot.CREDITS] !== 0) dropped++;
    g.mem.fill(s << 2, LLFreeSlot.WORDS * 4, 0);
  }
  return dropped;
}

/** Rewrites tree `t`'s frame words and counter from the bitfields, and unreserves it. */
function rebuildTree(g: LLFreeGeometry, t: number): { framesFixed: number; treeFixed: boolean } {
  const words = g.words;
  const first = t * FRAMES_PER_TREE;
  const last = Math.min(first + FRAMES_PER_TREE, g.frameCount);
  let framesFixed = 0;
  let sum = 0;
  for (let f = first; f < last; f++) {
    const w = words[g.frameWord + f];
    const want = (w & FRAME_HUGE) ? FRAME_HUGE : freeBits(g, f);
    if (w !== want) {
      g.mem.atomicStore(g.frameWord + f, want);
      framesFixed++;
    }
    sum += want & FRAME_COUNT_MASK;
  }
  const line = g.treeWord + t * LLFreeTree.WORDS;
  if (words[line + LLFreeTree.COUNT] === sum && words[line + LLFreeTree.RESERVED_BY] === 0) {
    return { framesFixed, treeFixed: false };
  }
  g.mem.atomicStore(line + LLFreeTree.COUNT, sum);
  g.mem.atomicStore(line + LLFreeTree.RESERVED_BY, 0);
  return { framesFixed, treeFixed: true };
}

/**
 * Asserts that counters, credits and reservations agree with the bitfields
 * (E_INTERNAL naming the first mismatch). Only meaningful while no handle
 * is in the middle of an operation.
 */
export function checkCounters(g: LLFreeGeometry): void {
  const { creditsOf, reserverOf } = slotClaims(g);
  for (let t = 0; t < g.treeCount; t++) checkTree(g, t, creditsOf, reserverOf);
}

/** Credits held per frame and the reserving slot per tree, from the worker slots. */
function slotClaims(
  g: LLFreeGeometry,
): { creditsOf: Map<number, number>; reserverOf: Map<number, number> } {
  const words = g.words;
  const slots = slotsWord(g);
  const creditsOf = new Map<number, number>();
  const reserverOf = new Map<number, number>();
  for (let i = 0; i < WORKER_SLOTS; i++) {
    const s = slots + i * LLFreeSlot.WORDS;
    const frame = words[s + LLFreeSlot.FRAME] - 1;
    const credits = words[s + LLFreeSlot.CREDITS];
    assert(credits >= 0, "LLFree.check", `slot ${i} holds ${credits} credits`);
    if (credits > 0) {
      assert(
        frame >= 0 && frame < g.frameCount,
        "LLFree.check",
        `slot ${i} credits lack a frame`,
      );
      creditsOf.set(frame, (creditsOf.get(frame) ?? 0) + credits);
    }
    if (words[s + LLFreeSlot.RESERVED] === 1) {
      const tree = words[s + LLFreeSlot.TREE] - 1;
      assert(!reserverOf.has(tree), "LLFree.check", `tree ${tree} reserved by two slots`);
      reserverOf.set(tree, i);
    }
  }
  return { creditsOf, reserverOf };
}

/** Asserts tree `t`'s frames against their bitfields and its counter and reservation. */
function checkTree(
  g: LLFreeGeometry,
  t: number,
  creditsOf: Map<number, number>,
  reserverOf: Map<number, number>,
): void {
  const words = g.words;
  const first = t * FRAMES_PER_TREE;
  const last = Math.min(first + FRAMES_PER_TREE, g.frameCount);
  let sum = 0;
  for (let f = first; f < last; f++) {
    const w = words[g.frameWord + f];
    const b = g.bitWord + f * FRAME_WORDS;
    if (w & FRAME_HUGE) {
      assert(w === FRAME_HUGE, "LLFree.check", `huge frame ${f} has count bits ${w}`);
      assert(f < g.fullFrames, "LLFree.check", `partial frame ${f} is huge`);
      for (let i = 0; i < FRAME_WORDS; i++) {
        assert(words[b + i] === 0, "LLFree.check", `huge frame ${f} has 4 KiB bits set`);
      }
      continue;
    }
    const held = creditsOf.get(f) ?? 0;
    const free = freeBits(g, f);
    assert(
      (w & FRAME_COUNT_MASK) + held === free && (w & ~FRAME_COUNT_MASK) === 0,
      "LLFree.check",
      `frame ${f}: counter ${w} + credits ${held} != ${free} free bits`,
    );
    sum += w;
  }
  const line = g.treeWord + t * LLFreeTree.WORDS;
  const count = words[line + LLFreeTree.COUNT];
  assert(count === sum, "LLFree.check", `tree ${t}: counter ${count} != frame sum ${sum}`);
  const by = words[line + LLFreeTree.RESERVED_BY];
  const slot = reserverOf.get(t);
  assert(
    slot === undefined ? by === 0 : by === slot + 1,
    "LLFree.check",
    `tree ${t}: reserved by ${by - 1}, slots say ${slot ?? "none"}`,
  );
}
