/**
 * LLFree: a lock-free, log-free page-frame allocator whose whole state lives
 * in one {@link PersistentMemory} (after Wrenger et al., "LLFree: Scalable and
 * Optionally-Persistent Page-Frame Allocation", USENIX ATC'23).
 *
 * The allocator manages abstract page numbers `0 .. pageCount-1`; the pages
 * themselves need not be inside the memory that holds the metadata (the
 * object heap in `objects.ts` uses it for pages of the very same PMO).
 *
 * ## State, in three levels
 *
 * - **Bitfields** (the truth): one bit per 4 KiB page, 512 bits (16 Int32
 *   words, one cache line) per 2 MiB frame. A page is allocated iff its bit is
 *   set. A frame allocated whole (2 MiB) is marked by the HUGE flag of its
 *   frame word instead, and its bitfield stays zero.
 * - **Frame words**: free pages of the frame that nobody holds as a credit
 *   (bits 0..9), plus the HUGE flag. A counter is decremented *before* a bit is
 *   set and incremented *after* a bit is cleared, so it never promises a page
 *   that is not free; `alloc2m` claims a frame by a CAS from exactly 512 to
 *   HUGE, which no 4 KiB allocation in flight can pass.
 * - **Tree words**: free pages per tree of {@link FRAMES_PER_TREE} frames, a
 *   search hint (may be off by the operations in flight), and a reservation
 *   word per tree.
 *
 * ## Per-worker reservations
 *
 * Each handle has a worker slot (persisted, one cache line). It reserves a
 * tree with a CAS on the tree's reservation word, LLFree-style, and allocates
 * from it: it takes up to {@link CREDIT_BATCH} *credits* at once from a frame
 * of that tree (one CAS on the frame word, one add on the tree word) and then
 * allocates each page with a single `Atomics.or` on the bitfield word. A page
 * freed into the frame the handle holds credits for only costs one
 * `Atomics.and`. When its tree runs dry the handle picks another, preferring
 * partially used unreserved trees, then any unreserved tree, then — rather
 * than failing — trees reserved by others. Unlike the paper, credits are taken
 * per frame in batches instead of a whole tree at once, so a reservation never
 * hides more than one frame's pages from the other workers.
 *
 * ## Crash consistency without a log
 *
 * Every page changes state with one atomic bitfield operation, so the
 * bitfields (and HUGE flags) are always exact. Counters, reservations and
 * credits are hints: after an unclean stop, {@link LLFree.recover} rebuilds
 * them from the bitfields and drops all reservations.
 *
 * Every write goes through the PersistentMemory barrier (`atomicOr`,
 * `atomicCas`, `setU32`, ...).
 *
 * ## Modules
 *
 * - this file: the {@link LLFree} handle: format, attach, the 4 KiB, run and
 *   2 MiB allocation paths, counting, and recovery/checking entry points.
 * - `llfree/layout.ts`: constants and the word layout, writing and finding
 *   metadata.
 * - `llfree/reservations.ts`: the handle's worker slot, tree reservations and
 *   credits (the slow path), which `LLFree` extends.
 * - `llfree/recovery.ts`: rebuilding counters from the bitfields, and the
 *   invariant check.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import {
  badArgument,
  formatMetadata,
  FRAME_HUGE,
  FRAME_PAGES,
  FRAME_WORDS,
  FRAMES_PER_TREE,
  LLFreeHeader,
  LLFreeSlot,
  LLFreeTree,
  locateMetadata,
  MAX_RUN_ORDER,
  metadataBytes,
  WORKER_SLOTS,
} from "./llfree/layout.ts";
import { LLFreeWorker } from "./llfree/reservations.ts";
import {
  checkCounters,
  freeBits,
  type LLFreeRecovery,
  recoverCounters,
} from "./llfree/recovery.ts";

export {
  CREDIT_BATCH,
  FRAME_PAGES,
  FRAMES_PER_TREE,
  LLFREE_MAGIC,
  LLFREE_VERSION,
  LLFreeHeader,
  LLFreeSlot,
  LLFreeTree,
  MAX_RUN_ORDER,
  popcount32,
  WORKER_SLOTS,
} from "./llfree/layout.ts";
export type { LLFreeRecovery } from "./llfree/recovery.ts";

/**
 * One worker's handle on an LLFree allocator in a PersistentMemory.
 *
 * @example
 * ```ts
 * const mem = new PersistentMemory(allocatePmoBuffers(1, 16));
 * const a = LLFree.format(mem, 4096);      // 4096 pages = 8 frames
 * const p = a.alloc4k();
 * a.free4k(p);
 * const b = LLFree.attach(mem, 1);         // in another worker
 * ```
 */
