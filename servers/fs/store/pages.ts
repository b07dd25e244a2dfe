/**
 * File data: pages of the data segments and each file's page map.
 *
 * - {@link DataPages}: one LLFree allocator (servers/memory/llfree.ts, its
 *   metadata a block of the metadata heap) over every page of every
 *   segment; page p lives in segment floor(p / pagesPerSegment). A page
 *   is zeroed where a write does not cover it when it is given to a file,
 *   so a freed page's old bytes never show.
 * - {@link PageMaps}: a file's page map, a radix tree of u32 entries (page
 *   number + 1; 0 is a hole). Depth 0: the root is one leaf that grows by
 *   doubling from 4 entries to {@link MAP_ENTRIES} (a small file costs a
 *   small block); depth 1: the root is a node of MAP_ENTRIES leaf
 *   addresses, each leaf a 4 KiB node of MAP_ENTRIES entries, which covers
 *   2^20 pages ({@link FILE_BYTES_MAX}). Lookups, random writes and
 *   truncation cost the same in a 4 KiB and in a 4 GiB file.
 *
 * @module
 */

import { assert } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { LLFree } from "../../memory/llfree.ts";
import type { PersistentHeap } from "../../pmem/heap.ts";
import { FILE_BYTES_MAX } from "../vfs.ts";
import { I } from "./inode.ts";

/** Entries of a full map node (4 KiB of u32). */
export const MAP_ENTRIES = 1024;
const MAP_SHIFT = 10;
const LEAF_MIN = 4;

assert(
  MAP_ENTRIES * MAP_ENTRIES * PAGE_BYTES === FILE_BYTES_MAX,
  "fs pages",
  "two levels span a file",
);

/** The data segments and the allocator of their pages. */
export class DataPages {
  /** Pages of all segments. */
  readonly total: number;
  /** Pages of each segment. */
  readonly perSegment: number;
  private readonly llfree: LLFree;

  private constructor(readonly segments: PersistentMemory[], llfree: LLFree) {
    this.perSegment = segments[0].pageCount;
    this.total = this.perSegment * segments.length;
    this.llfree = llfree;
  }

  /** Bytes of allocator metadata for `pages` data pages. */
  static metadataBytes(pages: number): number {
    return LLFree.metadataBytes(pages);
  }

  /** Formats the allocator in a fresh block of `heap`; returns it and the block's address. */
  static format(
    heap: PersistentHeap,
    segments: PersistentMemory[],
  ): { pages: DataPages; meta: number } {
    const total = segments[0].pageCount * segments.length;
    // more than a small block, so the block is page-aligned (LLFree wants 64)
    const meta = heap.alloc(Math.max(LLFree.metadataBytes(total), PAGE_BYTES));
    return { pages: new DataPages(segments, LLFree.format(heap.mem, total, meta)), meta };
  }

  /** Attaches the allocator formatted at `meta`. */
  static attach(heap: PersistentHeap, segments: PersistentMemory[], meta: number): DataPages {
    return new DataPages(segments, LLFree.attach(heap.mem, 0, meta));
  }

  /** Free pages. */
  free(): number {
    return this.llfree.freePages();
  }

  /** A page (throws E_NO_MEMORY when none is free, changing nothing). */
  alloc(): number {
    return this.llfree.alloc4k();
  }

  /** Gives page `p` back. */
  release(p: number): void {
    this.llfree.free4k(p);
  }

  /** The segment holding page `p`. */
  segment(p: number): PersistentMemory {
    return this.segments[(p / this.perSegment) | 0];
  }

  /** Byte offset of page `p` in its segment. */
  offset(p: number): number {
    return (p % this.perSegment) * PAGE_BYTES;
  }

  /** Checks the allocator's counters against its bitfields (tests). */
  check(): void {
    this.llfree.check();
  }
}

/** Page-map operations on the inodes of one heap (see the module map). */
export class PageMaps {
  private readonly mem;

  constructor(private readonly heap: PersistentHeap, private readonly pages: DataPages) {
    this.mem = heap.mem;
  }

  /** The entry of page `index` of file `ino`: its data page + 1, or 0 for a hole. */
  lookup(ino: number, index: number): number {
    const mem = this.mem;
    const root = mem.getU32(ino + I.ROOT);
    if (root === 0) return 0;
    if (mem.getU32(ino + I.AUX) === 0) {
      return index < this.heap.sizeOf(root) >>> 2 ? mem.getU32(root + 4 * index) : 0;
    }
    const leaf = mem.getU32(root + 4 * (index >>> MAP_SHIFT));
    return leaf === 0 ? 0 : mem.getU32(leaf + 4 * (index & (MAP_ENTRIES - 1)));
  }

