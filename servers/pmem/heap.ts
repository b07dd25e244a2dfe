/**
 * Persistent data structures any server builds on (servers/pmem/): this
 * heap, the hash tables in it (table.ts) and cheap copies out of it
 * (copy_out.ts). The kv store keeps its keyspace in them; the file
 * system's storage its inodes, directories and page maps.
 *
 * The persistent heap: one mapped memory object carved into
 * blocks, every word of its bookkeeping in NVM and written through the
 * write barrier, so a checkpoint captures it whole and a resume attaches it
 * as it was.
 *
 * Layout (byte offsets; all words u32 little-endian):
 *
 *     0     header: magic, version, capacity, bytes in use, hash seed,
 *           pages, metadata pages, free pages
 *     32    HEAP_ROOTS root words, which the heap's user owns (an
 *           address or any number, kept across resumes)
 *     256   free-list heads of the small size classes
 *     384   free-block counts of the small size classes
 *     512   heads of the free-extent bins
 *     1024  page descriptors, one word per page (kind | value << 4)
 *     …     data pages from `metaPages` on
 *
 * Small blocks (≤ 2 KiB) come from one-page runs of one size class, with a
 * doubly linked free list per class threaded through the free blocks; a
 * block has no header (its page descriptor names the class and counts the
 * live blocks). A run whose blocks are all free goes back to the page pool
 * once its class has another run's worth of free blocks (hysteresis, so a
 * churn at a boundary does not carve and release a page per operation).
 * Larger blocks are extents of whole pages; free extents sit in bins by
 * length (exact up to 31 pages, then powers of two), carry boundary tags in
 * the descriptors of their first and last pages, and coalesce with free
 * neighbours when freed. So freeing always gives memory back, and a
 * SET/DEL churn runs forever in a fixed heap.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";

/**
 * A heap of blocks in one persistent memory object. Addresses are byte
 * offsets into {@link Heap.mem}, 8-byte aligned, never 0; read a block's
 * bytes from `mem.bytes`, write them through `mem` (the write barrier).
 */
export interface Heap {
  /** The memory object the heap lives in. */
  readonly mem: PersistentMemory;
  /** A block of at least `bytes` bytes (contents undefined); throws E_NO_MEMORY, changing nothing, when none is left. */
  alloc(bytes: number): number;
  /** Gives block `address` back. */
  free(address: number): void;
  /** Usable bytes of block `address` (at least what was asked). */
  sizeOf(address: number): number;
  /** Root word `index` (0…HEAP_ROOTS-1): an address or 0, kept across resumes. */
  root(index: number): number;
  /** Sets root word `index`. */
  setRoot(index: number, value: number): void;
}

/** Root words of a heap: its user names the ones it keeps (the kv app 0…7, its keyspace 8…47). */
export const HEAP_ROOTS = 48;
/** Size classes of small blocks. */
export const SIZE_CLASSES = 27;
/** Largest block served from a size class; bigger ones are page extents. */
export const SMALL_BYTES_MAX = 2048;
/** Pages a heap can have (256 MiB: addresses stay below 2^32). */
export const HEAP_PAGES_MAX = 65536;

const MAGIC = 0x48564b54; // "TKVH"
const VERSION = 2; // 2: size classes of 40 and 56 bytes
const PAGE_SHIFT = 12;

const H_MAGIC = 0;
const H_VERSION = 4;
const H_CAPACITY = 8;
const H_USED = 12;
const H_SEED = 16;
const H_PAGES = 20;
const H_META_PAGES = 24;
const H_FREE_PAGES = 28;
const H_ROOTS = 32;
const H_CLASS_HEADS = 256;
const H_CLASS_FREE = 384;
const H_BIN_HEADS = 512;
const H_DESC = 1024;

