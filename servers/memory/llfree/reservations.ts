/**
 * An LLFree handle's worker slot and the slow path that fills it: which tree
 * the handle has reserved, which frame it holds credits of and how many
 * (persisted in its slot, one cache line; the fields here are volatile
 * copies), and the operations that take and give back credits and
 * reservations. `LLFree` (servers/memory/llfree.ts) extends this class with
 * the allocation fast paths; layout and constants are in ./layout.ts.
 *
 * - {@link LLFreeWorker.refill}: more credits of the current frame, another
 *   frame of the tree, another tree ({@link LLFreeWorker.pickTree}), else a
 *   scan of every frame, else E_NO_MEMORY.
 * - {@link LLFreeWorker.switchTree}, {@link LLFreeWorker.release}: give back
 *   credits and the reservation.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import {
  CREDIT_BATCH,
  FRAME_COUNT_MASK,
  FRAME_HUGE,
  FRAME_PAGES,
  FRAMES_PER_TREE,
  type LLFreeGeometry,
  LLFreeHeader,
  LLFreeSlot,
  LLFreeTree,
} from "./layout.ts";

/** A handle's geometry, worker slot and reservation slow path (see the module map). */
export class LLFreeWorker implements LLFreeGeometry {
  /** The memory holding the metadata. */
  readonly mem: PersistentMemory;
  /** This handle's worker slot. */
  readonly workerIndex: number;
  /** Managed pages. */
  readonly pageCount: number;
  /** Frames (the last may be partial). */
  readonly frameCount: number;
  /** Trees (the last may be partial). */
  readonly treeCount: number;
  /** Word index of the metadata in `mem.words`. */
  readonly baseWord: number;
  /** `mem.words` (read directly; every write goes through `mem`). */
  readonly words: Int32Array;
  /** Word index of tree line 0. */
  readonly treeWord: number;
  /** Word index of frame word 0. */
  readonly frameWord: number;
  /** Word index of bitfield word 0. */
  readonly bitWord: number;
  /** Frames that are whole (512 pages); a partial last frame cannot be huge. */
  readonly fullFrames: number;

  protected readonly slotWord: number;
  protected readonly slotCreditsByte: number;

  // Volatile copies of this worker's slot (the slot is the persisted truth).
  protected tree = -1;
  protected reserved = false;
  protected frame = -1;
  protected credits = 0;
  protected wordHint = 0;
  protected hugeHint = 0;

  /** A handle on formatted metadata at word `baseWord`; adopts worker slot `workerIndex`. */
  protected constructor(mem: PersistentMemory, workerIndex: number, baseWord: number) {
    const w = mem.words;
    this.mem = mem;
    this.words = w;
    this.workerIndex = workerIndex;
    this.baseWord = baseWord;
    this.pageCount = w[baseWord + LLFreeHeader.PAGE_COUNT];
    this.frameCount = w[baseWord + LLFreeHeader.FRAME_COUNT];
    this.treeCount = w[baseWord + LLFreeHeader.TREE_COUNT];
    this.slotWord = baseWord + w[baseWord + LLFreeHeader.SLOTS] + workerIndex * LLFreeSlot.WORDS;
    this.slotCreditsByte = (this.slotWord + LLFreeSlot.CREDITS) << 2;
    this.treeWord = baseWord + w[baseWord + LLFreeHeader.TREES];
    this.frameWord = baseWord + w[baseWord + LLFreeHeader.FRAMES];
    this.bitWord = baseWord + w[baseWord + LLFreeHeader.BITS];
    this.fullFrames = Math.floor(this.pageCount / FRAME_PAGES);
    // Adopt the slot: a worker that re-attaches keeps its reservation and credits.
    const s = this.slotWord;
    this.tree = w[s + LLFreeSlot.TREE] - 1;
    this.frame = w[s + LLFreeSlot.FRAME] - 1;
    this.credits = w[s + LLFreeSlot.CREDITS];
    this.reserved = w[s + LLFreeSlot.RESERVED] === 1;
    this.hugeHint = (workerIndex * 7) % Math.max(1, this.treeCount);
  }

  protected addTree(frame: number, delta: number): void {
    this.mem.atomicAdd(this.treeWord + ((frame / FRAMES_PER_TREE) | 0) * LLFreeTree.WORDS, delta);
  }

  /** Takes `n` free pages of frame `f` out of its counter (CAS); false if it has fewer. */
  protected takeFromFrame(f: number, n: number): boolean {
    const idx = this.frameWord + f;
    for (;;) {
      const w = this.words[idx];
      if ((w & FRAME_HUGE) !== 0 || (w & FRAME_COUNT_MASK) < n) return false;
      if (this.mem.atomicCas(idx, w, w - n) === w) return true;
    }
  }

  /** Takes up to CREDIT_BATCH credits of frame `f`; this handle must hold none. */
  protected takeCredits(f: number): boolean {
    const idx = this.frameWord + f;
    for (;;) {
      const w = this.words[idx];
      if ((w & FRAME_HUGE) !== 0) return false;
      const c = w & FRAME_COUNT_MASK;
      if (c === 0) return false;
      const k = c < CREDIT_BATCH ? c : CREDIT_BATCH;
      if (this.mem.atomicCas(idx, w, w - k) === w) {
        this.addTree(f, -k);
        const s = this.slotWord;
        if (this.frame !== f) {
          this.frame = f;
          this.wordHint = 0;
          this.mem.setU32((s + LLFreeSlot.FRAME) << 2, f + 1);
        }
        this.credits = k;
        this.mem.setU32(this.slotCreditsByte, k);
        return true;
      }
    }
  }