  /**
   * The address of the entry of page `index` (< 2^20), growing the map to
   * reach it; throws E_NO_MEMORY before changing the map when a node does
   * not fit.
   */
  slot(ino: number, index: number): number {
    const mem = this.mem;
    const root = mem.getU32(ino + I.ROOT);
    if (mem.getU32(ino + I.AUX) === 0) {
      const cap = root === 0 ? 0 : this.heap.sizeOf(root) >>> 2;
      if (index < cap) return root + 4 * index;
      if (index < MAP_ENTRIES) {
        let want = LEAF_MIN;
        while (want <= index) want *= 2;
        const leaf = this.grown(root, cap, want);
        mem.setU32(ino + I.ROOT, leaf);
        return leaf + 4 * index;
      }
      // to depth 1: every node it needs first, so a refusal changes nothing
      const top = this.node(MAP_ENTRIES);
      let target = 0;
      let leaf = 0;
      try {
        target = this.node(MAP_ENTRIES);
        if (root !== 0) leaf = cap === MAP_ENTRIES ? root : this.grown(root, cap, MAP_ENTRIES);
      } catch (e) {
        if (target !== 0) this.heap.free(target);
        this.heap.free(top);
        throw e;
      }
      if (leaf !== 0) mem.setU32(top, leaf);
      mem.setU32(top + 4 * (index >>> MAP_SHIFT), target);
      mem.setU32(ino + I.ROOT, top);
      mem.setU32(ino + I.AUX, 1);
      return target + 4 * (index & (MAP_ENTRIES - 1));
    }
    const at = root + 4 * (index >>> MAP_SHIFT);
    let leaf = mem.getU32(at);
    if (leaf === 0) {
      leaf = this.node(MAP_ENTRIES);
      mem.setU32(at, leaf);
    }
    return leaf + 4 * (index & (MAP_ENTRIES - 1));
  }

  /**
   * Frees every data page of `ino` at index `first` or above, and the map
   * nodes left empty (the whole map when `first` is 0); returns the pages
   * freed. Costs the pages held plus MAP_ENTRIES, whatever the file's size.
   */
  freeFrom(ino: number, first: number): number {
    const mem = this.mem;
    const root = mem.getU32(ino + I.ROOT);
    if (root === 0) return 0;
    let freed = 0;
    if (mem.getU32(ino + I.AUX) === 0) {
      freed = this.freeEntries(root, first, this.heap.sizeOf(root) >>> 2, first > 0);
      if (first === 0) {
        this.heap.free(root);
        mem.setU32(ino + I.ROOT, 0);
      }
      return freed;
    }
    for (let li = first >>> MAP_SHIFT; li < MAP_ENTRIES; li++) {
      const leaf = mem.getU32(root + 4 * li);
      if (leaf === 0) continue;
      const start = li === first >>> MAP_SHIFT ? first & (MAP_ENTRIES - 1) : 0;
      freed += this.freeEntries(leaf, start, MAP_ENTRIES, start > 0);
      if (start === 0) {
        this.heap.free(leaf);
        if (first > 0) mem.setU32(root + 4 * li, 0);
      }
    }
    if (first === 0) {
      this.heap.free(root);
      mem.setU32(ino + I.ROOT, 0);
      mem.setU32(ino + I.AUX, 0);
    }
    return freed;
  }

  /** Map bytes of `ino` in the heap (its nodes' full sizes). */
  mapBytes(ino: number): number {
    const mem = this.mem;
    const root = mem.getU32(ino + I.ROOT);
    if (root === 0) return 0;
    let bytes = this.heap.sizeOf(root);
    if (mem.getU32(ino + I.AUX) === 1) {
      for (let li = 0; li < MAP_ENTRIES; li++) {
        if (mem.getU32(root + 4 * li) !== 0) bytes += MAP_ENTRIES * 4;
      }
    }
    return bytes;
  }

  private freeEntries(node: number, from: number, to: number, clear: boolean): number {
    const mem = this.mem;
    let freed = 0;
    for (let i = from; i < to; i++) {
      const e = mem.getU32(node + 4 * i);
      if (e === 0) continue;
      this.pages.release(e - 1);
      if (clear) mem.setU32(node + 4 * i, 0);
      freed++;
    }
    return freed;
  }

  /** A zeroed node of `entries` u32 (throws E_NO_MEMORY, changing nothing). */
  private node(entries: number): number {
    const n = this.heap.alloc(4 * entries);
    this.mem.fill(n, 4 * entries);
    return n;
  }

  /** A leaf of `want` entries holding the `cap` entries of `old` (freed), the rest holes. */
  private grown(old: number, cap: number, want: number): number {
    const leaf = this.heap.alloc(4 * want);
    const mem = this.mem;
    if (cap > 0) mem.write(leaf, mem.bytes.subarray(old, old + 4 * cap));
    mem.fill(leaf + 4 * cap, 4 * (want - cap));
    if (old !== 0) this.heap.free(old);
    return leaf;
  }

  /** The data pages of `ino`: calls `each(index, page)` on every allocated page. */
  forEachPage(ino: number, each: (index: number, page: number) => void): void {
    const mem = this.mem;
    const root = mem.getU32(ino + I.ROOT);
    if (root === 0) return;
    const visit = (node: number, base: number, count: number) => {
      for (let i = 0; i < count; i++) {
        const e = mem.getU32(node + 4 * i);
        if (e !== 0) each(base + i, e - 1);
      }
    };
    if (mem.getU32(ino + I.AUX) === 0) return visit(root, 0, this.heap.sizeOf(root) >>> 2);
    for (let li = 0; li < MAP_ENTRIES; li++) {
      const leaf = mem.getU32(root + 4 * li);
      if (leaf !== 0) visit(leaf, li << MAP_SHIFT, MAP_ENTRIES);
    }
  }
}