export class LLFree extends LLFreeWorker {
  private constructor(mem: PersistentMemory, workerIndex: number, baseWord: number) {
    super(mem, workerIndex, baseWord);
  }

  /** Bytes of metadata for `pageCount` pages (a multiple of 64). */
  static metadataBytes(pageCount: number): number {
    return metadataBytes(pageCount);
  }

  /**
   * Lays out fresh metadata for `pageCount` pages at byte `baseByte` of `mem`
   * (64-byte aligned) and returns worker 0's handle. All pages start free.
   */
  static format(mem: PersistentMemory, pageCount: number, baseByte = 0): LLFree {
    return new LLFree(mem, 0, formatMetadata(mem, pageCount, baseByte));
  }

  /**
   * Another worker's handle on formatted metadata at `baseByte`. Each handle
   * in use at the same time needs its own `workerIndex` (0..WORKER_SLOTS-1);
   * a handle re-attached with the index of a stopped one adopts its
   * reservation and credits.
   */
  static attach(mem: PersistentMemory, workerIndex: number, baseByte = 0): LLFree {
    return new LLFree(mem, workerIndex, locateMetadata(mem, workerIndex, baseByte));
  }

  // -------------------------------------------------------------------------
  // 4 KiB pages
  // -------------------------------------------------------------------------

  /** Allocates one page; returns its number or throws E_NO_MEMORY. */
  alloc4k(): number {
    if (this.credits === 0) this.refill();
    const words = this.words;
    const base = this.bitWord + this.frame * FRAME_WORDS;
    let i = this.wordHint;
    for (let tries = 0; tries < FRAME_PAGES + 4 * FRAME_WORDS; tries++) {
      const w = words[base + i];
      if (w !== -1) {
        const bit = ~w & (w + 1);
        const old = this.mem.atomicOr(base + i, bit);
        if ((old & bit) === 0) {
          const c = this.credits - 1;
          this.credits = c;
          this.mem.setU32(this.slotCreditsByte, c);
          this.wordHint = i;
          return (this.frame << 9) + (i << 5) + (31 - Math.clz32(bit));
        }
        continue; // another worker set that bit first: look at the word again
      }
      i = (i + 1) & (FRAME_WORDS - 1);
    }
    throw new TardigradeError(
      Err.E_INTERNAL,
      `LLFree.alloc4k: ${this.credits} credits for frame ${this.frame} but no free bit; run recover()`,
      { frame: this.frame },
    );
  }

  /** Frees one page: E_BAD_ARGUMENT out of range or inside a huge frame, E_DOUBLE_FREE if free. */
  free4k(page: number): void {
    if (!((page >>> 0) === page && page < this.pageCount)) {
      badArgument("free4k", `page ${page} is not in [0, ${this.pageCount})`, { page });
    }
    const bit = 1 << (page & 31);
    const old = this.mem.atomicAnd(this.bitWord + (page >>> 5), ~bit);
    if ((old & bit) === 0) this.notAllocated("free4k", page);
    const frame = page >>> 9;
    if (frame === this.frame) {
      const c = this.credits + 1;
      this.credits = c;
      this.mem.setU32(this.slotCreditsByte, c);
    } else {
      this.mem.atomicAdd(this.frameWord + frame, 1);
      this.mem.atomicAdd(this.treeWord + ((frame / FRAMES_PER_TREE) | 0) * LLFreeTree.WORDS, 1);
    }
  }

  private notAllocated(where: string, page: number): never {
    const frame = page >>> 9;
    if (this.words[this.frameWord + frame] & FRAME_HUGE) {
      badArgument(where, `page ${page} is inside huge frame ${frame}; free it with free2m`, {
        page,
        frame,
      });
    }
    throw new TardigradeError(Err.E_DOUBLE_FREE, `LLFree.${where}: page ${page} is already free`, {
      page,
    });
  }