  /** Makes credits > 0: more of the current frame, another frame of the tree, another tree. */
  protected refill(): void {
    if (this.frame >= 0 && this.takeCredits(this.frame)) return;
    if (this.tree >= 0 && this.takeFromTree(this.tree)) return;
    for (let attempt = 0; attempt < this.treeCount; attempt++) {
      const t = this.pickTree();
      if (t < 0) break;
      this.switchTree(t);
      if (this.takeFromTree(t)) return;
    }
    // Tree counters are hints: scan every frame before giving up.
    for (let f = 0; f < this.frameCount; f++) {
      const w = this.words[this.frameWord + f];
      if ((w & FRAME_HUGE) !== 0 || (w & FRAME_COUNT_MASK) === 0) continue;
      const t = (f / FRAMES_PER_TREE) | 0;
      if (t !== this.tree) this.switchTree(t);
      if (this.takeCredits(f)) return;
    }
    throw new TardigradeError(Err.E_NO_MEMORY, "LLFree.alloc4k: no free page", {
      pages: this.pageCount,
    });
  }

  protected takeFromTree(t: number): boolean {
    const first = t * FRAMES_PER_TREE;
    const n = Math.min(FRAMES_PER_TREE, this.frameCount - first);
    const from = this.frame >= first && this.frame < first + n ? this.frame - first : 0;
    for (let k = 0; k < n; k++) {
      if (this.takeCredits(first + ((from + k) % n))) return true;
    }
    return false;
  }

  protected treeCapacity(t: number): number {
    const first = t * FRAMES_PER_TREE * FRAME_PAGES;
    return Math.min(FRAMES_PER_TREE * FRAME_PAGES, this.pageCount - first);
  }

  /**
   * The next tree to allocate from: a partially used unreserved tree, else
   * any unreserved tree with free pages, else any tree with free pages
   * (reserved by another worker); -1 if the counters show none.
   */
  protected pickTree(): number {
    const T = this.treeCount;
    const words = this.words;
    const start = this.tree >= 0 ? this.tree + 1 : (this.workerIndex * 5) % T;
    for (let pass = 0; pass < 3; pass++) {
      for (let k = 0; k < T; k++) {
        const t = (start + k) % T;
        if (t === this.tree) continue;
        const line = this.treeWord + t * LLFreeTree.WORDS;
        const free = words[line + LLFreeTree.COUNT];
        if (free <= 0) continue;
        const reservedBy = words[line + LLFreeTree.RESERVED_BY];
        if (pass < 2 && reservedBy !== 0) continue;
        const cap = this.treeCapacity(t);
        if (pass === 0 && !(free >= cap >> 3 && free < cap)) continue;
        return t;
      }
    }
    return -1;
  }

  /** Moves this handle to tree `t`, returning credits and the old reservation. */
  protected switchTree(t: number): void {
    const s = this.slotWord;
    this.returnCredits();
    this.dropReservation();
    const line = this.treeWord + t * LLFreeTree.WORDS;
    this.reserved =
      this.mem.atomicCas(line + LLFreeTree.RESERVED_BY, 0, this.workerIndex + 1) === 0;
    this.tree = t;
    this.mem.setU32((s + LLFreeSlot.TREE) << 2, t + 1);
    this.mem.setU32((s + LLFreeSlot.RESERVED) << 2, this.reserved ? 1 : 0);
  }

  protected returnCredits(): void {
    const c = this.credits;
    if (c > 0) {
      this.credits = 0;
      this.mem.setU32(this.slotCreditsByte, 0);
      this.mem.atomicAdd(this.frameWord + this.frame, c);
      this.addTree(this.frame, c);
    }
    if (this.frame >= 0) {
      this.frame = -1;
      this.mem.setU32((this.slotWord + LLFreeSlot.FRAME) << 2, 0);
    }
  }

  protected dropReservation(): void {
    if (this.reserved) {
      const line = this.treeWord + this.tree * LLFreeTree.WORDS;
      this.mem.atomicCas(line + LLFreeTree.RESERVED_BY, this.workerIndex + 1, 0);
      this.reserved = false;
      this.mem.setU32((this.slotWord + LLFreeSlot.RESERVED) << 2, 0);
    }
  }

  /**
   * Returns this handle's credits and tree reservation (call before a worker
   * stops cleanly). The handle stays usable and reserves again on demand.
   */
  release(): void {
    this.returnCredits();
    this.dropReservation();
    if (this.tree >= 0) {
      this.tree = -1;
      this.mem.setU32((this.slotWord + LLFreeSlot.TREE) << 2, 0);
    }
  }

  /** Forgets the volatile copies of the slot (after recovery zeroed every slot). */
  protected forgetSlot(): void {
    this.tree = -1;
    this.frame = -1;
    this.credits = 0;
    this.reserved = false;
    this.wordHint = 0;
  }
}
