/**
 * Persistent objects in one PMO: an object heap with 128-bit ids, persistent
 * pointers, a name-based allocator and per-owner quotas (after Twizzler,
 * ATC'20, and Temporality's name-based allocation).
 *
 * ## One PMO holds everything
 *
 * ```
 * page 0            header (magic, instance id, section offsets, writer lock)
 * LLFREE_BYTE       LLFree metadata managing the data pages
 * OWNERS_BYTE       owner records: quota, usage, current and partial slabs per class
 * NAMES_BYTE        name table (open addressing, names <= 64 bytes UTF-8)
 * TABLE_BYTE        object table: slot -> generation, size, address, name link
 * DESC_BYTE         one descriptor per data page: slab class, owner, live count, bitmap
 * DATA_BYTE         data pages (page n of the LLFree is PMO page DATA_BYTE/4096 + n)
 * ```
 *
 * Objects of 1..2048 bytes live in size-class slabs (one data page each,
 * owned by one owner); larger objects, up to {@link OBJECT_BYTES_MAX}, get a
 * contiguous run of pages from LLFree.allocOrder. Quotas are charged in pages
 * as slabs and runs are taken.
 *
 * ## Ids, refs and pointers
 *
 * An object id is 128 bits: the heap's random 64-bit instance id, the slot's
 * generation and the slot number, shown as 32 hex digits. Hot-path calls use a
 * *ref*: a plain number `gen25 * 2^28 + slot` (no allocation per call). A
 * persistent pointer is 24 bytes, `{ id (16), offset (u32), 0 (u32) }`; it
 * resolves to a byte offset of the PMO in any worker and after re-attaching,
 * and fails with E_NOT_FOUND once its object is freed (the generation moves
 * on).
 *
 * ## Concurrency and crashes
 *
 * Mutations (alloc, free, create, delete, setQuota) take the writer lock word
 * in the header for the length of one call, so every handle of every worker
 * may mutate; a handle may instead hold it for a batch of calls
 * ({@link ObjectHeap.batch}), which saves the two atomics per call.
 * resolve and friends are lock-free (generation checks). Page
 * frames come from the lock-free {@link LLFree}. There is no log: every
 * mutation publishes its last step with one word (an object is live when its
 * size word is non-zero, a name when its state word is USED), and
 * {@link ObjectHeap.recover} rebuilds slab bitmaps, live counts, lists, quota
 * usage and free slots from the object table after an unclean stop.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { LLFree, type LLFreeRecovery, popcount32 } from "./llfree.ts";

// ---------------------------------------------------------------------------
// Constants and layout
// ---------------------------------------------------------------------------

/** "TgOH": marks a formatted object heap. */
export const HEAP_MAGIC = 0x54674f48;
/** Heap format version. */
export const HEAP_VERSION = 1;
/** Largest object in bytes. */
export const OBJECT_BYTES_MAX = 64 * 1024;
/** Largest object served from a slab; larger ones get whole pages. */
export const SMALL_OBJECT_BYTES_MAX = 2048;
/** Longest name in UTF-8 bytes. */
export const NAME_BYTES_MAX = 64;
/** Bytes of an encoded persistent pointer. */
export const POINTER_BYTES = 24;
/** Bytes of an object id. */
export const OBJECT_ID_BYTES = 16;

/** Slab size classes in bytes. */
export const SIZE_CLASSES: readonly number[] = [
  16,
  32,
  48,
  64,
  80,
  96,
  112,
  128,
  160,
  192,
  256,
  320,
  512,
  768,
  1024,
  2048,
];
const CLASS_COUNT = 16;
const CLASS_SIZE = new Int32Array(SIZE_CLASSES);
const CLASS_CAP = new Int32Array(SIZE_CLASSES.map((s) => Math.floor(PAGE_BYTES / s)));
const CLASS_WORDS = new Int32Array(SIZE_CLASSES.map((s) => Math.ceil(PAGE_BYTES / s / 32)));
/** CLASS_OF[(size + 15) >> 4] is the class of a small size. */
const CLASS_OF = new Uint8Array(SMALL_OBJECT_BYTES_MAX / 16 + 1);
for (let i = 1, c = 0; i < CLASS_OF.length; i++) {
  while (CLASS_SIZE[c] < i * 16) c++;
  CLASS_OF[i] = c;
}

/** Refs: slot in the low 28 bits, the low 25 bits of the generation above. */
const SLOT_SCALE = 2 ** 28;
const REF_GEN_MASK = 2 ** 25 - 1;
/** Most object slots a heap can have. */
export const OBJECTS_MAX = SLOT_SCALE - 1;

/** Header words (page 0). */
export enum HeapWord {
  MAGIC = 0,
  VERSION = 1,
  /** Writer lock: 0 free, else holder's worker index + 1. */
  LOCK = 2,
  INSTANCE0 = 4,
  INSTANCE1 = 5,
  /** Object table slots. */
  MAX_OBJECTS = 6,
  /** Slots ever used; slots >= HIGH_WATER were never handed out. */
  HIGH_WATER = 7,
  /** First free slot below HIGH_WATER, plus 1 (0: none). */
  FREE_SLOT = 8,
  NAME_CAPACITY = 10,
  NAME_COUNT = 11,
  NAME_TOMBSTONES = 12,
  OWNER_CAPACITY = 13,
  OWNER_COUNT = 14,
  LLFREE_BYTE = 15,
  OWNERS_BYTE = 16,
  NAMES_BYTE = 17,
  TABLE_BYTE = 18,
  DESC_BYTE = 19,
  DATA_BYTE = 20,
  DATA_PAGES = 21,
  MAX_OBJECT_BYTES = 22,
}

/** Words of an object-table entry. */
enum Entry {
  /** Generation: bumped at every free. */
  GEN = 0,
  /** Size in bytes; 0 while the slot is free. Written last when allocating. */
  SIZE = 1,
  /** Byte offset of the data in the PMO. */
  ADDR = 2,
  /** Live: name-table index + 1 of its name (0: anonymous). Free: next free slot + 1. */
  AUX = 3,
  WORDS = 4,
}

/** Words of a page descriptor. */
enum Desc {
  /** {@link PageKind}. Written last when a page is taken. */
  KIND = 0,
  /** Slab: size class; large head: pages in the run; tail: head page. */
  CLASS = 1,
  /** Owner record index. */
  OWNER = 2,
  /** Large head: 1 while its object exists (slabs count set bitmap bits instead). */
  LIVE = 3,
  /** Partial-list links, page + 1. */
  NEXT = 4,
  PREV = 5,
  /** {@link DescFlag}. */
  FLAGS = 6,
  /** Slab bitmap: up to 8 words (256 objects of 16 bytes). */
  BITMAP = 8,
  WORDS = 16,
}

/** What a data page holds. */
export enum PageKind {
  FREE = 0,
  SLAB = 1,
  LARGE = 2,
  LARGE_TAIL = 3,
}

enum DescFlag {
  /** On its owner's partial list for its class. */
  LISTED = 1,
  /** Its owner's current slab for its class. */
  CURRENT = 2,
}

/** Words of an owner record. */
enum Owner {
  /** Owner id + 1; 0: empty record. */
  KEY = 0,
  /** Quota in pages; -1: unlimited. */
  QUOTA = 1,
  /** Pages charged. */
  USED = 2,
  /** Current slab per class, page + 1. */
  CUR = 4,
  /** Head of the partial-slab list per class, page + 1. */
  PARTIAL = 4 + CLASS_COUNT,
  WORDS = 40,
}

/** Words of a name entry. */
enum Name {
  /** {@link NameState}; USED written last. */
  STATE = 0,
  HASH = 1,
  LEN = 2,
  SLOT = 3,
  GEN = 4,
  /** UTF-8 bytes. */
  BYTES = 8,
  WORDS = 8 + NAME_BYTES_MAX / 4,
}

enum NameState {
  EMPTY = 0,
  USED = 1,
  TOMBSTONE = 2,
}

/** Options of {@link ObjectHeap.format}. */
export interface HeapOptions {
  /** Object-table slots (default: 16 per PMO page). */
  maxObjects?: number;
  /** Name-table entries, a power of two (default 1024). */
  nameCapacity?: number;
  /** Owner records, a power of two (default 256). */
  ownerCapacity?: number;
}

