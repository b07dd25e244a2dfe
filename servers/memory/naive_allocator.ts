/**
 * The baseline page-frame allocator for the memory benchmarks: free lists
 * (stacks of page numbers in Int32Arrays) under one Atomics spinlock, all in
 * a SharedArrayBuffer so several workers can share it. Same surface as
 * {@link LLFree}: alloc4k/free4k/alloc2m/free2m.
 *
 * Whole 2 MiB frames sit on a frame stack; alloc4k splits a frame into the
 * page stack when that runs dry. Freed pages are never merged back into
 * frames (a naive allocator), so after 4 KiB churn alloc2m may fail although
 * enough pages are free. It is not persistent and does not go through the
 * write barrier.
 *
 * Also {@link NaiveObjectHeap}: the object-heap baseline (a JS Map from hex
 * id strings to records, bump allocation in pages from the naive allocator).
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { HUGE_FRAME_PAGES, PAGE_BYTES } from "../../kernel/abi/limits.ts";

/** Control words at the start of the buffer. */
enum NaiveWord {
  LOCK = 0,
  PAGE_COUNT = 1,
  /** Entries on the page stack. */
  PAGE_TOP = 2,
  /** Entries on the frame stack. */
  FRAME_TOP = 3,
  WORDS = 16,
}

/** Page state bytes (double-free detection). */
const FREE = 0;
const USED_4K = 1;
const USED_2M = 2;
const SPLIT = 3;

/**
 * Spinlocked free-list allocator over abstract page numbers.
 *
 * @example
 * ```ts
 * const a = NaiveAllocator.create(4096);
 * const b = NaiveAllocator.attach(a.buffer);   // in another worker
 * b.free4k(a.alloc4k());
 * ```
 */
export class NaiveAllocator {
  /** The shared buffer (pass it to other workers). */
  readonly buffer: SharedArrayBuffer;
  /** Managed pages (a multiple of 512). */
  readonly pageCount: number;
  private readonly ctl: Int32Array;
  private readonly pages: Int32Array;
  private readonly frames: Int32Array;
  private readonly state: Uint8Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.ctl = new Int32Array(buffer, 0, NaiveWord.WORDS);
    const n = this.ctl[NaiveWord.PAGE_COUNT];
    this.pageCount = n;
    let off = NaiveWord.WORDS * 4;
    this.pages = new Int32Array(buffer, off, n);
    off += n * 4;
    this.frames = new Int32Array(buffer, off, n / HUGE_FRAME_PAGES);
    off += (n / HUGE_FRAME_PAGES) * 4;
    this.state = new Uint8Array(buffer, off, n);
  }

  /** A new allocator of `pageCount` pages (rounded down to whole frames), all free. */
  static create(pageCount: number): NaiveAllocator {
    const n = Math.floor(pageCount / HUGE_FRAME_PAGES) * HUGE_FRAME_PAGES;
    if (!Number.isInteger(pageCount) || n < HUGE_FRAME_PAGES) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `NaiveAllocator.create: pageCount ${pageCount} must be an integer >= ${HUGE_FRAME_PAGES}`,
        { pageCount },
      );
    }
    const frames = n / HUGE_FRAME_PAGES;
    const buffer = new SharedArrayBuffer(NaiveWord.WORDS * 4 + n * 4 + frames * 4 + n);
    const ctl = new Int32Array(buffer, 0, NaiveWord.WORDS);
    ctl[NaiveWord.PAGE_COUNT] = n;
    const a = new NaiveAllocator(buffer);
    // Low frames on top of the stack.
    for (let i = 0; i < frames; i++) a.frames[i] = (frames - 1 - i) * HUGE_FRAME_PAGES;
    ctl[NaiveWord.FRAME_TOP] = frames;
    return a;
  }

  /** Another worker's handle on the same buffer. */
  static attach(buffer: SharedArrayBuffer): NaiveAllocator {
    return new NaiveAllocator(buffer);
  }

  private lock(): void {
    const ctl = this.ctl;
    while (Atomics.compareExchange(ctl, NaiveWord.LOCK, 0, 1) !== 0) {
      while (Atomics.load(ctl, NaiveWord.LOCK) !== 0) { /* spin */ }
    }
  }

  private unlock(): void {
    Atomics.store(this.ctl, NaiveWord.LOCK, 0);
  }

  /** Allocates a page or throws E_NO_MEMORY. */
  alloc4k(): number {
    this.lock();
    const ctl = this.ctl;
    let top = ctl[NaiveWord.PAGE_TOP];
    if (top === 0) {
      const ft = ctl[NaiveWord.FRAME_TOP];
      if (ft === 0) {
        this.unlock();
        throw new TardigradeError(Err.E_NO_MEMORY, "NaiveAllocator.alloc4k: no free page", {});
      }
      const first = this.frames[ft - 1];
      ctl[NaiveWord.FRAME_TOP] = ft - 1;
      for (let i = HUGE_FRAME_PAGES - 1; i >= 0; i--) {
        this.pages[top++] = first + i;
        this.state[first + i] = SPLIT;
      }
    }
    const page = this.pages[--top];
    ctl[NaiveWord.PAGE_TOP] = top;
    this.state[page] = USED_4K;
    this.unlock();
    return page;
  }

  /** Frees a page: E_BAD_ARGUMENT out of range, E_DOUBLE_FREE if not allocated. */
  free4k(page: number): void {
    if (!((page >>> 0) === page && page < this.pageCount)) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `NaiveAllocator.free4k: bad page ${page}`, {
        page,
      });
    }
    this.lock();
    if (this.state[page] !== USED_4K) {
      this.unlock();
      throw new TardigradeError(Err.E_DOUBLE_FREE, `NaiveAllocator.free4k: page ${page} is free`, {
        page,
      });
    }
    this.state[page] = SPLIT;
    const top = this.ctl[NaiveWord.PAGE_TOP];
    this.pages[top] = page;
    this.ctl[NaiveWord.PAGE_TOP] = top + 1;
    this.unlock();
  }

  /** Allocates a whole frame (first page) or throws E_NO_MEMORY. */
  alloc2m(): number {
    this.lock();
    const ft = this.ctl[NaiveWord.FRAME_TOP];
    if (ft === 0) {
      this.unlock();
      throw new TardigradeError(Err.E_NO_MEMORY, "NaiveAllocator.alloc2m: no free frame", {});
    }
    const first = this.frames[ft - 1];
    this.ctl[NaiveWord.FRAME_TOP] = ft - 1;
    this.state[first] = USED_2M;
    this.unlock();
    return first;
  }

  /** Frees a frame from alloc2m. */
  free2m(page: number): void {
    if (!((page >>> 0) === page && page < this.pageCount && page % HUGE_FRAME_PAGES === 0)) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `NaiveAllocator.free2m: bad page ${page}`, {
        page,
      });
    }
    this.lock();
    if (this.state[page] !== USED_2M) {
      this.unlock();
      throw new TardigradeError(Err.E_DOUBLE_FREE, `NaiveAllocator.free2m: ${page} not huge`, {
        page,
      });
    }
    this.state[page] = FREE;
    const ft = this.ctl[NaiveWord.FRAME_TOP];
    this.frames[ft] = page;
    this.ctl[NaiveWord.FRAME_TOP] = ft + 1;
    this.unlock();
  }

  /** Free pages: the page stack plus whole frames. */
  freePages(): number {
    return this.ctl[NaiveWord.PAGE_TOP] + this.ctl[NaiveWord.FRAME_TOP] * HUGE_FRAME_PAGES;
  }
}

