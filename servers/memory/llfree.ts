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
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { HUGE_FRAME_PAGES } from "../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";

// ---------------------------------------------------------------------------
// Layout (Int32 word offsets, relative to the allocator's base word)
// ---------------------------------------------------------------------------

/** "LLFr": marks formatted LLFree metadata. */
export const LLFREE_MAGIC = 0x4c4c4672;
/** Metadata format version. */
export const LLFREE_VERSION = 1;
/** Pages in a frame (a 2 MiB huge frame). */
export const FRAME_PAGES = HUGE_FRAME_PAGES;
/** Frames under one tree counter. */
export const FRAMES_PER_TREE = 32;
/** Worker slots, i.e. handles that may be attached at the same time. */
export const WORKER_SLOTS = 64;
/** Most credits a handle takes from a frame word in one CAS. */
export const CREDIT_BATCH = 64;
/** Largest order {@link LLFree.allocOrder} serves: 2^5 = 32 pages, one bitfield word. */
export const MAX_RUN_ORDER = 5;

/** Words of a 64-byte cache line. */
const LINE_WORDS = 16;
/** Bitfield words per frame (512 bits). */
const FRAME_WORDS = FRAME_PAGES / 32;

/** Header words. */
export enum LLFreeHeader {
  MAGIC = 0,
  VERSION = 1,
  /** Managed pages. */
  PAGE_COUNT = 2,
  /** ceil(PAGE_COUNT / 512). */
  FRAME_COUNT = 3,
  /** ceil(FRAME_COUNT / FRAMES_PER_TREE). */
  TREE_COUNT = 4,
  /** Worker slots. */
  SLOT_COUNT = 5,
  /** Word offset of the worker slots. */
  SLOTS = 6,
  /** Word offset of the tree lines. */
  TREES = 7,
  /** Word offset of the frame words. */
  FRAMES = 8,
  /** Word offset of the bitfields. */
  BITS = 9,
  /** Total words of metadata. */
  TOTAL_WORDS = 10,
  /** Header size in words. */
  WORDS = 16,
}

/** Words of one worker slot (a cache line each). */
export enum LLFreeSlot {
  /** Tree the worker allocates from, plus 1 (0: none). */
  TREE = 0,
  /** Frame the worker holds credits of, plus 1 (0: none). */
  FRAME = 1,
  /** Credits held: free pages of FRAME taken out of its frame word. */
  CREDITS = 2,
  /** 1 if this worker set TREE's reservation word. */
  RESERVED = 3,
  WORDS = 16,
}

/** Words of one tree line. */
export enum LLFreeTree {
  /** Free pages in the tree not held as credits (a hint; may be briefly off). */
  COUNT = 0,
  /** Worker index + 1 of the reserving worker; 0 when unreserved. */
  RESERVED_BY = 1,
  WORDS = 16,
}

/** Frame word: free-page count bits. */
const FRAME_COUNT_MASK = 0x3ff;
/** Frame word: the frame is allocated whole (alloc2m). */
const FRAME_HUGE = 1 << 12;

/** Result of {@link LLFree.recover}. */
export interface LLFreeRecovery {
  /** Frame words that did not match their bitfield. */
  framesFixed: number;
  /** Tree counters that did not match their frames, or were reserved. */
  treesFixed: number;
  /** Worker slots that still held a reservation or credits. */
  reservationsDropped: number;
}

interface Layout {
  pageCount: number;
  frameCount: number;
  treeCount: number;
  slots: number;
  trees: number;
  frames: number;
  bits: number;
  totalWords: number;
}

function layoutFor(pageCount: number): Layout {
  const frameCount = Math.ceil(pageCount / FRAME_PAGES);
  const treeCount = Math.ceil(frameCount / FRAMES_PER_TREE);
  const slots = LLFreeHeader.WORDS;
  const trees = slots + WORKER_SLOTS * LLFreeSlot.WORDS;
  const frames = trees + treeCount * LLFreeTree.WORDS;
  const bits = frames + Math.ceil(frameCount / LINE_WORDS) * LINE_WORDS;
  const totalWords = bits + frameCount * FRAME_WORDS;
  return { pageCount, frameCount, treeCount, slots, trees, frames, bits, totalWords };
}

