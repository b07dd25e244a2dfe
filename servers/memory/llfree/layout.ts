/**
 * LLFree's persistent layout: the constants, the word layout of header,
 * worker slots, tree lines, frame words and bitfields (declared once, here),
 * and the two operations that only touch the layout: writing fresh metadata
 * ({@link formatMetadata}) and finding formatted metadata
 * ({@link locateMetadata}). The allocator itself is servers/memory/llfree.ts.
 *
 * ```
 * base + 0          header (LLFreeHeader, one line)
 * base + SLOTS      WORKER_SLOTS worker slots (LLFreeSlot, a line each)
 * base + TREES      one line per tree (LLFreeTree)
 * base + FRAMES     one frame word per frame, padded to a line
 * base + BITS       FRAME_WORDS bitfield words per frame
 * ```
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { HUGE_FRAME_PAGES } from "../../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";

// ---------------------------------------------------------------------------
// Constants and word layout (Int32 word offsets, relative to the base word)
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
export const LINE_WORDS = 16;
/** Bitfield words per frame (512 bits). */
export const FRAME_WORDS = FRAME_PAGES / 32;

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
export const FRAME_COUNT_MASK = 0x3ff;
/** Frame word: the frame is allocated whole (alloc2m). */
export const FRAME_HUGE = 1 << 12;

/**
 * What recovery and checking read of a handle: the layout of one formatted
 * instance as absolute word indexes of `mem.words` (see the module map).
 */
export interface LLFreeGeometry {
  /** The memory holding the metadata. */
  readonly mem: PersistentMemory;
  /** `mem.words`. */
  readonly words: Int32Array;
  /** Word index of the header. */
  readonly baseWord: number;
  /** Managed pages. */
  readonly pageCount: number;
  /** Frames (the last may be partial). */
  readonly frameCount: number;
  /** Trees (the last may be partial). */
  readonly treeCount: number;
  /** Frames that are whole (512 pages); a partial last frame cannot be huge. */
  readonly fullFrames: number;
  /** Word index of tree line 0. */
  readonly treeWord: number;
  /** Word index of frame word 0. */
  readonly frameWord: number;
  /** Word index of bitfield word 0. */
  readonly bitWord: number;
}

/** Section offsets of one instance, relative to its base word. */
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

/** The layout of metadata for `pageCount` pages. */
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

/** Throws E_BAD_ARGUMENT for `LLFree.<where>`, with `detail`. */
export function badArgument(where: string, what: string, detail: Record<string, number>): never {
  throw new TardigradeError(Err.E_BAD_ARGUMENT, `LLFree.${where}: ${what}`, detail);
}

function checkPageCount(pageCount: number): void {
  if (!Number.isInteger(pageCount) || pageCount < 1 || pageCount > 2 ** 26) {
    badArgument("format", `pageCount ${pageCount} must be an integer in [1, 2^26]`, {
      pageCount,
    });
  }
}

/** Bytes of metadata for `pageCount` pages (a multiple of 64); E_BAD_ARGUMENT for a bad count. */
export function metadataBytes(pageCount: number): number {
  checkPageCount(pageCount);
  return layoutFor(pageCount).totalWords * 4;
}

/**
 * Writes fresh metadata for `pageCount` pages at byte `baseByte` of `mem`
 * (64-byte aligned), all pages free, the magic word last; returns the base
 * word. E_BAD_ARGUMENT for a bad count or offset, or too small a memory.
 */
export function formatMetadata(mem: PersistentMemory, pageCount: number, baseByte: number): number {
  const bytes = metadataBytes(pageCount);
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
  formatCounters(mem, b, L);
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
  return b;
}

/** Frame and tree counters of zeroed metadata, and the bits of pages past pageCount set (never free). */
function formatCounters(mem: PersistentMemory, b: number, L: Layout): void {
  const pageCount = L.pageCount;
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
}

/**
 * The base word of formatted metadata at `baseByte`, for a handle with
 * worker slot `workerIndex`: E_BAD_ARGUMENT for a bad index or offset,
 * E_NOT_FOUND when no metadata of this version is there.
 */
export function locateMetadata(
  mem: PersistentMemory,
  workerIndex: number,
  baseByte: number,
): number {
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
  return b;
}