/** Size classes of the naive object heap (bytes). */
const NAIVE_CLASSES = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/** One object of the naive heap: a fresh JS object per allocation. */
interface NaiveRecord {
  page: number;
  offset: number;
  size: number;
  owner: number;
}

/**
 * Baseline object heap: string ids (32 hex chars), a Map of records, bump
 * allocation of size-class slots from pages of a {@link NaiveAllocator},
 * per-class JS arrays as free lists. What a first, straightforward version
 * looks like; the benchmark compares the persistent heap against it.
 */
export class NaiveObjectHeap {
  private readonly pages: NaiveAllocator;
  private readonly objects = new Map<string, NaiveRecord>();
  private readonly freeSlots: Array<Array<{ page: number; offset: number }>> = NAIVE_CLASSES
    .map(() => []);
  private readonly bumpPage: number[] = NAIVE_CLASSES.map(() => -1);
  private readonly bumpOffset: number[] = NAIVE_CLASSES.map(() => PAGE_BYTES);
  private seq = 0;
  private readonly instance: string;

  constructor(pageCount: number) {
    this.pages = NaiveAllocator.create(pageCount);
    this.instance = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  }

  /** Allocates `size` bytes (1..4096) for `owner`; returns the id. */
  alloc(size: number, owner: number): string {
    if (!Number.isInteger(size) || size < 1 || size > PAGE_BYTES) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `NaiveObjectHeap.alloc: size ${size}`, {
        size,
      });
    }
    const cls = NAIVE_CLASSES.findIndex((c) => c >= size);
    const csize = NAIVE_CLASSES[cls];
    let page: number;
    let offset: number;
    const reuse = this.freeSlots[cls].pop();
    if (reuse) {
      page = reuse.page;
      offset = reuse.offset;
    } else {
      if (this.bumpOffset[cls] + csize > PAGE_BYTES) {
        this.bumpPage[cls] = this.pages.alloc4k();
        this.bumpOffset[cls] = 0;
      }
      page = this.bumpPage[cls];
      offset = this.bumpOffset[cls];
      this.bumpOffset[cls] = offset + csize;
    }
    const id = this.instance + (this.seq++).toString(16).padStart(16, "0");
    this.objects.set(id, { page, offset, size, owner });
    return id;
  }

  /** Frees an object (E_NOT_FOUND, E_NOT_OWNER). */
  free(id: string, owner: number): void {
    const r = this.objects.get(id);
    if (!r) throw new TardigradeError(Err.E_NOT_FOUND, `NaiveObjectHeap.free: ${id}`, {});
    if (r.owner !== owner) {
      throw new TardigradeError(Err.E_NOT_OWNER, `NaiveObjectHeap.free: ${id}`, {});
    }
    this.objects.delete(id);
    const cls = NAIVE_CLASSES.findIndex((c) => c >= r.size);
    this.freeSlots[cls].push({ page: r.page, offset: r.offset });
  }

  /** Byte address of `offset` inside object `id`. */
  resolve(id: string, offset: number): number {
    const r = this.objects.get(id);
    if (!r) throw new TardigradeError(Err.E_NOT_FOUND, `NaiveObjectHeap.resolve: ${id}`, {});
    if (offset >= r.size) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `NaiveObjectHeap.resolve: ${offset}`, {});
    }
    return r.page * PAGE_BYTES + r.offset + offset;
  }

  /** Live objects. */
  get size(): number {
    return this.objects.size;
  }
}
