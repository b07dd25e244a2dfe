/**
 * HeapCore: one handle's view of an object heap, shared by the heap's
 * modules: the section offsets read from the header once, the LLFree
 * handle of the data pages, the writer lock (nestable per handle) and the
 * single write path {@link HeapCore.set}. Modules are functions over a
 * HeapCore: owners.ts, slabs.ts, table.ts, names.ts, pointers.ts,
 * recovery.ts, inspect.ts; servers/memory/objects.ts is the public handle.
 *
 * @module
 */

import { Err } from "../../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { LLFree } from "../llfree.ts";
import { fail, HeapWord, NAME_BYTES_MAX } from "./layout.ts";

/** A handle's layout, lock state and scratch space (see the module map). */
export class HeapCore {
  /** The PMO. */
  readonly mem: PersistentMemory;
  /** `mem.words` (read directly; every write goes through {@link set}). */
  readonly words: Int32Array;
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
  /** Word index of object-table entry 0. */
  readonly table: number;
  /** Word index of page descriptor 0. */
  readonly desc: number;
  /** Word index of owner record 0. */
  readonly owners: number;
  /** Word index of name entry 0. */
  readonly names: number;
  /** Owner records - 1 (a power of two - 1). */
  readonly ownerMask: number;
  /** Name entries - 1 (a power of two - 1). */
  readonly nameMask: number;
  /** Largest object in bytes. */
  readonly maxSize: number;
  /** The heap's instance id, low and high u32. */
  readonly inst0: number;
  readonly inst1: number;
  /** UTF-8 of the name being looked up (names.ts). */
  readonly nameScratch = new Uint8Array(NAME_BYTES_MAX);
  /** Bytes of {@link nameScratch} in use. */
  nameLen = 0;
  /** Writer-lock nesting depth of this handle. */
  lockDepth = 0;
  /** Owner of the last record looked up (NaN: none), for the allocation fast path. */
  lastOwner = NaN;
  /** Record of {@link lastOwner}. */
  lastRec = -1;

  private readonly lockToken: number;

  /** A handle on the formatted heap in `mem`, using LLFree worker slot `worker`. */
  constructor(mem: PersistentMemory, worker: number) {
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
    this.pages = LLFree.attach(mem, worker, w[HeapWord.LLFREE_BYTE]);
  }

  /** Takes the writer lock (nestable); E_TIMEOUT after 5 s held by another worker. */
  lock(): void {
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

  /** Releases one level of the writer lock. */
  unlock(): void {
    if (--this.lockDepth === 0) this.mem.atomicStore(HeapWord.LOCK, 0);
  }

  /** Writes word `word` of the PMO through the write barrier. */
  set(word: number, v: number): void {
    this.mem.setU32(word << 2, v);
  }
}
