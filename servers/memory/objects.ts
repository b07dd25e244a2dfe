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
 * ## Modules (servers/memory/heap/)
 *
 * - this file: {@link ObjectHeap}, the public handle; each call checks its
 *   arguments, takes the writer lock if it mutates, and calls the modules.
 * - `layout.ts`: constants, size classes, record layouts, formatting.
 * - `core.ts`: a handle's layout, writer lock and write path (HeapCore).
 * - `owners.ts`, `slabs.ts`, `table.ts`, `names.ts`: owner records and
 *   quotas, data pages (slabs and runs), the object table, the name table.
 * - `pointers.ts`: refs, ids and persistent pointers.
 * - `recovery.ts`: {@link ObjectHeap.recover} as named steps.
 * - `inspect.ts`: statistics and the invariant check.
 *
 * @module
 */

import { Err } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import type { LLFree } from "./llfree.ts";
import { HeapCore } from "./heap/core.ts";
import { checkHeap, heapStats } from "./heap/inspect.ts";
import {
  type AttachOptions,
  Entry,
  fail,
  formatHeap,
  HEAP_MAGIC,
  HEAP_VERSION,
  type HeapOptions,
  type HeapStats,
  HeapWord,
  Owner,
  POINTER_BYTES,
  SLOT_SCALE,
} from "./heap/layout.ts";
import { encodeName, findName, listNames, nameRef, nameSlot, publishName } from "./heap/names.ts";
import { checkOwnerId, ownerRecord, usage } from "./heap/owners.ts";
import { idOf, refOf, resolvePointer, resolveRef, writeId, writePointer } from "./heap/pointers.ts";
import { type HeapRecovery, recoverHeap } from "./heap/recovery.ts";
import { allocLocked, badSize, checkOwner, freeLocked, liveSlot, recOfSlot } from "./heap/table.ts";