/** Block sizes of the small classes, in bytes (multiples of 8). */
const CLASS_BYTES = [
  16,
  24,
  32,
  40,
  48,
  56,
  64,
  80,
  96,
  112,
  128,
  160,
  192,
  224,
  256,
  320,
  384,
  448,
  512,
  640,
  768,
  896,
  1024,
  1280,
  1536,
  1792,
  2048,
];
const CLASSES = CLASS_BYTES.length;
assert(CLASSES === SIZE_CLASSES, "heap", "SIZE_CLASSES must count CLASS_BYTES");
/** Class of a size: CLASS_OF[(bytes + 7) >> 3]. */
const CLASS_OF = new Uint8Array((SMALL_BYTES_MAX >> 3) + 1);
for (let i = 0, c = 0; i < CLASS_OF.length; i++) {
  while (CLASS_BYTES[c] < i << 3) c++;
  CLASS_OF[i] = c;
}
const BINS = 48;

// Page descriptor kinds (low 4 bits; the value sits above them).
// 0: a metadata page (never freed or allocated)
const K_FREE_HEAD = 1; // first page of a free extent of `value` pages
const K_FREE_TAIL = 2; // last page of a free extent of `value` pages
const K_FREE_ONE = 3; // a free extent of one page (head and tail)
const K_EXTENT = 4; // first page of a used extent of `value` pages
const K_INTERIOR = 5; // last page of a used extent of more than one page
const K_SMALL = 6; // a small-block run: value = class | live << 5

assert(H_ROOTS + 4 * HEAP_ROOTS <= H_CLASS_HEADS, "heap", "root words overlap");
assert(CLASSES <= 32, "heap", "a page descriptor holds a class in 5 bits");
assert(H_CLASS_HEADS + 4 * CLASSES <= H_CLASS_FREE, "heap", "class heads overlap");
assert(H_BIN_HEADS + 4 * BINS <= H_DESC, "heap", "bin heads overlap");

/** The free-extent bin of a length in pages. */
function binOf(pages: number): number {
  return pages < 32 ? pages : 27 + (31 - Math.clz32(pages)); // 32 → 32, 64 → 33, …
}

/**
 * The persistent heap (see the module map).
 *
 * @example
 * ```ts
 * const heap = PersistentHeap.format(mem, 0x1234);
 * const a = heap.alloc(100); // a 112-byte block
 * heap.free(a);
 * ```
 */
export class PersistentHeap implements Heap {
  private readonly pages: number;
  private readonly metaPages: number;

  private constructor(readonly mem: PersistentMemory) {
    this.pages = mem.getU32(H_PAGES);
    this.metaPages = mem.getU32(H_META_PAGES);
  }