/** Set bits in a 32-bit word. */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function badArgument(where: string, what: string, detail: Record<string, number>): never {
  throw new TardigradeError(Err.E_BAD_ARGUMENT, `LLFree.${where}: ${what}`, detail);
}

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
export class LLFree {
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

  private readonly words: Int32Array;
  private readonly slotWord: number;
  private readonly slotCreditsByte: number;
  private readonly treeWord: number;
  private readonly frameWord: number;
  private readonly bitWord: number;
  /** Frames that are whole (512 pages); a partial last frame cannot be huge. */
  private readonly fullFrames: number;

  // Volatile copies of this worker's slot (the slot is the persisted truth).
  private tree = -1;
  private reserved = false;
  private frame = -1;
  private credits = 0;
  private wordHint = 0;
  private hugeHint = 0;

  private constructor(mem: PersistentMemory, workerIndex: number, baseWord: number) {
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

  /** Bytes of metadata for `pageCount` pages (a multiple of 64). */
  static metadataBytes(pageCount: number): number {
    LLFree.checkPageCount(pageCount);
    return layoutFor(pageCount).totalWords * 4;
  }

  private static checkPageCount(pageCount: number): void {
    if (!Number.isInteger(pageCount) || pageCount < 1 || pageCount > 2 ** 26) {
      badArgument("format", `pageCount ${pageCount} must be an integer in [1, 2^26]`, {
        pageCount,
      });
    }
  }

  /**
   * Lays out fresh metadata for `pageCount` pages at byte `baseByte` of `mem`
   * (64-byte aligned) and returns worker 0's handle. All pages start free.
   */
  static format(mem: PersistentMemory, pageCount: number, baseByte = 0): LLFree {
    LLFree.checkPageCount(pageCount);
    const bytes = LLFree.metadataBytes(pageCount);
    if (!Number.isInteger(baseByte) || baseByte < 0 || baseByte % 64 !== 0) {
      badArgument("format", `baseByte ${baseByte} must be a multiple of 64`, { baseByte });
    }
    if (baseByte + bytes > mem.byteLength) {
      badArgument("format", `needs ${bytes} bytes at ${baseByte}; PMO has ${mem.byteLength}`, {
        baseByte,
        bytes,
        byteLength: mem.byteLength,
      });
    }
    const L = layoutFor(pageCount);
    const b = baseByte >> 2;
    mem.fill(baseByte, bytes, 0);
    // Frames: counters, and the bits of pages past pageCount set (never free).
    for (let f = 0; f < L.frameCount; f++) {
      const first = f * FRAME_PAGES;
      const pages = Math.min(FRAME_PAGES, pageCount - first);
      mem.setU32((b + L.frames + f) << 2, pages);
      for (let p = pages; p < FRAME_PAGES; p++) {
        const i = b + L.bits + f * FRAME_WORDS + (p >>> 5);
        mem.setU32(i << 2, mem.words[i] | (1 << (p & 31)));
      }
    }
    for (let t = 0; t < L.treeCount; t++) {
      const first = t * FRAMES_PER_TREE * FRAME_PAGES;
      const pages = Math.min(FRAMES_PER_TREE * FRAME_PAGES, pageCount - first);
      mem.setU32((b + L.trees + t * LLFreeTree.WORDS + LLFreeTree.COUNT) << 2, pages);
    }
    const h = (word: number, v: number) => mem.setU32((b + word) << 2, v);
    h(LLFreeHeader.VERSION, LLFREE_VERSION);
    h(LLFreeHeader.PAGE_COUNT, pageCount);
    h(LLFreeHeader.FRAME_COUNT, L.frameCount);
    h(LLFreeHeader.TREE_COUNT, L.treeCount);
    h(LLFreeHeader.SLOT_COUNT, WORKER_SLOTS);
    h(LLFreeHeader.SLOTS, L.slots);
    h(LLFreeHeader.TREES, L.trees);
    h(LLFreeHeader.FRAMES, L.frames);
    h(LLFreeHeader.BITS, L.bits);
    h(LLFreeHeader.TOTAL_WORDS, L.totalWords);
    mem.atomicStore(b + LLFreeHeader.MAGIC, LLFREE_MAGIC); // published last
    return new LLFree(mem, 0, b);
  }

  /**
   * Another worker's handle on formatted metadata at `baseByte`. Each handle
   * in use at the same time needs its own `workerIndex` (0..WORKER_SLOTS-1);
   * a handle re-attached with the index of a stopped one adopts its
   * reservation and credits.
   */
  static attach(mem: PersistentMemory, workerIndex: number, baseByte = 0): LLFree {
    if (!Number.isInteger(workerIndex) || workerIndex < 0 || workerIndex >= WORKER_SLOTS) {
      badArgument("attach", `workerIndex ${workerIndex} must be in [0, ${WORKER_SLOTS})`, {
        workerIndex,
      });
    }
    if (!Number.isInteger(baseByte) || baseByte < 0 || baseByte % 64 !== 0) {
      badArgument("attach", `baseByte ${baseByte} must be a multiple of 64`, { baseByte });
    }
    const b = baseByte >> 2;
    if (
      baseByte + LLFreeHeader.WORDS * 4 > mem.byteLength ||
      mem.words[b + LLFreeHeader.MAGIC] !== LLFREE_MAGIC ||
      mem.words[b + LLFreeHeader.VERSION] !== LLFREE_VERSION
    ) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `LLFree.attach: no LLFree metadata (version ${LLFREE_VERSION}) at byte ${baseByte} of PMO ${mem.id}; format it first`,
        { baseByte },
      );
    }
    return new LLFree(mem, workerIndex, b);
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
  // Reservations and credits (slow path)
  // -------------------------------------------------------------------------

