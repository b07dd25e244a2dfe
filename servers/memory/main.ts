/**
 * The memory server: persistent objects and page frames for every other
 * component, served over its endpoint (slot 2). Protocol:
 * servers/memory/protocol.ts; client library: servers/memory/client.ts.
 *
 * ## State
 *
 * All of it lives in two PMOs of the server's own cap group, so a resume
 * (or a restart after a failure) finds it again; the JS heap holds only
 * handles and counters:
 *
 * - slot {@link HEAP_SLOT}: the object heap (objects.ts) of
 *   {@link HEAP_PAGES} pages: objects, names, per-owner quotas.
 * - slot {@link FRAMES_SLOT}: the {@link FramePool}: an LLFree instance over
 *   {@link FRAME_POOL_PAGES} abstract page numbers (no memory behind them:
 *   they stand for physical frames), with an owner per allocation.
 *
 * Both PMOs are created on the first start, each landing in the lowest free
 * slot (0 cap group, 1 thread, 2 endpoint, so 3 and 4; checked). On resume
 * the server maps the same slots, attaches and runs recovery (a no-op after
 * a checkpoint, which only captures the server between two requests; it
 * matters after a failure in the middle of one).
 *
 * ## Requests
 *
 * Each request is handled to completion, synchronously, between two safe
 * points. The owner of what a request allocates is its badge (the kernel
 * sets it from the capability the client connected with); a new owner gets
 * the default quotas on its first request. Every bad request gets its named
 * error and changes nothing: checks run before the first write.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { HUGE_FRAME_PAGES, PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { jsonPayload, type Request } from "../runtime/ipc.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import { serveService } from "../runtime/service.ts";
import { LLFree } from "./llfree.ts";
import { HEAP_MAGIC, ObjectHeap } from "./objects.ts";
import {
  DATA_BYTES_MAX,
  DEFAULT_FRAME_QUOTA_PAGES,
  DEFAULT_QUOTA_PAGES,
  encodeInfo,
  encodePage,
  encodeResolved,
  encodeUsage,
  ID_BYTES,
  MemLabel,
  type MemoryStats,
  POINTER_BYTES,
} from "./protocol.ts";
import { PayloadReader } from "../../kernel/abi/payload.ts";

/** Slot of the heap PMO: the first free one after 0 cap group, 1 thread, 2 endpoint. */
const HEAP_SLOT = 3;
/** Slot of the frame-pool PMO, created right after the heap's. */
const FRAMES_SLOT = 4;
/** Pages of the heap PMO (8 MiB; the server's quota is 4096 pages). */
const HEAP_PAGES = 2048;
/** Abstract pages the frame pool hands out (64 MiB: 32 huge frames). */
const FRAME_POOL_PAGES = 16384;

/** Refs, as objects.ts builds them: `(generation mod 2^25) * 2^28 + slot`. */
const REF_SLOT_SCALE = 2 ** 28;
const REF_GEN_MASK = 2 ** 25 - 1;

function fail(code: Err, what: string): never {
  throw new TardigradeError(code, `memory: ${what}`);
}