/** Options of {@link ObjectHeap.attach}. */
export interface AttachOptions {
  /** LLFree worker slot of this handle; each concurrent handle needs its own (default 0). */
  worker?: number;
}

/** Result of {@link ObjectHeap.recover}. */
export interface HeapRecovery {
  llfree: LLFreeRecovery;
  /** Object-table entries that pointed at nothing valid. */
  objectsDropped: number;
  /** Named objects whose name was never published (or was already deleted). */
  orphansFreed: number;
  /** Pages allocated but not reachable from any object (reclaimed). */
  pagesReclaimed: number;
  /** Name entries whose object was gone. */
  namesDropped: number;
  /** 1 if the writer lock was held (a mutation was cut short). */
  lockBroken: number;
}

/** Counts from {@link ObjectHeap.stats}. */
export interface HeapStats {
  liveObjects: number;
  names: number;
  owners: number;
  dataPages: number;
  freePages: number;
  slabPages: number;
  largePages: number;
  maxObjects: number;
  highWater: number;
}

function fail(
  code: Err,
  where: string,
  what: string,
  detail: Record<string, number | string> = {},
): never {
  throw new TardigradeError(code, `ObjectHeap.${where}: ${what}`, detail);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A handle on the object heap in a PMO.
 *
 * @example
 * ```ts
 * const mem = new PersistentMemory(allocatePmoBuffers(1, 1024));
 * const heap = ObjectHeap.format(mem);
 * const ref = heap.alloc(32, 7);                 // 32 bytes charged to cap group 7
 * const at = heap.resolveRef(ref, 8);            // byte offset in the PMO
 * const p = heap.pointer(ref, 8);                // 24-byte persistent pointer
 * const again = ObjectHeap.attach(new PersistentMemory(buffers)).resolve(p); // === at
 * ```
 */
export class ObjectHeap {
  /** The PMO. */
  readonly mem: PersistentMemory;
  /** Page allocator of the data pages. */
  readonly pages: LLFree;
  /** This handle's worker index. */
  readonly worker: number;
  /** Object-table slots. */
  readonly maxObjects: number;
  /** Data pages. */
  readonly dataPages: number;
  /** Byte offset of data page 0. */
  readonly dataByte: number;
  /** The heap's 64-bit instance id, as two u32s. */
  readonly instance: readonly [number, number];

  private readonly words: Int32Array;
  private readonly table: number;
  private readonly desc: number;
  private readonly owners: number;
  private readonly names: number;
  private readonly ownerMask: number;
  private readonly nameMask: number;
  private readonly lockToken: number;
  private readonly maxSize: number;
  private readonly inst0: number;
  private readonly inst1: number;
  private readonly nameScratch = new Uint8Array(NAME_BYTES_MAX);
  private nameLen = 0;
  private lockDepth = 0;
  /** Owner of the last record looked up (NaN: none), for the allocation fast path. */
  private lastOwner = NaN;
  private lastRec = -1;

  private constructor(mem: PersistentMemory, worker: number) {
    const w = mem.words;
    this.mem = mem;
    this.words = w;
    this.worker = worker;
    this.lockToken = worker + 1;
    this.maxObjects = w[HeapWord.MAX_OBJECTS];
    this.dataPages = w[HeapWord.DATA_PAGES];
    this.dataByte = w[HeapWord.DATA_BYTE];
    this.table = w[HeapWord.TABLE_BYTE] >> 2;
    this.desc = w[HeapWord.DESC_BYTE] >> 2;
    this.owners = w[HeapWord.OWNERS_BYTE] >> 2;
    this.names = w[HeapWord.NAMES_BYTE] >> 2;
    this.ownerMask = w[HeapWord.OWNER_CAPACITY] - 1;
    this.nameMask = w[HeapWord.NAME_CAPACITY] - 1;
    this.maxSize = w[HeapWord.MAX_OBJECT_BYTES];
    this.inst0 = w[HeapWord.INSTANCE0] >>> 0;
    this.inst1 = w[HeapWord.INSTANCE1] >>> 0;
    this.instance = [this.inst0, this.inst1];
    this.pages = LLFree.attach(mem, worker, w[HeapWord.LLFREE_BYTE]);
  }

  /**
   * Formats an empty heap over the whole PMO (allocator metadata, tables and
   * data pages) and returns worker 0's handle.
   */
  static format(mem: PersistentMemory, options: HeapOptions = {}): ObjectHeap {
    const totalPages = Math.floor(mem.byteLength / PAGE_BYTES);
    const maxObjects = options.maxObjects ?? Math.min(OBJECTS_MAX, totalPages * 16);
    const nameCapacity = options.nameCapacity ?? 1024;
    const ownerCapacity = options.ownerCapacity ?? 256;
    if (!Number.isInteger(maxObjects) || maxObjects < 1 || maxObjects > OBJECTS_MAX) {
      fail(Err.E_BAD_ARGUMENT, "format", `maxObjects ${maxObjects} must be in [1, ${OBJECTS_MAX}]`);
    }
    if (!isPow2(nameCapacity) || nameCapacity < 2) {
      fail(Err.E_BAD_ARGUMENT, "format", `nameCapacity ${nameCapacity} must be a power of two`);
    }
    if (!isPow2(ownerCapacity) || ownerCapacity < 2) {
      fail(Err.E_BAD_ARGUMENT, "format", `ownerCapacity ${ownerCapacity} must be a power of two`);
    }
    const ownersByte = PAGE_BYTES;
    const namesByte = alignUp(ownersByte + ownerCapacity * Owner.WORDS * 4, PAGE_BYTES);
    const tableByte = alignUp(namesByte + nameCapacity * Name.WORDS * 4, PAGE_BYTES);
    const llfreeByte = alignUp(tableByte + maxObjects * Entry.WORDS * 4, PAGE_BYTES);
    const rest = mem.byteLength - llfreeByte;
    // Each data page costs its 4 KiB, a 64-byte descriptor and a bit of LLFree metadata.
    let dataPages = Math.floor(rest / (PAGE_BYTES + Desc.WORDS * 4));
    const need = (n: number) => {
      const descByte = alignUp(llfreeByte + LLFree.metadataBytes(n), PAGE_BYTES);
      const dataByte = alignUp(descByte + n * Desc.WORDS * 4, PAGE_BYTES);
      return { descByte, dataByte, end: dataByte + n * PAGE_BYTES };
    };
    while (dataPages > 0 && need(dataPages).end > mem.byteLength) dataPages--;
    if (dataPages < 1) {
      fail(Err.E_BAD_ARGUMENT, "format", `PMO of ${mem.byteLength} bytes is too small for a heap`, {
        byteLength: mem.byteLength,
      });
    }
    const { descByte, dataByte } = need(dataPages);
    mem.fill(0, dataByte, 0);
    const rnd = crypto.getRandomValues(new Uint32Array(2));
    const set = (word: number, v: number) => mem.setU32(word << 2, v);
    set(HeapWord.VERSION, HEAP_VERSION);
    set(HeapWord.INSTANCE0, rnd[0]);
    set(HeapWord.INSTANCE1, rnd[1]);
    set(HeapWord.MAX_OBJECTS, maxObjects);
    set(HeapWord.NAME_CAPACITY, nameCapacity);
    set(HeapWord.OWNER_CAPACITY, ownerCapacity);
    set(HeapWord.LLFREE_BYTE, llfreeByte);
    set(HeapWord.OWNERS_BYTE, ownersByte);
    set(HeapWord.NAMES_BYTE, namesByte);
    set(HeapWord.TABLE_BYTE, tableByte);
    set(HeapWord.DESC_BYTE, descByte);
    set(HeapWord.DATA_BYTE, dataByte);
    set(HeapWord.DATA_PAGES, dataPages);
    set(HeapWord.MAX_OBJECT_BYTES, OBJECT_BYTES_MAX);
    LLFree.format(mem, dataPages, llfreeByte);
    mem.atomicStore(HeapWord.MAGIC, HEAP_MAGIC); // published last
    return new ObjectHeap(mem, 0);
  }

  /**
   * A handle on a formatted heap: in another worker, or after a resume (a
   * new PersistentMemory over the same data buffer). Handles used at the
   * same time need different `worker` indexes (their LLFree slots); a new
   * handle with the index of a stopped one takes over its slot. After an
   * unclean stop call {@link recover} on it before anything else.
   */
  static attach(mem: PersistentMemory, options: AttachOptions = {}): ObjectHeap {
    const worker = options.worker ?? 0;
    if (mem.byteLength < PAGE_BYTES || mem.words[HeapWord.MAGIC] !== HEAP_MAGIC) {
      fail(Err.E_NOT_FOUND, "attach", `PMO ${mem.id} holds no object heap; format it first`);
    }
    if (mem.words[HeapWord.VERSION] !== HEAP_VERSION) {
      fail(Err.E_NOT_SUPPORTED, "attach", `heap version ${mem.words[HeapWord.VERSION]}`);
    }
    return new ObjectHeap(mem, worker);
  }

  // -------------------------------------------------------------------------
  // Writer lock
  // -------------------------------------------------------------------------

  private lock(): void {
    if (this.lockDepth++ > 0) return;
    if (this.mem.atomicCas(HeapWord.LOCK, 0, this.lockToken) === 0) return;
    this.lockSlow();
  }

  private lockSlow(): void {
    const started = performance.now();
    for (let spins = 0;; spins++) {
      if (
        this.words[HeapWord.LOCK] === 0 &&
        this.mem.atomicCas(HeapWord.LOCK, 0, this.lockToken) === 0
      ) {
        return;
      }
      if ((spins & 1023) === 1023 && performance.now() - started > 5000) {
        this.lockDepth--;
        fail(
          Err.E_TIMEOUT,
          "lock",
          `writer lock held by worker ${
            this.words[HeapWord.LOCK] - 1
          } for 5 s; if it died, run recover()`,
        );
      }
    }
  }

  private unlock(): void {
    if (--this.lockDepth === 0) this.mem.atomicStore(HeapWord.LOCK, 0);
  }

  /**
   * Takes the writer lock for a batch of calls (nestable): mutations until
   * the matching {@link releaseWriter} skip the per-call lock, which costs
   * two atomic operations per call. Hold it for one batch of requests, never
   * across a safe point where the worker may be frozen for a checkpoint.
   */
  acquireWriter(): void {
    this.lock();
  }

  /** Releases what {@link acquireWriter} took. */
  releaseWriter(): void {
    if (this.lockDepth === 0) fail(Err.E_BAD_ARGUMENT, "releaseWriter", "writer lock not held");
    this.unlock();
  }

  /** Runs `fn` holding the writer lock (see {@link acquireWriter}). */
  batch<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  private set(word: number, v: number): void {
    this.mem.setU32(word << 2, v);
  }

  // -------------------------------------------------------------------------
  // Allocation
  // -------------------------------------------------------------------------

  /**
   * Allocates `size` bytes (integer, 1..64 KiB, else E_BAD_ARGUMENT) charged
   * to `owner` (a cap group id, u32). Returns a ref. E_NO_MEMORY when the
   * owner's quota or the heap is exhausted, E_LIMIT when the object table is
   * full. The bytes are not zeroed.
   */
  alloc(size: number, owner: number): number {
    if (!(size >= 1 && size <= this.maxSize && (size | 0) === size)) this.badSize("alloc", size);
    this.lock();
    try {
      return this.allocLocked(size, owner, 0);
    } finally {
      this.unlock();
    }
  }

  private badSize(where: string, size: unknown): never {
    fail(
      Err.E_BAD_ARGUMENT,
      where,
      `size ${String(size)} must be an integer in [1, ${this.maxSize}]`,
      {
        size: String(size),
      },
    );
  }

  private allocLocked(size: number, owner: number, aux: number): number {
    const words = this.words;
    const rec = owner === this.lastOwner ? this.lastRec : this.ownerRecord(owner, true);
    // A slot must be available before any page is taken.
    const freeSlot = words[HeapWord.FREE_SLOT];
    const hw = words[HeapWord.HIGH_WATER];
    if (freeSlot === 0 && hw >= this.maxObjects) {
      fail(Err.E_LIMIT, "alloc", `object table full (${this.maxObjects} objects)`, {
        maxObjects: this.maxObjects,
      });
    }
    const addr = size <= SMALL_OBJECT_BYTES_MAX
      ? this.allocSmall(CLASS_OF[(size + 15) >> 4], rec)
      : this.allocLarge(size, rec);
    let slot: number;
    let e: number;
    if (freeSlot !== 0) {
      slot = freeSlot - 1;
      e = this.table + slot * Entry.WORDS;
      this.set(HeapWord.FREE_SLOT, words[e + Entry.AUX]);
    } else {
      slot = hw;
      e = this.table + slot * Entry.WORDS;
      this.set(HeapWord.HIGH_WATER, hw + 1);
    }
    if (words[e + Entry.AUX] !== aux) this.set(e + Entry.AUX, aux);
    this.set(e + Entry.ADDR, addr);
    this.set(e + Entry.SIZE, size); // publishes the object
    return (words[e + Entry.GEN] & REF_GEN_MASK) * SLOT_SCALE + slot;
  }

  private allocSmall(cls: number, rec: number): number {
    const words = this.words;
    const curW = rec + Owner.CUR + cls;
    let page = words[curW] - 1;
    if (page < 0) page = this.nextSlab(rec, cls);
    const d = this.desc + page * Desc.WORDS;
    const bm = d + Desc.BITMAP;
    const n = CLASS_WORDS[cls];
    for (let i = 0; i < n; i++) {
      const w = words[bm + i];
      if (w !== -1) {
        const bit = ~w & (w + 1);
        this.set(bm + i, w | bit);
        if ((w | bit) === -1 && this.fullFrom(bm, i + 1, n)) {
          // Full: it stops being current; a free puts it on the partial list.
          this.set(curW, 0);
          this.set(d + Desc.FLAGS, 0);
        }
        return this.dataByte + page * PAGE_BYTES +
          ((i << 5) + 31 - Math.clz32(bit)) * CLASS_SIZE[cls];
      }
    }
    return fail(
      Err.E_INTERNAL,
      "alloc",
      `current slab ${page} of class ${cls} is full; run recover()`,
    );
  }

  /** True if bitmap words [from, n) of `bm` are all set. */
  private fullFrom(bm: number, from: number, n: number): boolean {
    for (let j = from; j < n; j++) if (this.words[bm + j] !== -1) return false;
    return true;
  }

  /** Live objects of the slab with descriptor `d`: its set bitmap bits minus the padding. */
  private slabLive(d: number, cls: number): number {
    let bits = 0;
    for (let i = 0; i < CLASS_WORDS[cls]; i++) bits += popcount32(this.words[d + Desc.BITMAP + i]);
    return bits - (CLASS_WORDS[cls] * 32 - CLASS_CAP[cls]);
  }

  /** Makes a partial slab, or a fresh page, the owner's current slab of `cls`. */
  private nextSlab(rec: number, cls: number): number {
    const words = this.words;
    const head = words[rec + Owner.PARTIAL + cls] - 1;
    let page: number;
    if (head >= 0) {
      page = head;
      this.unlink(rec, cls, page);
      this.set(this.desc + page * Desc.WORDS + Desc.FLAGS, DescFlag.CURRENT);
    } else {
      this.charge(rec, 1);
      page = this.pages.alloc4k();
      const d = this.desc + page * Desc.WORDS;
      this.mem.fill(d << 2, Desc.WORDS * 4, 0);
      // Bits past the slab's capacity are set so the search never finds them.
      const cap = CLASS_CAP[cls];
      for (let b = cap; b < CLASS_WORDS[cls] * 32; b++) {
        this.set(d + Desc.BITMAP + (b >> 5), words[d + Desc.BITMAP + (b >> 5)] | (1 << (b & 31)));
      }
      this.set(d + Desc.CLASS, cls);
      this.set(d + Desc.OWNER, rec);
      this.set(d + Desc.FLAGS, DescFlag.CURRENT);
      this.set(d + Desc.KIND, PageKind.SLAB);
      this.set(rec + Owner.USED, words[rec + Owner.USED] + 1);
    }
    this.set(rec + Owner.CUR + cls, page + 1);
    return page;
  }

  /** E_NO_MEMORY if `pages` more would exceed the owner's quota. */
  private charge(rec: number, pages: number): void {
    const q = this.words[rec + Owner.QUOTA];
    const used = this.words[rec + Owner.USED];
    if (q !== -1 && used + pages > q) {
      fail(
        Err.E_NO_MEMORY,
        "alloc",
        `owner ${
          this.words[rec + Owner.KEY] - 1
        } would exceed its quota of ${q} pages (uses ${used})`,
        {
          owner: this.words[rec + Owner.KEY] - 1,
          quota: q,
          used,
        },
      );
    }
  }

  private allocLarge(size: number, rec: number): number {
    const n = Math.ceil(size / PAGE_BYTES);
    const order = 32 - Math.clz32(n - 1);
    this.charge(rec, n);
    const first = this.pages.allocOrder(order);
    for (let p = first + n; p < first + (1 << order); p++) this.pages.free4k(p);
    for (let p = first + 1; p < first + n; p++) {
      const d = this.desc + p * Desc.WORDS;
      this.mem.fill(d << 2, Desc.WORDS * 4, 0);
      this.set(d + Desc.CLASS, first);
      this.set(d + Desc.OWNER, rec);
      this.set(d + Desc.KIND, PageKind.LARGE_TAIL);
    }
    const d = this.desc + first * Desc.WORDS;
    this.mem.fill(d << 2, Desc.WORDS * 4, 0);
    this.set(d + Desc.CLASS, n);
    this.set(d + Desc.OWNER, rec);
    this.set(d + Desc.LIVE, 1);
    this.set(d + Desc.KIND, PageKind.LARGE);
    this.set(rec + Owner.USED, this.words[rec + Owner.USED] + n);
    return this.dataByte + first * PAGE_BYTES;
  }

  // -------------------------------------------------------------------------
  // Freeing
  // -------------------------------------------------------------------------

  /**
   * Frees an object. E_NOT_FOUND for a ref that never named an object,
   * E_DOUBLE_FREE for one already freed, E_NOT_OWNER if `owner` did not
   * allocate it. A named object loses its name too.
   */
  free(ref: number, owner: number): void {
    this.checkOwnerId(owner, "free");
    this.lock();
    try {
      const slot = this.liveSlot(ref, "free", true);
      this.checkOwner(slot, owner, "free");
      this.freeLocked(slot);
    } finally {
      this.unlock();
    }
  }

  /**
   * Slot of a live ref, or the error that says why not: E_BAD_ARGUMENT for a
   * value that is no ref, E_NOT_FOUND for an object that never existed or
   * (except when freeing) was freed, E_DOUBLE_FREE when freeing a freed one.
   */
  private liveSlot(ref: number, where: string, freeing = false): number {
    if (!(ref >= 0 && ref < 2 ** 53 && Math.floor(ref) === ref)) {
      fail(Err.E_BAD_ARGUMENT, where, `ref ${String(ref)} is not an object ref`);
    }
    const g = (ref / SLOT_SCALE) | 0;
    const slot = ref - g * SLOT_SCALE;
    if (slot >= this.words[HeapWord.HIGH_WATER]) {
      fail(Err.E_NOT_FOUND, where, `no object with ref ${ref}`, { ref });
    }
    const e = this.table + slot * Entry.WORDS;
    const cur = this.words[e + Entry.GEN] & REF_GEN_MASK;
    const size = this.words[e + Entry.SIZE];
    if (cur === g && size !== 0) return slot;
    // Freed: the generation moved on, or (a free cut short by a crash) not yet.
    const age = (cur - g) & REF_GEN_MASK;
    if (age < 2 ** 24 && (age > 0 || size === 0)) {
      fail(freeing ? Err.E_DOUBLE_FREE : Err.E_NOT_FOUND, where, `object ${ref} was freed`, {
        ref,
      });
    }
    return fail(Err.E_NOT_FOUND, where, `no object with ref ${ref}`, { ref });
  }

  private checkOwner(slot: number, owner: number, where: string): void {
    const rec = this.recOfSlot(slot);
    const key = this.words[rec + Owner.KEY] - 1;
    if (key !== owner) {
      fail(
        Err.E_NOT_OWNER,
        where,
        `object slot ${slot} belongs to owner ${key >>> 0}, not ${owner}`,
        {
          slot,
          owner: String(owner),
        },
      );
    }
  }

  private pageOfAddr(addr: number): number {
    return ((addr - this.dataByte) / PAGE_BYTES) | 0;
  }

  private recOfSlot(slot: number): number {
    const addr = this.words[this.table + slot * Entry.WORDS + Entry.ADDR];
    return this.words[this.desc + this.pageOfAddr(addr) * Desc.WORDS + Desc.OWNER];
  }

  private freeLocked(slot: number): void {
    const words = this.words;
    const e = this.table + slot * Entry.WORDS;
    const addr = words[e + Entry.ADDR];
    const size = words[e + Entry.SIZE];
    const nameLink = words[e + Entry.AUX];
    // Unpublish first: from here on the object does not exist.
    this.set(e + Entry.SIZE, 0);
    this.set(e + Entry.GEN, words[e + Entry.GEN] + 1);
    this.set(e + Entry.AUX, words[HeapWord.FREE_SLOT]);
    this.set(HeapWord.FREE_SLOT, slot + 1);
    if (nameLink !== 0) this.dropName(nameLink - 1, slot);
    const page = this.pageOfAddr(addr);
    const d = this.desc + page * Desc.WORDS;
    const rec = words[d + Desc.OWNER];
    if (size > SMALL_OBJECT_BYTES_MAX) {
      this.releaseRun(page, rec);
      return;
    }
    const cls = words[d + Desc.CLASS];
    const idx = ((addr - this.dataByte - page * PAGE_BYTES) / CLASS_SIZE[cls]) | 0;
    const bw = d + Desc.BITMAP + (idx >> 5);
    this.set(bw, words[bw] & ~(1 << (idx & 31)));
    const flags = words[d + Desc.FLAGS];
    if (flags & DescFlag.CURRENT) return; // stays current, even when empty
    if (this.slabLive(d, cls) === 0) {
      if (flags & DescFlag.LISTED) this.unlink(rec, cls, page);
      this.releasePage(page, rec);
    } else if (!(flags & DescFlag.LISTED)) {
      this.push(rec, cls, page); // was full
    }
  }

  private releasePage(page: number, rec: number): void {
    this.set(this.desc + page * Desc.WORDS + Desc.KIND, PageKind.FREE);
    this.set(rec + Owner.USED, this.words[rec + Owner.USED] - 1);
    this.pages.free4k(page);
  }

  private releaseRun(first: number, rec: number): void {
    const n = this.words[this.desc + first * Desc.WORDS + Desc.CLASS];
    this.set(this.desc + first * Desc.WORDS + Desc.KIND, PageKind.FREE);
    for (let p = first + 1; p < first + n; p++) {
      this.set(this.desc + p * Desc.WORDS + Desc.KIND, PageKind.FREE);
    }
    this.set(rec + Owner.USED, this.words[rec + Owner.USED] - n);
    for (let p = first; p < first + n; p++) this.pages.free4k(p);
  }

  private push(rec: number, cls: number, page: number): void {
    const hw = rec + Owner.PARTIAL + cls;
    const head = this.words[hw];
    const d = this.desc + page * Desc.WORDS;
    this.set(d + Desc.NEXT, head);
    this.set(d + Desc.PREV, 0);
    if (head !== 0) this.set(this.desc + (head - 1) * Desc.WORDS + Desc.PREV, page + 1);
    this.set(d + Desc.FLAGS, DescFlag.LISTED);
    this.set(hw, page + 1);
  }

  private unlink(rec: number, cls: number, page: number): void {
    const d = this.desc + page * Desc.WORDS;
    const next = this.words[d + Desc.NEXT];
    const prev = this.words[d + Desc.PREV];
    if (prev !== 0) this.set(this.desc + (prev - 1) * Desc.WORDS + Desc.NEXT, next);
    else this.set(rec + Owner.PARTIAL + cls, next);
    if (next !== 0) this.set(this.desc + (next - 1) * Desc.WORDS + Desc.PREV, prev);
    this.set(d + Desc.NEXT, 0);
    this.set(d + Desc.PREV, 0);
    this.set(d + Desc.FLAGS, 0);
  }

  // -------------------------------------------------------------------------
  // Owners and quotas
  // -------------------------------------------------------------------------

  private checkOwnerId(owner: number, where: string): void {
    if (!((owner >>> 0) === owner && owner !== 0xffffffff)) {
      fail(Err.E_BAD_ARGUMENT, where, `owner ${String(owner)} must be an integer in [0, 2^32-2]`, {
        owner: String(owner),
      });
    }
  }

  /** Word index of `owner`'s record; creates it (under the lock) when `create`. -1 if absent. */
  private ownerRecord(owner: number, create: boolean): number {
    this.checkOwnerId(owner, "owner");
    const key = (owner + 1) | 0;
    const mask = this.ownerMask;
    let i = (Math.imul(owner, 0x9e3779b1) >>> 0) & mask;
    for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
      const r = this.owners + i * Owner.WORDS;
      const k = this.words[r + Owner.KEY];
      if (k === key) {
        this.lastOwner = owner;
        this.lastRec = r;
        return r;
      }
      if (k === 0) {
        if (!create) return -1;
        this.mem.fill(r << 2, Owner.WORDS * 4, 0);
        this.set(r + Owner.QUOTA, -1);
        this.set(r + Owner.KEY, key);
        this.set(HeapWord.OWNER_COUNT, this.words[HeapWord.OWNER_COUNT] + 1);
        this.lastOwner = owner;
        this.lastRec = r;
        return r;
      }
    }
    if (!create) return -1;
    return fail(Err.E_LIMIT, "owner", `owner table full (${mask + 1} owners)`, { owner });
  }

  /**
   * Sets `owner`'s quota in pages (a non-negative integer, or Infinity for
   * none). A quota below current use only stops further growth.
   */
  setQuota(owner: number, pages: number): void {
    this.checkOwnerId(owner, "setQuota");
    const unlimited = pages === Infinity;
    if (!unlimited && !(Number.isInteger(pages) && pages >= 0 && pages < 2 ** 31)) {
      fail(Err.E_BAD_ARGUMENT, "setQuota", `pages ${pages} must be an integer >= 0 or Infinity`);
    }
    this.lock();
    try {
      const rec = this.ownerRecord(owner, true);
      this.set(rec + Owner.QUOTA, unlimited ? -1 : pages);
    } finally {
      this.unlock();
    }
  }

  /** Pages charged to `owner` and its quota (Infinity: none). */
  usage(owner: number): { usedPages: number; quotaPages: number } {
    const rec = this.ownerRecord(owner, false);
    if (rec < 0) return { usedPages: 0, quotaPages: Infinity };
    const q = this.words[rec + Owner.QUOTA];
    return { usedPages: this.words[rec + Owner.USED], quotaPages: q === -1 ? Infinity : q };
  }

  // -------------------------------------------------------------------------
  // Refs, ids, pointers
  // -------------------------------------------------------------------------

  /** Byte offset in the PMO of byte `offset` of object `ref` (lock-free). */
  resolveRef(ref: number, offset = 0): number {
    const slot = this.liveSlot(ref, "resolveRef");
    return this.resolveSlot(slot, this.words[this.table + slot * Entry.WORDS + Entry.GEN], offset);
  }

  private resolveSlot(slot: number, gen: number, offset: number): number {
    const e = this.table + slot * Entry.WORDS;
    const words = this.words;
    const size = words[e + Entry.SIZE];
    const addr = words[e + Entry.ADDR];
    if (size === 0 || words[e + Entry.GEN] !== gen) {
      fail(Err.E_NOT_FOUND, "resolve", `object slot ${slot} generation ${gen >>> 0} was freed`, {
        slot,
      });
    }
    if (!((offset >>> 0) === offset && offset < size)) {
      fail(
        Err.E_BAD_ARGUMENT,
        "resolve",
        `offset ${offset} is outside the object's ${size} bytes`,
        {
          offset: String(offset),
          size,
        },
      );
    }
    return addr + offset;
  }

  /** Size in bytes of a live object. */
  sizeOf(ref: number): number {
    return this.words[this.table + this.liveSlot(ref, "sizeOf") * Entry.WORDS + Entry.SIZE];
  }

  /** Owner (cap group id) charged for a live object. */
  ownerOf(ref: number): number {
    return (this.words[this.recOfSlot(this.liveSlot(ref, "ownerOf")) + Owner.KEY] - 1) >>> 0;
  }

  /** A view of a live object's bytes (read it; write through {@link write}). */
  view(ref: number): Uint8Array {
    const slot = this.liveSlot(ref, "view");
    const e = this.table + slot * Entry.WORDS;
    return this.mem.read(this.words[e + Entry.ADDR], this.words[e + Entry.SIZE]);
  }

  /** Writes `data` at `offset` of a live object, through the write barrier. */
  write(ref: number, offset: number, data: Uint8Array): void {
    const slot = this.liveSlot(ref, "write");
    const e = this.table + slot * Entry.WORDS;
    const size = this.words[e + Entry.SIZE];
    if (!((offset >>> 0) === offset && offset + data.length <= size)) {
      fail(Err.E_BAD_ARGUMENT, "write", `[${offset}, +${data.length}) is outside ${size} bytes`);
    }
    this.mem.write(this.words[e + Entry.ADDR] + offset, data);
  }

  /** Writes the 16-byte id of `ref` as 4 u32s (instance, instance, generation, slot) into `out[at..]`. */
  writeId(ref: number, out: Uint32Array, at = 0): void {
    const slot = this.liveSlot(ref, "writeId");
    out[at] = this.inst0;
    out[at + 1] = this.inst1;
    out[at + 2] = this.words[this.table + slot * Entry.WORDS + Entry.GEN];
    out[at + 3] = slot;
  }

  /** The 128-bit id of a live object as 32 hex digits. */
  idOf(ref: number): string {
    const slot = this.liveSlot(ref, "idOf");
    return hex8(this.inst0) + hex8(this.inst1) +
      hex8(this.words[this.table + slot * Entry.WORDS + Entry.GEN]) + hex8(slot);
  }

  /** The ref of a live object from its 32-hex-digit id (E_NOT_FOUND if freed or foreign). */
  refOf(id: string): number {
    if (typeof id !== "string" || !/^[0-9a-f]{32}$/i.test(id)) {
      fail(Err.E_BAD_ARGUMENT, "refOf", `id ${String(id)} is not 32 hex digits`);
    }
    const part = (i: number) => parseInt(id.slice(i * 8, i * 8 + 8), 16);
    return this.refFromId(part(0), part(1), part(2), part(3), "refOf");
  }

  private refFromId(i0: number, i1: number, gen: number, slot: number, where: string): number {
    if (i0 !== this.inst0 || i1 !== this.inst1) {
      fail(Err.E_NOT_FOUND, where, `id belongs to another heap instance`);
    }
    if (slot >= this.words[HeapWord.HIGH_WATER]) {
      fail(Err.E_NOT_FOUND, where, `no object in slot ${slot}`);
    }
    const e = this.table + slot * Entry.WORDS;
    if ((this.words[e + Entry.GEN] >>> 0) !== gen || this.words[e + Entry.SIZE] === 0) {
      fail(Err.E_NOT_FOUND, where, `object slot ${slot} generation ${gen} was freed`, { slot });
    }
    return (gen & REF_GEN_MASK) * SLOT_SCALE + slot;
  }

  /** Encodes a persistent pointer to byte `offset` of `ref` into `out[at..at+24)`. */
  writePointer(ref: number, offset: number, out: Uint8Array, at = 0): void {
    const slot = this.liveSlot(ref, "pointer");
    const size = this.words[this.table + slot * Entry.WORDS + Entry.SIZE];
    if (!((offset >>> 0) === offset && offset < size)) {
      fail(Err.E_BAD_ARGUMENT, "pointer", `offset ${offset} is outside the object's ${size} bytes`);
    }
    const v = new DataView(out.buffer, out.byteOffset + at, POINTER_BYTES);
    v.setUint32(0, this.inst0, true);
    v.setUint32(4, this.inst1, true);
    v.setUint32(8, this.words[this.table + slot * Entry.WORDS + Entry.GEN], true);
    v.setUint32(12, slot, true);
    v.setUint32(16, offset, true);
    v.setUint32(20, 0, true);
  }

  /** A fresh 24-byte persistent pointer to byte `offset` of `ref`. */
  pointer(ref: number, offset = 0): Uint8Array {
    const out = new Uint8Array(POINTER_BYTES);
    this.writePointer(ref, offset, out);
    return out;
  }

  /** Stores a persistent pointer inside the PMO at byte `dst` (e.g. in another object). */
  storePointer(dst: number, ref: number, offset: number): void {
    const tmp = new Uint8Array(POINTER_BYTES);
    this.writePointer(ref, offset, tmp);
    this.mem.write(dst, tmp);
  }

  /**
   * Resolves a persistent pointer (24 bytes at `at` of `ptr`) to a byte
   * offset of the PMO: E_NOT_FOUND for a freed or foreign object,
   * E_BAD_ARGUMENT when the offset is not inside the object.
   */
  resolve(ptr: Uint8Array, at = 0): number {
    if (!(ptr instanceof Uint8Array) || at < 0 || at + POINTER_BYTES > ptr.length) {
      fail(Err.E_BAD_ARGUMENT, "resolve", `a pointer is ${POINTER_BYTES} bytes`);
    }
    const v = new DataView(ptr.buffer, ptr.byteOffset + at, POINTER_BYTES);
    const i0 = v.getUint32(0, true);
    const i1 = v.getUint32(4, true);
    const gen = v.getUint32(8, true);
    const slot = v.getUint32(12, true);
    const offset = v.getUint32(16, true);
    if (i0 !== this.inst0 || i1 !== this.inst1) {
      fail(Err.E_NOT_FOUND, "resolve", "pointer belongs to another heap instance");
    }
    if (slot >= this.words[HeapWord.HIGH_WATER]) {
      fail(Err.E_NOT_FOUND, "resolve", `no slot ${slot}`);
    }
    return this.resolveSlot(slot, gen | 0, offset);
  }

  /** Resolves a pointer stored in the PMO at byte `src` (see {@link storePointer}). */
  resolveAt(src: number): number {
    return this.resolve(this.mem.bytes, src);
  }

  // -------------------------------------------------------------------------
  // Names
  // -------------------------------------------------------------------------

  /** Encodes `name` into the scratch buffer; returns its FNV-1a hash. */
  private encodeName(name: string, where: string): number {
    if (typeof name !== "string" || name.length === 0) {
      fail(Err.E_BAD_ARGUMENT, where, "a name must be a non-empty string");
    }
    const r = encoder.encodeInto(name, this.nameScratch);
    if (r.read !== name.length) {
      fail(Err.E_BAD_ARGUMENT, where, `name is longer than ${NAME_BYTES_MAX} bytes of UTF-8`, {
        chars: name.length,
      });
    }
    const len = r.written;
    this.nameLen = len;
    let h = 0x811c9dc5;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ this.nameScratch[i], 0x01000193);
    return h | 0;
  }

  /** Index of the USED entry of the scratch name; `-(insertAt + 1)` when absent (or -capacity-1 when full). */
  private findName(hash: number): number {
    const words = this.words;
    const mask = this.nameMask;
    const len = this.nameLen;
    let insertAt = -1;
    let i = (hash >>> 0) & mask;
    for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
      const e = this.names + i * Name.WORDS;
      const state = words[e + Name.STATE];
      if (state === NameState.EMPTY) return -((insertAt >= 0 ? insertAt : i) + 1);
      if (state === NameState.TOMBSTONE) {
        if (insertAt < 0) insertAt = i;
        continue;
      }
      if (words[e + Name.HASH] !== hash || words[e + Name.LEN] !== len) continue;
      const at = (e + Name.BYTES) << 2;
      let same = true;
      for (let k = 0; k < len; k++) {
        if (this.mem.bytes[at + k] !== this.nameScratch[k]) {
          same = false;
          break;
        }
      }
      if (same) return i;
    }
    return -((insertAt >= 0 ? insertAt : mask + 1) + 1);
  }

  /**
   * Allocates a named object (Temporality's name-based allocation): E_EXISTS
   * if the name is taken, E_BAD_ARGUMENT for an empty or over-long name,
   * E_LIMIT when the name table is full; otherwise as {@link alloc}.
   */
  create(name: string, size: number, owner: number): number {
    const hash = this.encodeName(name, "create");
    if (!(size >= 1 && size <= this.maxSize && (size | 0) === size)) this.badSize("create", size);
    this.checkOwnerId(owner, "create");
    this.lock();
    try {
      const found = this.findName(hash);
      if (found >= 0) fail(Err.E_EXISTS, "create", `name "${name}" exists`, { name });
      const idx = -found - 1;
      const cap = this.nameMask + 1;
      if (idx > this.nameMask || this.words[HeapWord.NAME_COUNT] >= cap - 1) {
        fail(Err.E_LIMIT, "create", `name table full (${cap} names)`, { capacity: cap });
      }
      const ref = this.allocLocked(size, owner, idx + 1);
      const slot = ref % SLOT_SCALE;
      const e = this.names + idx * Name.WORDS;
      const wasTomb = this.words[e + Name.STATE] === NameState.TOMBSTONE;
      this.set(e + Name.HASH, hash);
      this.set(e + Name.LEN, this.nameLen);
      this.set(e + Name.SLOT, slot);
      this.set(e + Name.GEN, this.words[this.table + slot * Entry.WORDS + Entry.GEN]);
      this.mem.write((e + Name.BYTES) << 2, this.nameScratch.subarray(0, this.nameLen));
      this.set(e + Name.STATE, NameState.USED); // publishes the name
      this.set(HeapWord.NAME_COUNT, this.words[HeapWord.NAME_COUNT] + 1);
      if (wasTomb) this.set(HeapWord.NAME_TOMBSTONES, this.words[HeapWord.NAME_TOMBSTONES] - 1);
      return ref;
    } finally {
      this.unlock();
    }
  }

  /** The ref of the object named `name` (E_NOT_FOUND). */
  open(name: string): number {
    const hash = this.encodeName(name, "open");
    this.lock();
    try {
      const i = this.findName(hash);
      if (i < 0) fail(Err.E_NOT_FOUND, "open", `no object named "${name}"`, { name });
      const e = this.names + i * Name.WORDS;
      const slot = this.words[e + Name.SLOT];
      return (this.words[e + Name.GEN] & REF_GEN_MASK) * SLOT_SCALE + slot;
    } finally {
      this.unlock();
    }
  }

  /** Deletes a name and frees its object (E_NOT_FOUND, E_NOT_OWNER). */
  delete(name: string, owner: number): void {
    const hash = this.encodeName(name, "delete");
    this.lock();
    try {
      const i = this.findName(hash);
      if (i < 0) fail(Err.E_NOT_FOUND, "delete", `no object named "${name}"`, { name });
      const slot = this.words[this.names + i * Name.WORDS + Name.SLOT];
      this.checkOwner(slot, owner, "delete");
      this.freeLocked(slot); // drops the name
    } finally {
      this.unlock();
    }
  }

  /** Marks name entry `i` (of object `slot`) deleted. */
  private dropName(i: number, slot: number): void {
    const e = this.names + i * Name.WORDS;
    if (this.words[e + Name.STATE] !== NameState.USED || this.words[e + Name.SLOT] !== slot) return;
    this.set(e + Name.STATE, NameState.TOMBSTONE);
    this.set(HeapWord.NAME_COUNT, this.words[HeapWord.NAME_COUNT] - 1);
    this.set(HeapWord.NAME_TOMBSTONES, this.words[HeapWord.NAME_TOMBSTONES] + 1);
  }

  /** Every name, in table order. */
  listNames(): string[] {
    const out: string[] = [];
    for (let i = 0; i <= this.nameMask; i++) {
      const e = this.names + i * Name.WORDS;
      if (this.words[e + Name.STATE] !== NameState.USED) continue;
      out.push(
        decoder.decode(
          this.mem.bytes.slice(
            (e + Name.BYTES) << 2,
            ((e + Name.BYTES) << 2) + this.words[e + Name.LEN],
          ),
        ),
      );
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Statistics, recovery, checking
  // -------------------------------------------------------------------------

  /** Counts (scans the tables). */
  stats(): HeapStats {
    const words = this.words;
    const hw = words[HeapWord.HIGH_WATER];
    let live = 0;
    for (let s = 0; s < hw; s++) if (words[this.table + s * Entry.WORDS + Entry.SIZE] !== 0) live++;
    let slab = 0;
    let large = 0;
    for (let p = 0; p < this.dataPages; p++) {
      const k = words[this.desc + p * Desc.WORDS + Desc.KIND];
      if (k === PageKind.SLAB) slab++;
      else if (k === PageKind.LARGE || k === PageKind.LARGE_TAIL) large++;
    }
    return {
      liveObjects: live,
      names: words[HeapWord.NAME_COUNT],
      owners: words[HeapWord.OWNER_COUNT],
      dataPages: this.dataPages,
      freePages: this.pages.freePages(),
      slabPages: slab,
      largePages: large,
      maxObjects: this.maxObjects,
      highWater: hw,
    };
  }

  /**
   * After an unclean stop: breaks the writer lock, recovers the page
   * allocator, then rebuilds slab bitmaps, live counts, partial lists,
   * quota usage and the free-slot list from the object table, reclaims
   * unreachable pages and drops names and objects whose creation or deletion
   * was cut short. No other handle may be in use.
   */
  recover(): HeapRecovery {
    const words = this.words;
    const lockBroken = words[HeapWord.LOCK] !== 0 ? 1 : 0;
    this.mem.atomicStore(HeapWord.LOCK, 0);
    this.lockDepth = 0;
    this.lastOwner = NaN;
    const llfree = this.pages.recover();
    const P = this.dataPages;
    let objectsDropped = 0;
    let pagesReclaimed = 0;

    // 1. Pages: a descriptor only counts if the allocator agrees; reset slab state.
    const headOf = new Int32Array(P).fill(-1);
    for (let p = 0; p < P; p++) {
      const d = this.desc + p * Desc.WORDS;
      const kind = words[d + Desc.KIND];
      if (kind !== PageKind.FREE && !this.pages.isAllocated(p)) {
        this.set(d + Desc.KIND, PageKind.FREE);
        continue;
      }
      if (kind === PageKind.SLAB) {
        const cls = words[d + Desc.CLASS];
        if (!(cls >= 0 && cls < CLASS_COUNT)) {
          this.set(d + Desc.KIND, PageKind.FREE);
          continue;
        }
        this.mem.fill((d + Desc.LIVE) << 2, (Desc.WORDS - Desc.LIVE) * 4, 0);
        for (let b = CLASS_CAP[cls]; b < CLASS_WORDS[cls] * 32; b++) {
          this.set(d + Desc.BITMAP + (b >> 5), words[d + Desc.BITMAP + (b >> 5)] | (1 << (b & 31)));
        }
      } else if (kind === PageKind.LARGE) {
        const n = words[d + Desc.CLASS];
        let ok = n >= 1 && p + n <= P;
        for (let q = p + 1; ok && q < p + n; q++) {
          const dq = this.desc + q * Desc.WORDS;
          ok = words[dq + Desc.KIND] === PageKind.LARGE_TAIL && words[dq + Desc.CLASS] === p &&
            this.pages.isAllocated(q);
        }
        if (ok) {
          headOf[p] = p;
          this.set(d + Desc.LIVE, 0);
        } else this.set(d + Desc.KIND, PageKind.FREE);
      }
    }
    // 2. Objects: the table is the truth; drop entries that point at nothing valid.
    const hw = words[HeapWord.HIGH_WATER];
    for (let s = 0; s < hw; s++) {
      const e = this.table + s * Entry.WORDS;
      const size = words[e + Entry.SIZE];
      if (size === 0) continue;
      const addr = words[e + Entry.ADDR];
      const page = this.pageOfAddr(addr);
      const d = this.desc + page * Desc.WORDS;
      const rel = addr - this.dataByte - page * PAGE_BYTES;
      let ok = addr >= this.dataByte && page < P && size >= 1 && size <= this.maxSize;
      if (ok && size <= SMALL_OBJECT_BYTES_MAX) {
        const cls = words[d + Desc.CLASS];
        const idx = (rel / CLASS_SIZE[cls]) | 0;
        const bw = d + Desc.BITMAP + (idx >> 5);
        const bit = 1 << (idx & 31);
        ok = words[d + Desc.KIND] === PageKind.SLAB && CLASS_SIZE[cls] >= size &&
          rel % CLASS_SIZE[cls] === 0 && idx < CLASS_CAP[cls] && (words[bw] & bit) === 0;
        if (ok) this.set(bw, words[bw] | bit);
      } else if (ok) {
        ok = rel === 0 && headOf[page] === page && words[d + Desc.LIVE] === 0 &&
          words[d + Desc.CLASS] >= Math.ceil(size / PAGE_BYTES);
        if (ok) this.set(d + Desc.LIVE, 1);
      }
      if (!ok) {
        this.set(e + Entry.SIZE, 0);
        this.set(e + Entry.GEN, words[e + Entry.GEN] + 1);
        objectsDropped++;
      }
    }
    // 3. Owners: usage and lists from the pages; reclaim unreachable pages.
    for (let i = 0; i <= this.ownerMask; i++) {
      const r = this.owners + i * Owner.WORDS;
      if (words[r + Owner.KEY] === 0) continue;
      this.mem.fill((r + Owner.USED) << 2, (Owner.WORDS - Owner.USED) * 4, 0);
    }
    for (let p = 0; p < P; p++) {
      const d = this.desc + p * Desc.WORDS;
      const kind = words[d + Desc.KIND];
      const rec = words[d + Desc.OWNER];
      const recOk = rec >= this.owners && (rec - this.owners) % Owner.WORDS === 0 &&
        rec < this.owners + (this.ownerMask + 1) * Owner.WORDS && words[rec + Owner.KEY] !== 0;
      const slabLive = kind === PageKind.SLAB ? this.slabLive(d, words[d + Desc.CLASS]) : 0;
      if (slabLive > 0 && recOk) {
        this.set(rec + Owner.USED, words[rec + Owner.USED] + 1);
        const cls = words[d + Desc.CLASS];
        if (slabLive < CLASS_CAP[cls]) this.push(rec, cls, p);
      } else if (kind === PageKind.LARGE && words[d + Desc.LIVE] === 1 && recOk) {
        this.set(rec + Owner.USED, words[rec + Owner.USED] + words[d + Desc.CLASS]);
        p += words[d + Desc.CLASS] - 1;
      } else if (this.pages.isAllocated(p)) {
        // Taken but unreachable: a slab emptied or a run or page whose owner never got it.
        if (slabLive > 0) {
          // Objects on a page without a valid owner record: drop them.
          objectsDropped += this.dropObjectsOn(p);
        }
        this.set(d + Desc.KIND, PageKind.FREE);
        this.pages.free4k(p);
        pagesReclaimed++;
      } else if (kind !== PageKind.FREE) {
        this.set(d + Desc.KIND, PageKind.FREE);
      }
    }
    // 4. Free slots, lowest first.
    let head = 0;
    for (let s = hw - 1; s >= 0; s--) {
      const e = this.table + s * Entry.WORDS;
      if (words[e + Entry.SIZE] !== 0) continue;
      this.set(e + Entry.AUX, head);
      head = s + 1;
    }
    this.set(HeapWord.FREE_SLOT, head);
    // 5. Names: a name needs its object, an object marked named needs its name.
    let namesDropped = 0;
    let count = 0;
    let tombs = 0;
    for (let i = 0; i <= this.nameMask; i++) {
      const e = this.names + i * Name.WORDS;
      const state = words[e + Name.STATE];
      if (state === NameState.TOMBSTONE) tombs++;
      if (state !== NameState.USED) continue;
      const slot = words[e + Name.SLOT];
      const te = this.table + slot * Entry.WORDS;
      if (
        slot >= 0 && slot < hw && words[te + Entry.SIZE] !== 0 &&
        words[te + Entry.GEN] === words[e + Name.GEN] && words[te + Entry.AUX] === i + 1
      ) {
        count++;
      } else {
        this.set(e + Name.STATE, NameState.TOMBSTONE);
        tombs++;
        namesDropped++;
      }
    }
    this.set(HeapWord.NAME_COUNT, count);
    this.set(HeapWord.NAME_TOMBSTONES, tombs);
    let orphansFreed = 0;
    for (let s = 0; s < hw; s++) {
      const e = this.table + s * Entry.WORDS;
      const link = words[e + Entry.AUX];
      if (words[e + Entry.SIZE] === 0 || link === 0) continue;
      const ne = this.names + (link - 1) * Name.WORDS;
      const named = link - 1 <= this.nameMask && words[ne + Name.STATE] === NameState.USED &&
        words[ne + Name.SLOT] === s && words[ne + Name.GEN] === words[e + Entry.GEN];
      if (!named) {
        this.set(e + Entry.AUX, 0);
        this.lock();
        try {
          this.freeLocked(s);
        } finally {
          this.unlock();
        }
        orphansFreed++;
      }
    }
    return { llfree, objectsDropped, orphansFreed, pagesReclaimed, namesDropped, lockBroken };
  }

  private dropObjectsOn(page: number): number {
    let n = 0;
    const hw = this.words[HeapWord.HIGH_WATER];
    for (let s = 0; s < hw; s++) {
      const e = this.table + s * Entry.WORDS;
      if (
        this.words[e + Entry.SIZE] !== 0 && this.pageOfAddr(this.words[e + Entry.ADDR]) === page
      ) {
        this.set(e + Entry.SIZE, 0);
        this.set(e + Entry.GEN, this.words[e + Entry.GEN] + 1);
        n++;
      }
    }
    return n;
  }

  /**
   * Asserts every invariant (E_INTERNAL naming the first broken one): the
   * page allocator's counters, pages vs descriptors, slab bitmaps and live
   * counts vs the object table, lists, quota usage, free slots and names.
   * Only meaningful while no mutation is in progress.
   */
  check(): void {
    const W = "ObjectHeap.check";
    const words = this.words;
    this.pages.check();
    assert(words[HeapWord.LOCK] === 0 || this.lockDepth > 0, W, "writer lock is held");
    const P = this.dataPages;
    const hw = words[HeapWord.HIGH_WATER];
    const live = new Int32Array(P);
    const large = new Uint8Array(P);
    for (let s = 0; s < hw; s++) {
      const e = this.table + s * Entry.WORDS;
      const size = words[e + Entry.SIZE];
      if (size === 0) continue;
      const addr = words[e + Entry.ADDR];
      const page = this.pageOfAddr(addr);
      assert(addr >= this.dataByte && page < P, W, `slot ${s}: address ${addr} outside data`);
      const d = this.desc + page * Desc.WORDS;
      if (size <= SMALL_OBJECT_BYTES_MAX) {
        assert(words[d + Desc.KIND] === PageKind.SLAB, W, `slot ${s}: page ${page} is no slab`);
        const cls = words[d + Desc.CLASS];
        const rel = addr - this.dataByte - page * PAGE_BYTES;
        assert(CLASS_SIZE[cls] >= size && rel % CLASS_SIZE[cls] === 0, W, `slot ${s}: bad class`);
        const idx = rel / CLASS_SIZE[cls];
        assert(words[d + Desc.BITMAP + (idx >> 5)] & (1 << (idx & 31)), W, `slot ${s}: bit clear`);
        live[page]++;
      } else {
        assert(words[d + Desc.KIND] === PageKind.LARGE, W, `slot ${s}: page ${page} is no run`);
        assert(large[page] === 0, W, `slot ${s}: run ${page} shared`);
        large[page] = 1;
      }
    }
    const used = new Map<number, number>();
    for (let p = 0; p < P; p++) {
      const d = this.desc + p * Desc.WORDS;
      const kind = words[d + Desc.KIND];
      assert(
        (kind !== PageKind.FREE) === this.pages.isAllocated(p),
        W,
        `page ${p}: kind ${kind} but allocator says ${this.pages.isAllocated(p)}`,
      );
      const rec = words[d + Desc.OWNER];
      if (kind === PageKind.SLAB) {
        const cls = words[d + Desc.CLASS];
        const bits = this.slabLive(d, cls);
        assert(bits === live[p], W, `slab ${p}: bitmap has ${bits} bits, ${live[p]} objects`);
        const flags = words[d + Desc.FLAGS];
        const isCur = words[rec + Owner.CUR + cls] === p + 1;
        assert(((flags & DescFlag.CURRENT) !== 0) === isCur, W, `slab ${p}: CURRENT flag ${flags}`);
        const shouldList = !isCur && live[p] > 0 && live[p] < CLASS_CAP[cls];
        assert(
          ((flags & DescFlag.LISTED) !== 0) === shouldList,
          W,
          `slab ${p}: LISTED flag ${flags}`,
        );
        assert(isCur || live[p] > 0, W, `slab ${p}: empty but kept`);
        used.set(rec, (used.get(rec) ?? 0) + 1);
      } else if (kind === PageKind.LARGE) {
        assert(large[p] === 1, W, `run ${p}: no object`);
        used.set(rec, (used.get(rec) ?? 0) + words[d + Desc.CLASS]);
      } else if (kind === PageKind.LARGE_TAIL) {
        const h = words[d + Desc.CLASS];
        assert(
          words[this.desc + h * Desc.WORDS + Desc.KIND] === PageKind.LARGE,
          W,
          `tail ${p}: head ${h}`,
        );
      }
    }
    for (let i = 0; i <= this.ownerMask; i++) {
      const r = this.owners + i * Owner.WORDS;
      if (words[r + Owner.KEY] === 0) continue;
      assert(
        words[r + Owner.USED] === (used.get(r) ?? 0),
        W,
        `owner ${words[r + Owner.KEY] - 1}: used ${words[r + Owner.USED]} != ${used.get(r) ?? 0}`,
      );
      for (let c = 0; c < CLASS_COUNT; c++) {
        let prev = 0;
        let n = 0;
        for (
          let p = words[r + Owner.PARTIAL + c];
          p !== 0;
          p = words[this.desc + (p - 1) * Desc.WORDS + Desc.NEXT]
        ) {
          const d = this.desc + (p - 1) * Desc.WORDS;
          assert(
            words[d + Desc.PREV] === prev,
            W,
            `partial list of class ${c}: bad prev at ${p - 1}`,
          );
          assert(
            words[d + Desc.CLASS] === c && words[d + Desc.OWNER] === r,
            W,
            `partial list: foreign slab ${p - 1}`,
          );
          assert(++n <= P, W, "partial list has a cycle");
          prev = p;
        }
      }
    }
    let free = 0;
    for (
      let s = words[HeapWord.FREE_SLOT];
      s !== 0;
      s = words[this.table + (s - 1) * Entry.WORDS + Entry.AUX]
    ) {
      assert(
        s - 1 < hw && words[this.table + (s - 1) * Entry.WORDS + Entry.SIZE] === 0,
        W,
        `free slot ${s - 1} is live`,
      );
      assert(++free <= hw, W, "free-slot list has a cycle");
    }
    let liveCount = 0;
    for (let s = 0; s < hw; s++) {
      if (words[this.table + s * Entry.WORDS + Entry.SIZE] !== 0) liveCount++;
    }
    assert(
      free + liveCount === hw,
      W,
      `${free} free + ${liveCount} live slots != high water ${hw}`,
    );
    let names = 0;
    for (let i = 0; i <= this.nameMask; i++) {
      const e = this.names + i * Name.WORDS;
      if (words[e + Name.STATE] !== NameState.USED) continue;
      const te = this.table + words[e + Name.SLOT] * Entry.WORDS;
      assert(
        words[te + Entry.SIZE] !== 0 && words[te + Entry.AUX] === i + 1 &&
          words[te + Entry.GEN] === words[e + Name.GEN],
        W,
        `name ${i}: object gone`,
      );
      names++;
    }
    assert(
      names === words[HeapWord.NAME_COUNT],
      W,
      `name count ${words[HeapWord.NAME_COUNT]} != ${names}`,
    );
    for (let s = 0; s < hw; s++) {
      const e = this.table + s * Entry.WORDS;
      const link = words[e + Entry.AUX];
      if (words[e + Entry.SIZE] === 0 || link === 0) continue;
      const ne = this.names + (link - 1) * Name.WORDS;
      assert(
        words[ne + Name.STATE] === NameState.USED && words[ne + Name.SLOT] === s,
        W,
        `slot ${s}: name ${link - 1} missing`,
      );
    }
  }
}