  private addTree(frame: number, delta: number): void {
    this.mem.atomicAdd(this.treeWord + ((frame / FRAMES_PER_TREE) | 0) * LLFreeTree.WORDS, delta);
  }

  /** Takes `n` free pages of frame `f` out of its counter (CAS); false if it has fewer. */
  private takeFromFrame(f: number, n: number): boolean {
    const idx = this.frameWord + f;
    for (;;) {
      const w = this.words[idx];
      if ((w & FRAME_HUGE) !== 0 || (w & FRAME_COUNT_MASK) < n) return false;
      if (this.mem.atomicCas(idx, w, w - n) === w) return true;
    }
  }

  /** Takes up to CREDIT_BATCH credits of frame `f`; this handle must hold none. */
  private takeCredits(f: number): boolean {
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
  private refill(): void {
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

  private takeFromTree(t: number): boolean {
    const first = t * FRAMES_PER_TREE;
    const n = Math.min(FRAMES_PER_TREE, this.frameCount - first);
    const from = this.frame >= first && this.frame < first + n ? this.frame - first : 0;
    for (let k = 0; k < n; k++) {
      if (this.takeCredits(first + ((from + k) % n))) return true;
    }
    return false;
  }

  private treeCapacity(t: number): number {
    const first = t * FRAMES_PER_TREE * FRAME_PAGES;
    return Math.min(FRAMES_PER_TREE * FRAME_PAGES, this.pageCount - first);
  }

  /**
   * The next tree to allocate from: a partially used unreserved tree, else
   * any unreserved tree with free pages, else any tree with free pages
   * (reserved by another worker); -1 if the counters show none.
   */
  private pickTree(): number {
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
  private switchTree(t: number): void {
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

  private returnCredits(): void {
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

  private dropReservation(): void {
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
    for (let f = 0; f < this.frameCount; f++) n += this.freeBits(f);
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

  private freeBits(f: number): number {
    if (this.words[this.frameWord + f] & FRAME_HUGE) return 0;
    const b = this.bitWord + f * FRAME_WORDS;
    let used = 0;
    for (let i = 0; i < FRAME_WORDS; i++) used += popcount32(this.words[b + i]);
    return FRAME_PAGES - used;
  }

  /**
   * Rebuilds every counter from the bitfields and drops all reservations and
   * credits, after an unclean stop. No other handle may be in use; this
   * handle starts afresh.
   */
  recover(): LLFreeRecovery {
    const words = this.words;
    let framesFixed = 0;
    let treesFixed = 0;
    let reservationsDropped = 0;
    const slots = this.baseWord + words[this.baseWord + LLFreeHeader.SLOTS];
    for (let i = 0; i < WORKER_SLOTS; i++) {
      const s = slots + i * LLFreeSlot.WORDS;
      if (words[s + LLFreeSlot.TREE] !== 0 || words[s + LLFreeSlot.CREDITS] !== 0) {
        reservationsDropped++;
      }
      this.mem.fill(s << 2, LLFreeSlot.WORDS * 4, 0);
    }
    for (let t = 0; t < this.treeCount; t++) {
      const first = t * FRAMES_PER_TREE;
      const last = Math.min(first + FRAMES_PER_TREE, this.frameCount);
      let sum = 0;
      for (let f = first; f < last; f++) {
        const w = words[this.frameWord + f];
        const want = (w & FRAME_HUGE) ? FRAME_HUGE : this.freeBits(f);
        if (w !== want) {
          this.mem.atomicStore(this.frameWord + f, want);
          framesFixed++;
        }
        sum += want & FRAME_COUNT_MASK;
      }
      const line = this.treeWord + t * LLFreeTree.WORDS;
      if (words[line + LLFreeTree.COUNT] !== sum || words[line + LLFreeTree.RESERVED_BY] !== 0) {
        this.mem.atomicStore(line + LLFreeTree.COUNT, sum);
        this.mem.atomicStore(line + LLFreeTree.RESERVED_BY, 0);
        treesFixed++;
      }
    }
    this.tree = -1;
    this.frame = -1;
    this.credits = 0;
    this.reserved = false;
    this.wordHint = 0;
    return { framesFixed, treesFixed, reservationsDropped };
  }

  /**
   * Asserts that counters, credits and reservations agree with the bitfields
   * (E_INTERNAL naming the first mismatch). Only meaningful while no handle
   * is in the middle of an operation.
   */
  check(): void {
    const words = this.words;
    const slots = this.baseWord + words[this.baseWord + LLFreeHeader.SLOTS];
    const creditsOf = new Map<number, number>();
    const reserverOf = new Map<number, number>();
    for (let i = 0; i < WORKER_SLOTS; i++) {
      const s = slots + i * LLFreeSlot.WORDS;
      const frame = words[s + LLFreeSlot.FRAME] - 1;
      const credits = words[s + LLFreeSlot.CREDITS];
      assert(credits >= 0, "LLFree.check", `slot ${i} holds ${credits} credits`);
      if (credits > 0) {
        assert(
          frame >= 0 && frame < this.frameCount,
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
    for (let t = 0; t < this.treeCount; t++) {
      const first = t * FRAMES_PER_TREE;
      const last = Math.min(first + FRAMES_PER_TREE, this.frameCount);
      let sum = 0;
      for (let f = first; f < last; f++) {
        const w = words[this.frameWord + f];
        const b = this.bitWord + f * FRAME_WORDS;
        if (w & FRAME_HUGE) {
          assert(w === FRAME_HUGE, "LLFree.check", `huge frame ${f} has count bits ${w}`);
          assert(f < this.fullFrames, "LLFree.check", `partial frame ${f} is huge`);
          for (let i = 0; i < FRAME_WORDS; i++) {
            assert(words[b + i] === 0, "LLFree.check", `huge frame ${f} has 4 KiB bits set`);
          }
          continue;
        }
        const held = creditsOf.get(f) ?? 0;
        const free = this.freeBits(f);
        assert(
          (w & FRAME_COUNT_MASK) + held === free && (w & ~FRAME_COUNT_MASK) === 0,
          "LLFree.check",
          `frame ${f}: counter ${w} + credits ${held} != ${free} free bits`,
        );
        sum += w;
      }
      const line = this.treeWord + t * LLFreeTree.WORDS;
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
  }
}