/** A request number that must be an integer in [min, max]; E_BAD_ARGUMENT otherwise. */
function intIn(v: number, min: number, max: number, what: string): number {
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    fail(Err.E_BAD_ARGUMENT, `${what} ${v} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

// ---------------------------------------------------------------------------
// The frame pool
// ---------------------------------------------------------------------------

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
class FramePool {
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

  alloc4k(owner: number): number {
    const r = this.record(owner, true);
    this.charge(r, 1);
    const page = this.llfree.alloc4k(); // E_NO_MEMORY when the pool is empty
    this.mark(page, owner, PageUse.USED_4K);
    this.set(r + PoolOwner.USED, this.words[r + PoolOwner.USED] + 1);
    return page;
  }

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

  free4k(page: number, owner: number): void {
    intIn(page, 0, this.pages - 1, "frame_free_4k: page");
    this.checkFree(page, owner, PageUse.USED_4K, "frame_free_4k");
    const r = this.record(owner, false);
    this.llfree.free4k(page);
    this.mark(page, owner, PageUse.FREED_4K);
    this.set(r + PoolOwner.USED, this.words[r + PoolOwner.USED] - 1);
  }

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
    let pagesFixed = 0;
    const used = new Map<number, number>();
    const covered = new Uint8Array(this.pages);
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
    return { llfree, pagesFixed };
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

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

class MemoryServer {
  private requests = 0;
  private readonly idScratch = new Uint32Array(4);
  private readonly idBytes = new Uint8Array(ID_BYTES);
  private readonly idView = new DataView(this.idBytes.buffer);

  constructor(
    private readonly heap: ObjectHeap,
    private readonly frames: FramePool,
    private readonly resumed: boolean,
    private readonly recovery: Record<string, unknown> | null,
  ) {}

  /** A new owner gets the default heap quota before its first allocation. */
  private ensureOwner(owner: number): void {
    if (this.heap.usage(owner).quotaPages === Infinity) {
      this.heap.setQuota(owner, DEFAULT_QUOTA_PAGES);
    }
  }

  /** The heap ref of a binary id (E_NOT_FOUND for another heap's or an impossible id). */
  private refOfId(id: Uint8Array): number {
    const v = new DataView(id.buffer, id.byteOffset, ID_BYTES);
    const [i0, i1] = this.heap.instance;
    const gen = v.getUint32(8, true);
    const slot = v.getUint32(12, true);
    if (v.getUint32(0, true) !== i0 || v.getUint32(4, true) !== i1) {
      fail(Err.E_NOT_FOUND, "object id belongs to another heap instance");
    }
    if (slot >= REF_SLOT_SCALE - 1) fail(Err.E_NOT_FOUND, `no object in slot ${slot}`);
    return (gen & REF_GEN_MASK) * REF_SLOT_SCALE + slot;
  }

  /** E_NOT_OWNER unless `owner` owns the live object `ref` (E_NOT_FOUND if it is not live). */
  private checkOwner(ref: number, owner: number, what: string): void {
    const actual = this.heap.ownerOf(ref);
    if (actual !== owner) {
      fail(Err.E_NOT_OWNER, `${what}: the object belongs to owner ${actual}, not ${owner}`);
    }
  }

  private info(ref: number): Uint8Array {
    this.heap.writeId(ref, this.idScratch);
    for (let i = 0; i < 4; i++) this.idView.setUint32(i * 4, this.idScratch[i], true);
    return encodeInfo(this.idBytes, ref, this.heap.sizeOf(ref), this.heap.ownerOf(ref));
  }

  /** Zeroes a new object: its bytes may be what a freed object of another owner left. */
  private zero(ref: number): void {
    this.heap.mem.fill(this.heap.resolveRef(ref, 0), this.heap.sizeOf(ref), 0);
  }

  handle(req: Request): Uint8Array | void {
    this.requests++;
    const owner = req.badge;
    const r = new PayloadReader(req.payload, `memory ${MemLabel[req.label] ?? req.label}`);
    switch (req.label) {
      case MemLabel.ALLOC: {
        const size = r.f64();
        r.end();
        this.ensureOwner(owner);
        const ref = this.heap.alloc(size, owner);
        this.zero(ref);
        return this.info(ref);
      }
      case MemLabel.FREE: {
        const id = r.bytes(ID_BYTES);
        r.end();
        this.heap.free(this.refOfId(id), owner);
        return;
      }
      case MemLabel.RESOLVE: {
        if (req.payload.length !== POINTER_BYTES) {
          fail(Err.E_BAD_MESSAGE, `resolve: a pointer is ${POINTER_BYTES} bytes`);
        }
        const ref = this.refOfId(r.bytes(ID_BYTES));
        const offset = this.heap.resolve(req.payload);
        return encodeResolved(offset, this.heap.sizeOf(ref));
      }
      case MemLabel.NAME_CREATE: {
        const size = r.f64();
        const name = r.restText();
        this.ensureOwner(owner);
        const ref = this.heap.create(name, size, owner);
        this.zero(ref);
        return this.info(ref);
      }
      case MemLabel.NAME_OPEN:
        return this.info(this.heap.open(r.restText()));
      case MemLabel.NAME_DELETE:
        this.heap.delete(r.restText(), owner);
        return;
      case MemLabel.READ: {
        const id = r.bytes(ID_BYTES);
        const offset = r.f64();
        const length = r.f64();
        r.end();
        const ref = this.refOfId(id);
        intIn(length, 0, DATA_BYTES_MAX, "read: length");
        const size = this.heap.sizeOf(ref);
        this.checkOwner(ref, owner, "read");
        intIn(
          offset,
          0,
          size - length,
          `read of ${length} bytes from an object of ${size}: offset`,
        );
        return this.heap.view(ref).slice(offset, offset + length);
      }
      case MemLabel.WRITE: {
        const id = r.bytes(ID_BYTES);
        const offset = r.f64();
        const data = r.rest();
        const ref = this.refOfId(id);
        if (data.length > DATA_BYTES_MAX) {
          fail(Err.E_BAD_ARGUMENT, `write of ${data.length} bytes is over ${DATA_BYTES_MAX}`);
        }
        const size = this.heap.sizeOf(ref);
        this.checkOwner(ref, owner, "write");
        intIn(
          offset,
          0,
          size - data.length,
          `write of ${data.length} bytes to an object of ${size}: offset`,
        );
        this.heap.write(ref, offset, data);
        return;
      }
      case MemLabel.USAGE: {
        r.end();
        const h = this.heap.usage(owner);
        const f = this.frames.usage(owner);
        return encodeUsage({
          pages: h.usedPages,
          quota: h.quotaPages === Infinity ? DEFAULT_QUOTA_PAGES : h.quotaPages,
          framePages: f.pages,
          frameQuota: f.quota,
        });
      }
      case MemLabel.FRAME_ALLOC_4K:
        r.end();
        return encodePage(this.frames.alloc4k(owner));
      case MemLabel.FRAME_ALLOC_2M:
        r.end();
        return encodePage(this.frames.alloc2m(owner));
      case MemLabel.FRAME_FREE_4K: {
        const page = r.f64();
        r.end();
        this.frames.free4k(page, owner);
        return;
      }
      case MemLabel.FRAME_FREE_2M: {
        const page = r.f64();
        r.end();
        this.frames.free2m(page, owner);
        return;
      }
      case MemLabel.STATS:
        r.end();
        return jsonPayload(this.stats());
      default:
        fail(Err.E_NOT_SUPPORTED, `no operation with label ${req.label}`);
    }
  }

  private stats(): MemoryStats {
    let check = "ok";
    try {
      this.heap.check();
      this.frames.check();
    } catch (e) {
      check = e instanceof Error ? e.message : String(e);
    }
    return {
      heap: this.heap.stats(),
      frames: this.frames.stats(),
      requests: this.requests,
      resumed: this.resumed,
      recovery: this.recovery,
      check,
    };
  }
}

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

/**
 * Makes sure `slot` holds this server's PMO of `pages` pages: on resume it
 * is already there (unless the first start died before creating it); else
 * it is created, and must land in `slot`. Returns true if it was created.
 */
async function ensurePmo(ctx: Context, slot: number, pages: number): Promise<boolean> {
  if (ctx.resumed) {
    try {
      const info = await ctx.sys.capInfo(slot);
      if (info.kind !== "PMO") fail(Err.E_INTERNAL, `slot ${slot} holds a ${info.kind}, not a PMO`);
      return false;
    } catch (e) {
      if (!(e instanceof TardigradeError && e.code === Err.E_EMPTY_SLOT)) throw e;
    }
  }
  const got = await ctx.sys.pmoCreate(pages);
  if (got !== slot) {
    fail(
      Err.E_INTERNAL,
      `a PMO landed in slot ${got}, expected ${slot}: slots ${slot}… must be free`,
    );
  }
  return true;
}

runProgram(async (ctx) => {
  await ensurePmo(ctx, HEAP_SLOT, HEAP_PAGES);
  await ensurePmo(ctx, FRAMES_SLOT, FramePool.bytesFor(FRAME_POOL_PAGES) / PAGE_BYTES);
  const heapMem = await ctx.map(HEAP_SLOT);
  const framesMem = await ctx.map(FRAMES_SLOT);
  let recovery: Record<string, unknown> | null = null;
  // A PMO whose magic word is still 0 was never formatted (new, or the first start died first).
  let heap: ObjectHeap;
  let frames: FramePool;
  if (heapMem.words[0] === 0) heap = ObjectHeap.format(heapMem);
  else {
    assert(heapMem.words[0] === HEAP_MAGIC, "memory", "heap PMO holds something else");
    heap = ObjectHeap.attach(heapMem);
    recovery = { heap: heap.recover() };
  }
  if (framesMem.words[0] === 0) frames = FramePool.format(framesMem, FRAME_POOL_PAGES);
  else {
    frames = FramePool.attach(framesMem);
    recovery = { ...recovery, frames: frames.recover() };
  }
  if (recovery) ctx.log(`memory: attached to its heap; recovery ${JSON.stringify(recovery)}`);
  const server = new MemoryServer(heap, frames, recovery !== null, recovery);
  await serveService(ctx, "memory", (req) => server.handle(req));
});