  /** True if `page` is allocated (its bit is set, or its frame is huge). */
  isAllocated(page: number): boolean {
    if (!((page >>> 0) === page && page < this.pageCount)) {
      badArgument("isAllocated", `page ${page} is not in [0, ${this.pageCount})`, { page });
    }
    if (this.words[this.frameWord + (page >>> 9)] & FRAME_HUGE) return true;
    return (this.words[this.bitWord + (page >>> 5)] & (1 << (page & 31))) !== 0;
  }

  // -------------------------------------------------------------------------
  // Runs of 2^order pages inside one bitfield word (order 1..5)
  // -------------------------------------------------------------------------

  /**
   * Allocates 2^order contiguous pages aligned to 2^order (order 0..5, at most
   * one bitfield word); returns the first page. E_NO_MEMORY when no aligned
   * run is free.
   */
  allocOrder(order: number): number {
    if (!Number.isInteger(order) || order < 0 || order > MAX_RUN_ORDER) {
      badArgument("allocOrder", `order ${order} must be in [0, ${MAX_RUN_ORDER}]`, { order });
    }
    if (order === 0) return this.alloc4k();
    const n = 1 << order;
    const mask0 = n === 32 ? -1 : (1 << n) - 1;
    const start = this.frame >= 0 ? this.frame : 0;
    for (let k = 0; k < this.frameCount; k++) {
      const f = (start + k) % this.frameCount;
      if (!this.takeFromFrame(f, n)) continue;
      const base = this.bitWord + f * FRAME_WORDS;
      for (let i = 0; i < FRAME_WORDS; i++) {
        for (let s = 0; s < 32; s += n) {
          const m = mask0 << s;
          for (;;) {
            const v = this.words[base + i];
            if ((v & m) !== 0) break;
            if (this.mem.atomicCas(base + i, v, v | m) === v) {
              this.addTree(f, -n);
              return (f << 9) + (i << 5) + s;
            }
          }
        }
      }
      this.mem.atomicAdd(this.frameWord + f, n); // fragmented: give the count back
    }
    if (this.credits > 0) {
      this.release();
      return this.allocOrder(order);
    }
    throw new TardigradeError(
      Err.E_NO_MEMORY,
      `LLFree.allocOrder: no free aligned run of ${n} pages`,
      { order },
    );
  }

  /** Frees a run from {@link allocOrder}; the run may also be freed page by page with free4k. */
  freeOrder(page: number, order: number): void {
    if (!Number.isInteger(order) || order < 0 || order > MAX_RUN_ORDER) {
      badArgument("freeOrder", `order ${order} must be in [0, ${MAX_RUN_ORDER}]`, { order });
    }
    if (order === 0) return this.free4k(page);
    const n = 1 << order;
    if (!((page >>> 0) === page && page + n <= this.pageCount && (page & (n - 1)) === 0)) {
      badArgument("freeOrder", `page ${page} is not a ${n}-aligned run in [0, ${this.pageCount})`, {
        page,
        order,
      });
    }
    const m = (n === 32 ? -1 : (1 << n) - 1) << (page & 31);
    const idx = this.bitWord + (page >>> 5);
    for (;;) {
      const v = this.words[idx];
      if ((v & m) !== m) {
        if ((v & m) === 0) this.notAllocated("freeOrder", page);
        badArgument("freeOrder", `run at ${page} of ${n} pages is only partly allocated`, {
          page,
          order,
        });
      }
      if (this.mem.atomicCas(idx, v, v & ~m) === v) break;
    }
    const f = page >>> 9;
    this.mem.atomicAdd(this.frameWord + f, n);
    this.addTree(f, n);
  }

  // -------------------------------------------------------------------------
  // 2 MiB frames
  // -------------------------------------------------------------------------

  /** Allocates a whole free 2 MiB frame; returns its first page (512-aligned). */
  alloc2m(): number {
    const r = this.tryAlloc2m();
    if (r >= 0) return r;
    if (this.credits > 0) {
      // Our own credits may be what keeps a frame from being whole.
      this.release();
      const again = this.tryAlloc2m();
      if (again >= 0) return again;
    }
    throw new TardigradeError(Err.E_NO_MEMORY, "LLFree.alloc2m: no fully free 2 MiB frame", {
      frames: this.frameCount,
    });
  }