  /** Lays out a fresh heap over all of `mem` (its old contents are lost) with hash seed `seed`. */
  static format(mem: PersistentMemory, seed: number): PersistentHeap {
    const pages = mem.byteLength >>> PAGE_SHIFT;
    const metaPages = Math.ceil((H_DESC + 4 * pages) / PAGE_BYTES);
    if (pages > HEAP_PAGES_MAX || pages < metaPages + 1) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `PersistentHeap.format: ${pages} pages; a heap needs ${metaPages + 1}…${HEAP_PAGES_MAX}`,
        { pages },
      );
    }
    mem.fill(0, metaPages * PAGE_BYTES);
    mem.setU32(H_VERSION, VERSION);
    mem.setU32(H_CAPACITY, pages * PAGE_BYTES);
    mem.setU32(H_USED, metaPages * PAGE_BYTES);
    mem.setU32(H_SEED, seed >>> 0);
    mem.setU32(H_PAGES, pages);
    mem.setU32(H_META_PAGES, metaPages);
    const heap = new PersistentHeap(mem);
    heap.insertFree(metaPages, pages - metaPages);
    mem.setU32(H_FREE_PAGES, pages - metaPages);
    mem.setU32(H_MAGIC, MAGIC); // last: a half-formatted heap does not attach
    return heap;
  }

  /** Attaches the heap formatted earlier in `mem`; throws E_IMAGE_CORRUPT or E_IMAGE_VERSION when it is not one. */
  static attach(mem: PersistentMemory): PersistentHeap {
    const magic = mem.getU32(H_MAGIC);
    if (magic !== MAGIC) {
      throw new TardigradeError(
        Err.E_IMAGE_CORRUPT,
        `PersistentHeap.attach: PMO ${mem.id} has magic 0x${
          magic.toString(16)
        }, not a persistent heap (0x${
          MAGIC.toString(16)
        }); format it (start with --fresh) or map the memory object the heap was formatted in`,
        { magic },
      );
    }
    const version = mem.getU32(H_VERSION);
    if (version !== VERSION) {
      throw new TardigradeError(
        Err.E_IMAGE_VERSION,
        `PersistentHeap.attach: heap layout version ${version}, this code reads ${VERSION}; start with --fresh to format it anew`,
        { version },
      );
    }
    const capacity = mem.getU32(H_CAPACITY);
    if (capacity !== mem.byteLength) {
      throw new TardigradeError(
        Err.E_IMAGE_CORRUPT,
        `PersistentHeap.attach: heap says ${capacity} bytes, PMO ${mem.id} has ${mem.byteLength}; map it with the pages it was formatted with`,
        { capacity, byteLength: mem.byteLength },
      );
    }
    return new PersistentHeap(mem);
  }

  /** The per-heap hash seed chosen at format. */
  get seed(): number {
    return this.mem.getU32(H_SEED);
  }

  /** Bytes in use: metadata pages plus every live block's full size. */
  usedBytes(): number {
    return this.mem.getU32(H_USED);
  }

  /** Bytes of the whole heap. */
  capacityBytes(): number {
    return this.mem.getU32(H_CAPACITY);
  }

  /** Whole pages free (in free extents, not in small-block runs). */
  freePages(): number {
    return this.mem.getU32(H_FREE_PAGES);
  }

  /** Pages that hold blocks: every page after the metadata. */
  dataPages(): number {
    return this.pages - this.metaPages;
  }

  /** {@inheritDoc Heap.root} */
  root(index: number): number {
    assert(index >= 0 && index < HEAP_ROOTS, "PersistentHeap.root", `index ${index}`);
    return this.mem.getU32(H_ROOTS + 4 * index);
  }

  /** {@inheritDoc Heap.setRoot} */
  setRoot(index: number, value: number): void {
    assert(index >= 0 && index < HEAP_ROOTS, "PersistentHeap.setRoot", `index ${index}`);
    this.mem.setU32(H_ROOTS + 4 * index, value);
  }

  /** {@inheritDoc Heap.alloc} */
  alloc(bytes: number): number {
    if (bytes <= SMALL_BYTES_MAX) return this.allocSmall(CLASS_OF[(bytes + 7) >> 3]);
    const pages = Math.ceil(bytes / PAGE_BYTES);
    const start = this.findPages(pages);
    if (start < 0) this.noMemory(bytes);
    this.takePages(start, pages);
    this.addUsed(pages * PAGE_BYTES);
    return start << PAGE_SHIFT;
  }

  /** {@inheritDoc Heap.free} */
  free(address: number): void {
    const page = address >>> PAGE_SHIFT;
    const desc = this.desc(page);
    const kind = desc & 15;
    if (kind === K_SMALL) return this.freeSmall(address, page, desc);
    if (kind !== K_EXTENT || (address & (PAGE_BYTES - 1)) !== 0) {
      throw new TardigradeError(
        Err.E_DOUBLE_FREE,
        `PersistentHeap.free: 0x${address.toString(16)} is not a live block (page kind ${kind})`,
        { address, kind },
      );
    }
    const pages = desc >>> 4;
    this.addUsed(-pages * PAGE_BYTES);
    this.releasePages(page, pages);
  }

  /** {@inheritDoc Heap.sizeOf} */
  sizeOf(address: number): number {
    const desc = this.desc(address >>> PAGE_SHIFT);
    const kind = desc & 15;
    if (kind === K_SMALL) return CLASS_BYTES[(desc >>> 4) & 31];
    assert(kind === K_EXTENT, "PersistentHeap.sizeOf", `0x${address.toString(16)} is no block`);
    return (desc >>> 4) * PAGE_BYTES;
  }

  /** Bytes a request of `bytes` takes from the heap (its block's full size). */
  static blockBytes(bytes: number): number {
    if (bytes <= SMALL_BYTES_MAX) return CLASS_BYTES[CLASS_OF[(bytes + 7) >> 3]];
    return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
  }

  /**
   * Walks every page descriptor and free list and throws E_INTERNAL at the
   * first inconsistency: free extents and their bins, runs' live counts
   * against their classes' free lists, the free-page count and the bytes
   * in use. O(pages + free blocks); for tests and for `check` tools.
   */
  check(): void {
    const mem = this.mem;
    const where = "PersistentHeap.check";
    let used = this.metaPages * PAGE_BYTES;
    let freePages = 0;
    const liveOf = new Map<number, number>(); // run page → live blocks its descriptor claims
    for (let page = this.metaPages; page < this.pages;) {
      const desc = this.desc(page);
      const kind = desc & 15;
      const value = desc >>> 4;
      if (kind === K_SMALL) {
        const cls = value & 31;
        assert(cls < CLASSES, where, `page ${page}: class ${cls}`);
        liveOf.set(page, value >>> 5);
        used += (value >>> 5) * CLASS_BYTES[cls];
        page++;
        continue;
      }
      assert(value >= 1 && page + value <= this.pages, where, `page ${page}: length ${value}`);
      if (kind === K_EXTENT) used += value * PAGE_BYTES;
      else {
        assert(kind === K_FREE_HEAD || kind === K_FREE_ONE, where, `page ${page}: kind ${kind}`);
        assert((kind === K_FREE_ONE) === (value === 1), where, `page ${page}: one-page tag`);
        if (value > 1) {
          assert(this.desc(page + value - 1) === (K_FREE_TAIL | (value << 4)), where, `tail`);
        }
        freePages += value;
      }
      page += value;
    }
    assert(freePages === mem.getU32(H_FREE_PAGES), where, `${freePages} free pages counted`);
    assert(used === this.usedBytes(), where, `${used} bytes counted, ${this.usedBytes()} kept`);
    let binned = 0;
    for (let bin = 0; bin < BINS; bin++) {
      let prev = 0;
      for (let a = mem.getU32(H_BIN_HEADS + 4 * bin); a !== 0; a = mem.getU32(a)) {
        const length = this.desc(a >>> PAGE_SHIFT) >>> 4;
        assert(binOf(length) === bin, where, `extent 0x${a.toString(16)} in bin ${bin}`);
        assert(mem.getU32(a + 4) === prev, where, `extent 0x${a.toString(16)}: prev link`);
        binned += length;
        prev = a;
      }
    }
    assert(binned === freePages, where, `${binned} pages in bins, ${freePages} free`);
    for (let cls = 0; cls < CLASSES; cls++) {
      let count = 0;
      let prev = 0;
      for (let b = mem.getU32(H_CLASS_HEADS + 4 * cls); b !== 0; b = mem.getU32(b)) {
        const page = b >>> PAGE_SHIFT;
        const desc = this.desc(page);
        assert((desc & 15) === K_SMALL && ((desc >>> 4) & 31) === cls, where, `block of ${cls}`);
        assert(mem.getU32(b + 4) === prev, where, `block 0x${b.toString(16)}: prev link`);
        liveOf.set(page, (liveOf.get(page) ?? 0) + 1);
        count++;
        prev = b;
      }
      assert(count === mem.getU32(H_CLASS_FREE + 4 * cls), where, `class ${cls}: ${count} free`);
    }
    for (const [page, blocks] of liveOf) {
      const perRun = Math.floor(PAGE_BYTES / CLASS_BYTES[(this.desc(page) >>> 4) & 31]);
      assert(blocks === perRun, where, `run at page ${page}: ${blocks} live + free of ${perRun}`);
    }
  }

  // ── small blocks ──

  private allocSmall(cls: number): number {
    const mem = this.mem;
    const headAt = H_CLASS_HEADS + 4 * cls;
    let block = mem.getU32(headAt);
    if (block === 0) {
      this.newRun(cls);
      block = mem.getU32(headAt);
    }
    const next = mem.getU32(block);
    mem.setU32(headAt, next);
    if (next !== 0) mem.setU32(next + 4, 0);
    const page = block >>> PAGE_SHIFT;
    this.setDesc(page, this.desc(page) + (1 << 9)); // live + 1
    mem.setU32(H_CLASS_FREE + 4 * cls, mem.getU32(H_CLASS_FREE + 4 * cls) - 1);
    this.addUsed(CLASS_BYTES[cls]);
    return block;
  }

  /** Carves one free page into blocks of class `cls` on its free list; throws E_NO_MEMORY first when none. */
  private newRun(cls: number): void {
    const start = this.findPages(1);
    if (start < 0) this.noMemory(CLASS_BYTES[cls]);
    this.takePages(start, 1);
    this.setDesc(start, K_SMALL | (cls << 4));
    const mem = this.mem;
    const size = CLASS_BYTES[cls];
    const count = Math.floor(PAGE_BYTES / size);
    const base = start << PAGE_SHIFT;
    for (let i = 0; i < count; i++) {
      const b = base + i * size;
      mem.setU32(b, i + 1 < count ? b + size : 0);
      mem.setU32(b + 4, i > 0 ? b - size : 0);
    }
    mem.setU32(H_CLASS_HEADS + 4 * cls, base);
    mem.setU32(H_CLASS_FREE + 4 * cls, mem.getU32(H_CLASS_FREE + 4 * cls) + count);
  }

  private freeSmall(address: number, page: number, desc: number): void {
    const mem = this.mem;
    const cls = (desc >>> 4) & 31;
    const size = CLASS_BYTES[cls];
    const live = desc >>> 9;
    assert(live > 0, "PersistentHeap.free", `0x${address.toString(16)}: its run has no live block`);
    const headAt = H_CLASS_HEADS + 4 * cls;
    const head = mem.getU32(headAt);
    mem.setU32(address, head);
    mem.setU32(address + 4, 0);
    if (head !== 0) mem.setU32(head + 4, address);
    mem.setU32(headAt, address);
    this.setDesc(page, desc - (1 << 9));
    const freeAt = H_CLASS_FREE + 4 * cls;
    const free = mem.getU32(freeAt) + 1;
    mem.setU32(freeAt, free);
    this.addUsed(-size);
    const perRun = Math.floor(PAGE_BYTES / size);
    if (live === 1 && free >= 2 * perRun) this.releaseRun(page, cls, perRun);
  }

  /** Unlinks every block of an all-free run from its class list and gives the page back. */
  private releaseRun(page: number, cls: number, perRun: number): void {
    const mem = this.mem;
    const size = CLASS_BYTES[cls];
    const headAt = H_CLASS_HEADS + 4 * cls;
    const base = page << PAGE_SHIFT;
    for (let i = 0; i < perRun; i++) {
      const b = base + i * size;
      const next = mem.getU32(b);
      const prev = mem.getU32(b + 4);
      if (prev === 0) mem.setU32(headAt, next);
      else mem.setU32(prev, next);
      if (next !== 0) mem.setU32(next + 4, prev);
    }
    const freeAt = H_CLASS_FREE + 4 * cls;
    mem.setU32(freeAt, mem.getU32(freeAt) - perRun);
    this.releasePages(page, 1);
  }

  // ── page extents ──

  private desc(page: number): number {
    return this.mem.getU32(H_DESC + 4 * page);
  }

  private setDesc(page: number, value: number): void {
    this.mem.setU32(H_DESC + 4 * page, value);
  }

  private addUsed(delta: number): void {
    this.mem.setU32(H_USED, this.mem.getU32(H_USED) + delta);
  }

  /** First page of a free extent of at least `pages` pages, or -1; changes nothing. */
  private findPages(pages: number): number {
    const mem = this.mem;
    const first = binOf(pages);
    if (first >= 32) { // a power-of-two bin: lengths vary, look for one that fits
      for (let a = mem.getU32(H_BIN_HEADS + 4 * first); a !== 0; a = mem.getU32(a)) {
        if (this.desc(a >>> PAGE_SHIFT) >>> 4 >= pages) return a >>> PAGE_SHIFT;
      }
    } else {
      const a = mem.getU32(H_BIN_HEADS + 4 * first);
      if (a !== 0) return a >>> PAGE_SHIFT;
    }
    for (let bin = first + 1; bin < BINS; bin++) {
      const a = mem.getU32(H_BIN_HEADS + 4 * bin);
      if (a !== 0) return a >>> PAGE_SHIFT;
    }
    return -1;
  }

  /** Takes `pages` pages from the front of the free extent at `start`; the rest stays free. */
  private takePages(start: number, pages: number): void {
    const length = this.desc(start) >>> 4;
    this.removeFree(start, length);
    if (length > pages) this.insertFree(start + pages, length - pages);
    this.setDesc(start, K_EXTENT | (pages << 4));
    if (pages > 1) this.setDesc(start + pages - 1, K_INTERIOR);
    this.mem.setU32(H_FREE_PAGES, this.mem.getU32(H_FREE_PAGES) - pages);
  }

  /** Gives `pages` pages at `start` back, merged with free neighbours. */
  private releasePages(start: number, pages: number): void {
    this.mem.setU32(H_FREE_PAGES, this.mem.getU32(H_FREE_PAGES) + pages);
    if (start - 1 >= this.metaPages) {
      const before = this.desc(start - 1);
      const kind = before & 15;
      if (kind === K_FREE_TAIL || kind === K_FREE_ONE) {
        const length = before >>> 4;
        this.removeFree(start - length, length);
        start -= length;
        pages += length;
      }
    }
    const end = start + pages;
    if (end < this.pages) {
      const after = this.desc(end);
      const kind = after & 15;
      if (kind === K_FREE_HEAD || kind === K_FREE_ONE) {
        const length = after >>> 4;
        this.removeFree(end, length);
        pages += length;
      }
    }
    this.insertFree(start, pages);
  }

  /** Marks [start, start+pages) free in the descriptors and links it at the head of its bin. */
  private insertFree(start: number, pages: number): void {
    const mem = this.mem;
    if (pages === 1) this.setDesc(start, K_FREE_ONE | (1 << 4));
    else {
      this.setDesc(start, K_FREE_HEAD | (pages << 4));
      this.setDesc(start + pages - 1, K_FREE_TAIL | (pages << 4));
    }
    const headAt = H_BIN_HEADS + 4 * binOf(pages);
    const head = mem.getU32(headAt);
    const a = start << PAGE_SHIFT;
    mem.setU32(a, head);
    mem.setU32(a + 4, 0);
    if (head !== 0) mem.setU32(head + 4, a);
    mem.setU32(headAt, a);
  }

  private removeFree(start: number, pages: number): void {
    const mem = this.mem;
    const a = start << PAGE_SHIFT;
    const next = mem.getU32(a);
    const prev = mem.getU32(a + 4);
    if (prev === 0) mem.setU32(H_BIN_HEADS + 4 * binOf(pages), next);
    else mem.setU32(prev, next);
    if (next !== 0) mem.setU32(next + 4, prev);
  }

  private noMemory(bytes: number): never {
    const freePages = this.mem.getU32(H_FREE_PAGES);
    const free = this.capacityBytes() - this.usedBytes();
    throw new TardigradeError(
      Err.E_NO_MEMORY,
      `PersistentHeap.alloc: asked for ${bytes} bytes; ${free} of ${this.capacityBytes()} bytes are free (${freePages} whole pages), none fits; free blocks (delete keys, remove files) or give the heap more pages`,
      { bytes, free, freePages },
    );
  }
}