export {
  HEAP_MAGIC,
  HEAP_VERSION,
  HeapWord,
  NAME_BYTES_MAX,
  OBJECT_BYTES_MAX,
  OBJECT_ID_BYTES,
  OBJECTS_MAX,
  PageKind,
  POINTER_BYTES,
  SIZE_CLASSES,
  SMALL_OBJECT_BYTES_MAX,
} from "./heap/layout.ts";
export type { AttachOptions, HeapOptions, HeapStats } from "./heap/layout.ts";
export type { HeapRecovery } from "./heap/recovery.ts";

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

  private readonly h: HeapCore;

  private constructor(mem: PersistentMemory, worker: number) {
    const h = new HeapCore(mem, worker);
    this.h = h;
    this.mem = mem;
    this.pages = h.pages;
    this.worker = worker;
    this.maxObjects = h.maxObjects;
    this.dataPages = h.dataPages;
    this.dataByte = h.dataByte;
    this.instance = [h.inst0, h.inst1];
  }

  /**
   * Formats an empty heap over the whole PMO (allocator metadata, tables and
   * data pages) and returns worker 0's handle.
   */
  static format(mem: PersistentMemory, options: HeapOptions = {}): ObjectHeap {
    formatHeap(mem, options);
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

  /**
   * Takes the writer lock for a batch of calls (nestable): mutations until
   * the matching {@link releaseWriter} skip the per-call lock, which costs
   * two atomic operations per call. Hold it for one batch of requests, never
   * across a safe point where the worker may be frozen for a checkpoint.
   */
  acquireWriter(): void {
    this.h.lock();
  }

  /** Releases what {@link acquireWriter} took. */
  releaseWriter(): void {
    if (this.h.lockDepth === 0) fail(Err.E_BAD_ARGUMENT, "releaseWriter", "writer lock not held");
    this.h.unlock();
  }

  /** Runs `fn` holding the writer lock (see {@link acquireWriter}). */
  batch<T>(fn: () => T): T {
    this.h.lock();
    try {
      return fn();
    } finally {
      this.h.unlock();
    }
  }

  // -------------------------------------------------------------------------
  // Objects
  // -------------------------------------------------------------------------

  /**
   * Allocates `size` bytes (integer, 1..64 KiB, else E_BAD_ARGUMENT) charged
   * to `owner` (a cap group id, u32). Returns a ref. E_NO_MEMORY when the
   * owner's quota or the heap is exhausted, E_LIMIT when the object table is
   * full. The bytes are not zeroed.
   */
  alloc(size: number, owner: number): number {
    const h = this.h;
    if (!(size >= 1 && size <= h.maxSize && (size | 0) === size)) badSize(h, "alloc", size);
    h.lock();
    try {
      return allocLocked(h, size, owner, 0);
    } finally {
      h.unlock();
    }
  }

  /**
   * Frees an object. E_NOT_FOUND for a ref that never named an object,
   * E_DOUBLE_FREE for one already freed, E_NOT_OWNER if `owner` did not
   * allocate it. A named object loses its name too.
   */
  free(ref: number, owner: number): void {
    checkOwnerId(owner, "free");
    this.h.lock();
    try {
      const slot = liveSlot(this.h, ref, "free", true);
      checkOwner(this.h, slot, owner, "free");
      freeLocked(this.h, slot);
    } finally {
      this.h.unlock();
    }
  }

  /** Size in bytes of a live object. */
  sizeOf(ref: number): number {
    return this.h.words[this.h.table + liveSlot(this.h, ref, "sizeOf") * Entry.WORDS + Entry.SIZE];
  }

  /** Owner (cap group id) charged for a live object. */
  ownerOf(ref: number): number {
    return (this.h.words[recOfSlot(this.h, liveSlot(this.h, ref, "ownerOf")) + Owner.KEY] - 1) >>>
      0;
  }

  /** A view of a live object's bytes (read it; write through {@link write}). */
  view(ref: number): Uint8Array {
    const slot = liveSlot(this.h, ref, "view");
    const e = this.h.table + slot * Entry.WORDS;
    return this.h.mem.read(this.h.words[e + Entry.ADDR], this.h.words[e + Entry.SIZE]);
  }

  /** Writes `data` at `offset` of a live object, through the write barrier. */
  write(ref: number, offset: number, data: Uint8Array): void {
    const slot = liveSlot(this.h, ref, "write");
    const e = this.h.table + slot * Entry.WORDS;
    const size = this.h.words[e + Entry.SIZE];
    if (!((offset >>> 0) === offset && offset + data.length <= size)) {
      fail(Err.E_BAD_ARGUMENT, "write", `[${offset}, +${data.length}) is outside ${size} bytes`);
    }
    this.h.mem.write(this.h.words[e + Entry.ADDR] + offset, data);
  }

  // -------------------------------------------------------------------------
  // Owners and quotas
  // -------------------------------------------------------------------------

  /**
   * Sets `owner`'s quota in pages (a non-negative integer, or Infinity for
   * none). A quota below current use only stops further growth.
   */
  setQuota(owner: number, pages: number): void {
    checkOwnerId(owner, "setQuota");
    const unlimited = pages === Infinity;
    if (!unlimited && !(Number.isInteger(pages) && pages >= 0 && pages < 2 ** 31)) {
      fail(Err.E_BAD_ARGUMENT, "setQuota", `pages ${pages} must be an integer >= 0 or Infinity`);
    }
    this.h.lock();
    try {
      const rec = ownerRecord(this.h, owner, true);
      this.h.set(rec + Owner.QUOTA, unlimited ? -1 : pages);
    } finally {
      this.h.unlock();
    }
  }

  /** Pages charged to `owner` and its quota (Infinity: none). */
  usage(owner: number): { usedPages: number; quotaPages: number } {
    return usage(this.h, owner);
  }

  // -------------------------------------------------------------------------
  // Refs, ids, pointers
  // -------------------------------------------------------------------------

  /** Byte offset in the PMO of byte `offset` of object `ref` (lock-free). */
  resolveRef(ref: number, offset = 0): number {
    return resolveRef(this.h, ref, offset);
  }

  /** Writes the 16-byte id of `ref` as 4 u32s (instance, instance, generation, slot) into `out[at..]`. */
  writeId(ref: number, out: Uint32Array, at = 0): void {
    writeId(this.h, ref, out, at);
  }

  /** The 128-bit id of a live object as 32 hex digits. */
  idOf(ref: number): string {
    return idOf(this.h, ref);
  }

  /** The ref of a live object from its 32-hex-digit id (E_NOT_FOUND if freed or foreign). */
  refOf(id: string): number {
    return refOf(this.h, id);
  }

  /** Encodes a persistent pointer to byte `offset` of `ref` into `out[at..at+24)`. */
  writePointer(ref: number, offset: number, out: Uint8Array, at = 0): void {
    writePointer(this.h, ref, offset, out, at);
  }

  /** A fresh 24-byte persistent pointer to byte `offset` of `ref`. */
  pointer(ref: number, offset = 0): Uint8Array {
    const out = new Uint8Array(POINTER_BYTES);
    writePointer(this.h, ref, offset, out);
    return out;
  }

  /** Stores a persistent pointer inside the PMO at byte `dst` (e.g. in another object). */
  storePointer(dst: number, ref: number, offset: number): void {
    const tmp = new Uint8Array(POINTER_BYTES);
    writePointer(this.h, ref, offset, tmp);
    this.h.mem.write(dst, tmp);
  }

  /**
   * Resolves a persistent pointer (24 bytes at `at` of `ptr`) to a byte
   * offset of the PMO: E_NOT_FOUND for a freed or foreign object,
   * E_BAD_ARGUMENT when the offset is not inside the object.
   */
  resolve(ptr: Uint8Array, at = 0): number {
    return resolvePointer(this.h, ptr, at);
  }

  /** Resolves a pointer stored in the PMO at byte `src` (see {@link storePointer}). */
  resolveAt(src: number): number {
    return this.resolve(this.h.mem.bytes, src);
  }

  // -------------------------------------------------------------------------
  // Names
  // -------------------------------------------------------------------------

  /**
   * Allocates a named object (Temporality's name-based allocation): E_EXISTS
   * if the name is taken, E_BAD_ARGUMENT for an empty or over-long name,
   * E_LIMIT when the name table is full; otherwise as {@link alloc}.
   */
  create(name: string, size: number, owner: number): number {
    const hash = encodeName(this.h, name, "create");
    if (!(size >= 1 && size <= this.h.maxSize && (size | 0) === size)) {
      badSize(this.h, "create", size);
    }
    checkOwnerId(owner, "create");
    this.h.lock();
    try {
      const found = findName(this.h, hash);
      if (found >= 0) fail(Err.E_EXISTS, "create", `name "${name}" exists`, { name });
      const idx = -found - 1;
      const cap = this.h.nameMask + 1;
      if (idx > this.h.nameMask || this.h.words[HeapWord.NAME_COUNT] >= cap - 1) {
        fail(Err.E_LIMIT, "create", `name table full (${cap} names)`, { capacity: cap });
      }
      const ref = allocLocked(this.h, size, owner, idx + 1);
      publishName(this.h, idx, hash, ref % SLOT_SCALE);
      return ref;
    } finally {
      this.h.unlock();
    }
  }

  /** The ref of the object named `name` (E_NOT_FOUND). */
  open(name: string): number {
    const hash = encodeName(this.h, name, "open");
    this.h.lock();
    try {
      const i = findName(this.h, hash);
      if (i < 0) fail(Err.E_NOT_FOUND, "open", `no object named "${name}"`, { name });
      return nameRef(this.h, i);
    } finally {
      this.h.unlock();
    }
  }

  /** Deletes a name and frees its object (E_NOT_FOUND, E_NOT_OWNER). */
  delete(name: string, owner: number): void {
    const hash = encodeName(this.h, name, "delete");
    this.h.lock();
    try {
      const i = findName(this.h, hash);
      if (i < 0) fail(Err.E_NOT_FOUND, "delete", `no object named "${name}"`, { name });
      const slot = nameSlot(this.h, i);
      checkOwner(this.h, slot, owner, "delete");
      freeLocked(this.h, slot); // drops the name
    } finally {
      this.h.unlock();
    }
  }

  /** Every name, in table order. */
  listNames(): string[] {
    return listNames(this.h);
  }

  // -------------------------------------------------------------------------
  // Statistics, recovery, checking
  // -------------------------------------------------------------------------

  /** Counts (scans the tables). */
  stats(): HeapStats {
    return heapStats(this.h);
  }

  /**
   * After an unclean stop: breaks the writer lock, recovers the page
   * allocator, then rebuilds slab bitmaps, live counts, partial lists,
   * quota usage and the free-slot list from the object table, reclaims
   * unreachable pages and drops names and objects whose creation or deletion
   * was cut short. No other handle may be in use.
   */
  recover(): HeapRecovery {
    return recoverHeap(this.h);
  }

  /**
   * Asserts every invariant (E_INTERNAL naming the first broken one): the
   * page allocator's counters, pages vs descriptors, slab bitmaps and live
   * counts vs the object table, lists, quota usage, free slots and names.
   * Only meaningful while no mutation is in progress.
   */
  check(): void {
    checkHeap(this.h);
  }
}
