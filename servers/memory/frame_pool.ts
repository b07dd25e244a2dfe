/**
 * The frame pool of the memory server: page frames by owner in one PMO.
 * LLFree decides which pages are free; a state word per page records who
 * holds it and tells a double free from a page never handed out; per-owner
 * counts enforce the frame quota.
 *
 * ```
 * page 0         header (PoolWord)
 * OWNERS_BYTE    owner records (PoolOwner), open addressing by badge
 * STATE_BYTE     two words per page: owner + 1, PageUse
 * LLFREE_BYTE    LLFree metadata over the pool's abstract page numbers
 * ```
 *
 * @module
 */

import { assert, Err } from "../../kernel/abi/errors.ts";
import { HUGE_FRAME_PAGES, PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { fail, intIn } from "./errors.ts";
import { LLFree } from "./llfree.ts";
import { DEFAULT_FRAME_QUOTA_PAGES, type MemoryStats } from "./protocol.ts";

/** Header words of the frame-pool PMO. */
enum PoolWord {
  MAGIC = 0,
  VERSION = 1,
  PAGES = 2,
  OWNER_CAPACITY = 3,
  OWNERS_BYTE = 4,
  STATE_BYTE = 5,
  LLFREE_BYTE = 6,
}

/** "TgFP" */
const POOL_MAGIC = 0x54674650;
const POOL_VERSION = 1;
const POOL_OWNER_CAPACITY = 256;

/** Words of an owner record: key = badge + 1 (0: empty), pages held, quota. */
enum PoolOwner {
  KEY = 0,
  USED = 1,
  QUOTA = 2,
  WORDS = 4,
}

/** Per page, two words: owner + 1 of its last allocation, and its {@link PageUse}. */
enum PageUse {
  NEVER = 0,
  USED_4K = 1,
  /** The first page of a 2 MiB frame allocated whole. */
  USED_2M = 2,
  FREED_4K = 3,
  FREED_2M = 4,
}

function alignPage(n: number): number {
  return Math.ceil(n / PAGE_BYTES) * PAGE_BYTES;
}

/**
 * Page frames by owner: LLFree decides which pages are free; a state word
 * per page records who holds it and tells a double free from a page never
 * handed out. Per-owner counts enforce the frame quota.
 */
export class FramePool {
  private readonly words: Int32Array;
  private readonly owners: number;
  private readonly state: number;
  readonly pages: number;
  readonly llfree: LLFree;

  /** Bytes a pool of `pages` pages needs. */
  static bytesFor(pages: number): number {
    const ownersByte = PAGE_BYTES;
    const stateByte = alignPage(ownersByte + POOL_OWNER_CAPACITY * PoolOwner.WORDS * 4);
    const llfreeByte = alignPage(stateByte + pages * 8);
    return alignPage(llfreeByte + LLFree.metadataBytes(pages));
  }

  /** Lays out an empty pool over a zeroed PMO. */
  static format(mem: PersistentMemory, pages: number): FramePool {
    const ownersByte = PAGE_BYTES;
    const stateByte = alignPage(ownersByte + POOL_OWNER_CAPACITY * PoolOwner.WORDS * 4);
    const llfreeByte = alignPage(stateByte + pages * 8);
    assert(llfreeByte + LLFree.metadataBytes(pages) <= mem.byteLength, "FramePool.format");
    const set = (w: number, v: number) => mem.setU32(w << 2, v);
    set(PoolWord.VERSION, POOL_VERSION);
    set(PoolWord.PAGES, pages);
    set(PoolWord.OWNER_CAPACITY, POOL_OWNER_CAPACITY);
    set(PoolWord.OWNERS_BYTE, ownersByte);
    set(PoolWord.STATE_BYTE, stateByte);
    set(PoolWord.LLFREE_BYTE, llfreeByte);
    LLFree.format(mem, pages, llfreeByte);
    mem.atomicStore(PoolWord.MAGIC, POOL_MAGIC); // published last
    return new FramePool(mem);
  }

  /** A formatted pool (E_NOT_FOUND if there is none). */
  static attach(mem: PersistentMemory): FramePool {
    if (mem.words[PoolWord.MAGIC] !== POOL_MAGIC || mem.words[PoolWord.VERSION] !== POOL_VERSION) {
      fail(Err.E_NOT_FOUND, `PMO ${mem.id} holds no frame pool`);
    }
    return new FramePool(mem);
  }

  private constructor(private readonly mem: PersistentMemory) {
    const w = mem.words;
    this.words = w;
    this.pages = w[PoolWord.PAGES];
    this.owners = w[PoolWord.OWNERS_BYTE] >> 2;
    this.state = w[PoolWord.STATE_BYTE] >> 2;
    this.llfree = LLFree.attach(mem, 0, w[PoolWord.LLFREE_BYTE]);
  }

  private set(word: number, v: number): void {
    this.mem.setU32(word << 2, v);
  }

  /** Word index of `owner`'s record (created with the default quota when `create`); -1 if absent. */
  private record(owner: number, create: boolean): number {
    const key = owner + 1;
    let i = (Math.imul(owner, 0x9e3779b1) >>> 0) % POOL_OWNER_CAPACITY;
    for (let probes = 0; probes < POOL_OWNER_CAPACITY; probes++) {
      const r = this.owners + i * PoolOwner.WORDS;
      const k = this.words[r + PoolOwner.KEY] >>> 0;
      if (k === key) return r;
      if (k === 0) {
        if (!create) return -1;
        this.set(r + PoolOwner.USED, 0);
        this.set(r + PoolOwner.QUOTA, DEFAULT_FRAME_QUOTA_PAGES);
        this.set(r + PoolOwner.KEY, key);
        return r;
      }
      i = (i + 1) % POOL_OWNER_CAPACITY;
    }
    if (!create) return -1;
    return fail(Err.E_LIMIT, `frame owner table full (${POOL_OWNER_CAPACITY} owners)`);
  }

  /** Pages held by `owner` and its quota. */
  usage(owner: number): { pages: number; quota: number } {
    const r = this.record(owner, false);
    if (r < 0) return { pages: 0, quota: DEFAULT_FRAME_QUOTA_PAGES };
    return { pages: this.words[r + PoolOwner.USED], quota: this.words[r + PoolOwner.QUOTA] };
  }

  private charge(r: number, pages: number): void {
    const used = this.words[r + PoolOwner.USED];
    const quota = this.words[r + PoolOwner.QUOTA];
    if (used + pages > quota) {
      fail(
        Err.E_NO_MEMORY,
        `owner ${
          this.words[r + PoolOwner.KEY] - 1
        } holds ${used} frame pages; ${pages} more would exceed its quota of ${quota}`,
      );
    }
  }

  private use(page: number): number {
    return this.words[this.state + page * 2 + 1];
  }

  private ownerOf(page: number): number {
    return (this.words[this.state + page * 2] >>> 0) - 1;
  }

  private mark(page: number, owner: number, use: PageUse): void {
    this.set(this.state + page * 2, owner + 1);
    this.set(this.state + page * 2 + 1, use);
  }

  /** A 4 KiB page for `owner`: E_NO_MEMORY past its quota or when the pool is empty. */
  alloc4k(owner: number): number {
    const r = this.record(owner, true);
    this.charge(r, 1);
    const page = this.llfree.alloc4k(); // E_NO_MEMORY when the pool is empty
    this.mark(page, owner, PageUse.USED_4K);
    this.set(r + PoolOwner.USED, this.words[r + PoolOwner.USED] + 1);
    return page;
  }

  /** A whole 2 MiB frame for `owner`; returns its first page. E_NO_MEMORY as {@link alloc4k}. */
  alloc2m(owner: number): number {
    const r = this.record(owner, true);
    this.charge(r, HUGE_FRAME_PAGES);
    const page = this.llfree.alloc2m();
    this.mark(page, owner, PageUse.USED_2M);
    this.set(r + PoolOwner.USED, this.words[r + PoolOwner.USED] + HUGE_FRAME_PAGES);
    return page;
  }

  /** Throws the error for freeing `page` as a `want` allocation of `owner`, unless it is one. */
  private checkFree(page: number, owner: number, want: PageUse, what: string): void {
    const head = page - (page % HUGE_FRAME_PAGES);
    const use = this.use(page);
    if (want === PageUse.USED_4K && this.use(head) === PageUse.USED_2M) {
      fail(
        Err.E_BAD_ARGUMENT,
        `${what}: page ${page} is inside the 2 MiB frame at ${head}; free that with FRAME_FREE_2M`,
      );
    }
    if (use === want) {
      if (this.ownerOf(page) !== owner) {
        fail(Err.E_NOT_OWNER, `${what}: page ${page} belongs to owner ${this.ownerOf(page)}`);
      }
      return;
    }
    const freed = want === PageUse.USED_4K ? PageUse.FREED_4K : PageUse.FREED_2M;
    if (use === freed) fail(Err.E_DOUBLE_FREE, `${what}: page ${page} was already freed`);
    if (use === PageUse.USED_4K) {
      fail(Err.E_BAD_ARGUMENT, `${what}: page ${page} is a 4 KiB page; free it with FRAME_FREE_4K`);
    }
    fail(Err.E_NOT_FOUND, `${what}: page ${page} is not allocated`);
  }

  /** Frees `owner`'s 4 KiB page: E_BAD_ARGUMENT, E_NOT_OWNER, E_DOUBLE_FREE, E_NOT_FOUND. */
  free4k(page: number, owner: number): void {
    intIn(page, 0, this.pages - 1, "frame_free_4k: page");
    this.checkFree(page, owner, PageUse.USED_4K, "frame_free_4k");
    const r = this.record(owner, false);
    this.llfree.free4k(page);
    this.mark(page, owner, PageUse.FREED_4K);
    this.set(r + PoolOwner.USED, this.words[r + PoolOwner.USED] - 1);
  }

  /** Frees `owner`'s 2 MiB frame at `page` (512-aligned); errors as {@link free4k}. */
  free2m(page: number, owner: number): void {
    intIn(page, 0, this.pages - 1, "frame_free_2m: page");
    if (page % HUGE_FRAME_PAGES !== 0) {
      fail(Err.E_BAD_ARGUMENT, `frame_free_2m: page ${page} is not 512-aligned`);
    }
    this.checkFree(page, owner, PageUse.USED_2M, "frame_free_2m");
    const r = this.record(owner, false);
    this.llfree.free2m(page);
    this.mark(page, owner, PageUse.FREED_2M);
    this.set(r + PoolOwner.USED, this.words[r + PoolOwner.USED] - HUGE_FRAME_PAGES);
  }

  /**
   * After an unclean stop: LLFree is the truth for which pages are taken.
   * Allocations it does not know are marked freed, pages it holds that no
   * allocation records are released, and every owner's count is recounted.
   */
  recover(): { llfree: unknown; pagesFixed: number } {
    const llfree = this.llfree.recover();
    const covered = new Uint8Array(this.pages);
    const used = new Map<number, number>();
    let pagesFixed = this.dropUnbacked(covered, used);
    pagesFixed += this.releaseUnrecorded(covered);
    pagesFixed += this.recount(used);
    return { llfree, pagesFixed };
  }

  /**
   * Recovery step 1: marks freed every recorded allocation LLFree does not
   * hold; marks the pages of the others in `covered` and sums them per owner
   * into `used`. Returns the allocations fixed.
   */
  private dropUnbacked(covered: Uint8Array, used: Map<number, number>): number {
    let pagesFixed = 0;
    for (let p = 0; p < this.pages; p++) {
      const use = this.use(p);
      if (use === PageUse.USED_4K) {
        if (!this.llfree.isAllocated(p)) {
          this.mark(p, this.ownerOf(p), PageUse.FREED_4K);
          pagesFixed++;
          continue;
        }
        covered[p] = 1;
        used.set(this.ownerOf(p), (used.get(this.ownerOf(p)) ?? 0) + 1);
      } else if (use === PageUse.USED_2M) {
        let whole = p % HUGE_FRAME_PAGES === 0 && p + HUGE_FRAME_PAGES <= this.pages;
        for (let q = p; whole && q < p + HUGE_FRAME_PAGES; q++) whole = this.llfree.isAllocated(q);
        if (!whole) {
          this.mark(p, this.ownerOf(p), PageUse.FREED_2M);
          pagesFixed++;
          continue;
        }
        covered.fill(1, p, p + HUGE_FRAME_PAGES);
        used.set(this.ownerOf(p), (used.get(this.ownerOf(p)) ?? 0) + HUGE_FRAME_PAGES);
      }
    }
    return pagesFixed;
  }

  /** Recovery step 2: gives back to LLFree every page it holds outside `covered`; returns how many. */
  private releaseUnrecorded(covered: Uint8Array): number {
    let pagesFixed = 0;
    for (let p = 0; p < this.pages; p++) {
      if (covered[p] || !this.llfree.isAllocated(p)) continue;
      const head = p - (p % HUGE_FRAME_PAGES);
      // A whole frame nobody holds: try it as a huge frame first, else page by page.
      try {
        this.llfree.free4k(p);
      } catch {
        try {
          this.llfree.free2m(head);
        } catch { /* leave it */ }
      }
      pagesFixed++;
    }
    return pagesFixed;
  }

  /** Recovery step 3: sets each owner's count to `used`; returns the counts fixed. */
  private recount(used: Map<number, number>): number {
    let pagesFixed = 0;
    for (let i = 0; i < POOL_OWNER_CAPACITY; i++) {
      const r = this.owners + i * PoolOwner.WORDS;
      const key = this.words[r + PoolOwner.KEY] >>> 0;
      if (key === 0) continue;
      const want = used.get(key - 1) ?? 0;
      if (this.words[r + PoolOwner.USED] !== want) {
        this.set(r + PoolOwner.USED, want);
        pagesFixed++;
      }
    }
    return pagesFixed;
  }

  /** Asserts that owner counts match the page states and LLFree agrees (E_INTERNAL). */
  check(): void {
    this.llfree.check();
    const used = new Map<number, number>();
    let held = 0;
    for (let p = 0; p < this.pages; p++) {
      const use = this.use(p);
      if (use === PageUse.USED_4K) {
        assert(this.llfree.isAllocated(p), "FramePool.check", `page ${p} used but free`);
        used.set(this.ownerOf(p), (used.get(this.ownerOf(p)) ?? 0) + 1);
        held++;
      } else if (use === PageUse.USED_2M) {
        used.set(this.ownerOf(p), (used.get(this.ownerOf(p)) ?? 0) + HUGE_FRAME_PAGES);
        held += HUGE_FRAME_PAGES;
      }
    }
    assert(
      this.llfree.freePagesExact() === this.pages - held,
      "FramePool.check",
      `LLFree has ${this.pages - this.llfree.freePagesExact()} pages taken, owners hold ${held}`,
    );
    for (let i = 0; i < POOL_OWNER_CAPACITY; i++) {
      const r = this.owners + i * PoolOwner.WORDS;
      const key = this.words[r + PoolOwner.KEY] >>> 0;
      if (key === 0) continue;
      assert(
        this.words[r + PoolOwner.USED] === (used.get(key - 1) ?? 0),
        "FramePool.check",
        `owner ${key - 1} counts ${this.words[r + PoolOwner.USED]} pages`,
      );
    }
  }

  /** Pages, free pages, huge frames and owners of the pool. */
  stats(): MemoryStats["frames"] {
    let owners = 0;
    for (let i = 0; i < POOL_OWNER_CAPACITY; i++) {
      if (this.words[this.owners + i * PoolOwner.WORDS + PoolOwner.KEY] !== 0) owners++;
    }
    return {
      pages: this.pages,
      freePages: this.llfree.freePagesExact(),
      hugeFrames: this.llfree.hugeFrames(),
      owners,
    };
  }
}