  private tryAlloc2m(): number {
    const words = this.words;
    const T = this.treeCount;
    // Pass 0 trusts the tree hints; pass 1 scans every frame.
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < T; k++) {
        const t = (this.hugeHint + k) % T;
        if (pass === 0 && words[this.treeWord + t * LLFreeTree.WORDS] < FRAME_PAGES) continue;
        const first = t * FRAMES_PER_TREE;
        const last = Math.min(first + FRAMES_PER_TREE, this.fullFrames);
        for (let f = first; f < last; f++) {
          if (words[this.frameWord + f] !== FRAME_PAGES) continue;
          if (this.mem.atomicCas(this.frameWord + f, FRAME_PAGES, FRAME_HUGE) === FRAME_PAGES) {
            this.mem.atomicAdd(this.treeWord + t * LLFreeTree.WORDS, -FRAME_PAGES);
            this.hugeHint = t;
            return f << 9;
          }
        }
      }
    }
    return -1;
  }

  /** Frees a frame from {@link alloc2m}. */
  free2m(page: number): void {
    if (!((page >>> 0) === page && (page & (FRAME_PAGES - 1)) === 0 && page < this.pageCount)) {
      badArgument(
        "free2m",
        `page ${page} is not the first page of a frame in [0, ${this.pageCount})`,
        {
          page,
        },
      );
    }
    const f = page >>> 9;
    if (this.mem.atomicCas(this.frameWord + f, FRAME_HUGE, FRAME_PAGES) !== FRAME_HUGE) {
      const b = this.bitWord + f * FRAME_WORDS;
      let any = 0;
      for (let i = 0; i < FRAME_WORDS; i++) any |= this.words[b + i];
      if (any === 0 || f >= this.fullFrames) {
        throw new TardigradeError(
          Err.E_DOUBLE_FREE,
          `LLFree.free2m: frame ${f} (page ${page}) is not allocated as a huge frame`,
          { page },
        );
      }
      badArgument("free2m", `frame ${f} holds 4 KiB allocations, not a huge frame`, { page });
    }
    this.mem.atomicAdd(this.treeWord + ((f / FRAMES_PER_TREE) | 0) * LLFreeTree.WORDS, FRAME_PAGES);
  }

  // -------------------------------------------------------------------------
  // Counting, recovery, checking
  // -------------------------------------------------------------------------

  /** Free pages from the counters: tree counters plus every worker's credits. */
  freePages(): number {
    let n = 0;
    for (let t = 0; t < this.treeCount; t++) {
      n += this.words[this.treeWord + t * LLFreeTree.WORDS + LLFreeTree.COUNT];
    }
    const slots = this.baseWord + this.words[this.baseWord + LLFreeHeader.SLOTS];
    for (let i = 0; i < WORKER_SLOTS; i++) {
      n += this.words[slots + i * LLFreeSlot.WORDS + LLFreeSlot.CREDITS];
    }
    return n;
  }

  /** Free pages counted from the bitfields and HUGE flags (slow, exact when quiescent). */
  freePagesExact(): number {
    let n = 0;
    for (let f = 0; f < this.frameCount; f++) n += freeBits(this, f);
    return n;
  }

  /** Huge frames currently allocated. */
  hugeFrames(): number {
    let n = 0;
    for (let f = 0; f < this.frameCount; f++) {
      if (this.words[this.frameWord + f] & FRAME_HUGE) n++;
    }
    return n;
  }

  /**
   * Rebuilds every counter from the bitfields and drops all reservations and
   * credits, after an unclean stop. No other handle may be in use; this
   * handle starts afresh.
   */
  recover(): LLFreeRecovery {
    const r = recoverCounters(this);
    this.forgetSlot();
    return r;
  }

  /**
   * Asserts that counters, credits and reservations agree with the bitfields
   * (E_INTERNAL naming the first mismatch). Only meaningful while no handle
   * is in the middle of an operation.
   */
  check(): void {
    checkCounters(this);
  }
}
