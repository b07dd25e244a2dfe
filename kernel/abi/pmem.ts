/**
 * Persistent-memory access with the dirty-page write barrier.
 *
 * There is no MMU in this model, so every write to a memory object goes
 * through {@link PersistentMemory}: it marks the written pages DIRTY in the
 * PMO's page-state buffer, which the checkpoint manager reads during the
 * pause. The slow path, which a page takes once between two cuts (CLEAN or
 * COW_PENDING to DIRTY), then sets the page's chunk and the PMO in the dirty
 * summary (`PmoBuffers.dirtySummary`), so the pause reads the states of the
 * dirtied chunks only; the fast path (the page is DIRTY already) does not
 * touch it. A page in state COW_PENDING (captured by a copy-on-write checkpoint
 * but not yet copied) is first saved to the backup buffer, so the checkpoint
 * sees the contents it captured. Reads need no barrier. Every typed store
 * goes through one barrier (`barrier`), which looks at the pages of its first
 * and last byte, so a store across a page boundary marks both.
 *
 * Debug mode (`debugBarrier`, see kernel/page_capture.ts) compares every page
 * that is not DIRTY against the last checkpoint's copy to catch writes that
 * skipped this barrier.
 *
 * @module
 */

import { Err, TardigradeError } from "./errors.ts";
import { PAGE_BYTES } from "./limits.ts";
import {
  DIRTY_CHUNK_SHIFT,
  dirtySummaryBytes,
  PageState,
  type PmoBuffers,
  SummaryByte,
} from "./layout.ts";

const PAGE_SHIFT = 12;

/**
 * A mapped memory object with barrier-protected writers.
 *
 * @example
 * ```ts
 * const mem = new PersistentMemory(buffers);
 * mem.setU32(0, 42);           // marks page 0 dirty
 * mem.getU32(0) === 42;
 * ```
 */
export class PersistentMemory {
  /** Kernel object id of the PMO. */
  readonly id: number;
  /** Raw bytes: read freely, write only through this class. */
  readonly bytes: Uint8Array;
  /** Int32 view for Atomics; write through {@link atomicAdd} and friends. */
  readonly words: Int32Array;
  /** Size in bytes. */
  readonly byteLength: number;
  private readonly view: DataView;
  private readonly state: Uint8Array;
  private readonly backup: Uint8Array;
  private readonly summary: Uint8Array;

  /**
   * @param buffers the PMO's buffers, as `pmo_map` returned them
   * @param writable false for a read-only mapping: every write throws E_NO_RIGHTS
   */
  constructor(buffers: PmoBuffers, readonly writable = true) {
    this.id = buffers.id;
    this.bytes = new Uint8Array(buffers.data);
    this.words = new Int32Array(buffers.data, 0, buffers.data.byteLength >> 2);
    this.view = new DataView(buffers.data);
    this.state = new Uint8Array(buffers.pageState);
    this.backup = new Uint8Array(buffers.backup);
    this.summary = new Uint8Array(buffers.dirtySummary);
    this.byteLength = buffers.data.byteLength;
  }

  /** Marks every page in [offset, offset+length) dirty; call before writing raw bytes. */
  markDirty(offset: number, length: number): void {
    if (!this.writable) {
      throw new TardigradeError(
        Err.E_NO_RIGHTS,
        `PersistentMemory: PMO ${this.id} is mapped read-only; map it with WRITE to change it`,
        { pmo: this.id },
      );
    }
    if (offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `PersistentMemory.markDirty: [${offset}, ${
          offset + length
        }) is outside PMO ${this.id} of ${this.byteLength} bytes`,
        { offset, length, byteLength: this.byteLength },
      );
    }
    if (length === 0) return; // nothing written, no page to mark
    const last = (offset + length - 1) >> PAGE_SHIFT;
    for (let page = offset >> PAGE_SHIFT; page <= last; page++) {
      if (this.state[page] !== PageState.DIRTY) this.markSlow(page);
    }
  }

  /**
   * The barrier of every typed store (`setU32`, `atomicAdd`, …): `length`
   * (1…8) bytes at `offset`. Fast when the pages of its first and last byte
   * are both DIRTY already (a store of at most 8 bytes touches no page in
   * between), so a store straddling a page boundary marks, and under
   * copy-on-write saves, both pages. Anything else goes to {@link markDirty},
   * which also refuses a read-only mapping and an offset outside the PMO.
   */
  private barrier(offset: number, length: number): void {
    const state = this.state;
    if (
      state[offset >> PAGE_SHIFT] !== PageState.DIRTY ||
      state[(offset + length - 1) >> PAGE_SHIFT] !== PageState.DIRTY || !this.writable
    ) this.markDirty(offset, length);
  }

  /**
   * Slow path: a clean page becomes dirty; a COW_PENDING page is saved first.
   * Either way the summary is set after the state (see {@link noteDirty}).
   */
  private markSlow(page: number): void {
    for (;;) {
      const s = Atomics.load(this.state, page); // atomic: a plain load may be hoisted out of this loop
      if (s === PageState.DIRTY) return;
      if (s === PageState.CLEAN) {
        Atomics.store(this.state, page, PageState.DIRTY);
        this.noteDirty(page);
        return;
      }
      if (s === PageState.COW_PENDING && this.claimForCopy(page)) {
        const from = page * PAGE_BYTES;
        this.backup.set(this.bytes.subarray(from, from + PAGE_BYTES), from);
        Atomics.store(this.state, page, PageState.DIRTY);
        this.noteDirty(page);
        return;
      }
      // COW_COPYING: the checkpoint manager is copying it right now; it ends in a few µs.
    }
  }

  /**
   * Sets `page`'s chunk, then the PMO, in the dirty summary, AFTER its state
   * became DIRTY. The page scan clears a flag BEFORE it reads what the flag
   * covers (kernel/page_capture.ts), and every access is sequentially
   * consistent (Atomics), so a dirtied page is never missed: if this store
   * comes after the scan's clear, the flag stays set for the next cut; if
   * before, the state store came earlier still and the scan reads DIRTY.
   * (Inside the pause the world is frozen and no writer runs anyway; the
   * order is what keeps a store racing a scan, or a copy-out, correct.)
   * Loads first, so a set flag costs no write to a shared cache line.
   */
  private noteDirty(page: number): void {
    const chunk = SummaryByte.CHUNKS + (page >> DIRTY_CHUNK_SHIFT);
    if (Atomics.load(this.summary, chunk) === 0) Atomics.store(this.summary, chunk, 1);
    if (Atomics.load(this.summary, SummaryByte.PMO) === 0) {
      Atomics.store(this.summary, SummaryByte.PMO, 1);
    }
  }

  private claimForCopy(page: number): boolean {
    return Atomics.compareExchange(
      this.state,
      page,
      PageState.COW_PENDING,
      PageState.COW_COPYING,
    ) ===
      PageState.COW_PENDING;
  }

  /** Copies `src` into the PMO at `offset`. */
  write(offset: number, src: Uint8Array): void {
    this.markDirty(offset, src.length);
    this.bytes.set(src, offset);
  }

  /** Fills [offset, offset+length) with `value`. */
  fill(offset: number, length: number, value = 0): void {
    this.markDirty(offset, length);
    this.bytes.fill(value, offset, offset + length);
  }

  /** Reads `length` bytes at `offset` (a view, not a copy). */
  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }

  /** Unsigned 8-bit store. */
  setU8(offset: number, value: number): void {
    this.barrier(offset, 1);
    this.bytes[offset] = value;
  }

  /** Unsigned 32-bit little-endian store. */
  setU32(offset: number, value: number): void {
    this.barrier(offset, 4);
    this.view.setUint32(offset, value, true);
  }

  /** Unsigned 32-bit little-endian load. */
  getU32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** 64-bit float store (integers up to 2^53 are exact). */
  setF64(offset: number, value: number): void {
    this.barrier(offset, 8);
    this.view.setFloat64(offset, value, true);
  }

  /** 64-bit float load. */
  getF64(offset: number): number {
    return this.view.getFloat64(offset, true);
  }

  /** Atomics.store on Int32 word `index`, through the barrier. */
  atomicStore(index: number, value: number): void {
    this.barrier(index << 2, 4);
    Atomics.store(this.words, index, value);
  }

  /** Atomics.add on Int32 word `index`, through the barrier; returns the old value. */
  atomicAdd(index: number, delta: number): number {
    this.barrier(index << 2, 4);
    return Atomics.add(this.words, index, delta);
  }

  /** Atomics.compareExchange on Int32 word `index`, through the barrier. */
  atomicCas(index: number, expected: number, replacement: number): number {
    this.barrier(index << 2, 4);
    return Atomics.compareExchange(this.words, index, expected, replacement);
  }

  /** Atomics.or on Int32 word `index`, through the barrier; returns the old value. */
  atomicOr(index: number, bits: number): number {
    this.barrier(index << 2, 4);
    return Atomics.or(this.words, index, bits);
  }

  /** Atomics.and on Int32 word `index`, through the barrier; returns the old value. */
  atomicAnd(index: number, bits: number): number {
    this.barrier(index << 2, 4);
    return Atomics.and(this.words, index, bits);
  }

  /** Number of pages. */
  get pageCount(): number {
    return this.state.length;
  }
}

/**
 * Allocates buffers for a PMO of `pages` pages (kernel and tests): zeroed,
 * or around existing contents `data` (the kernel PMO at resume).
 */
export function allocatePmoBuffers(
  id: number,
  pages: number,
  data = new SharedArrayBuffer(pages * PAGE_BYTES),
): PmoBuffers {
  return {
    id,
    data,
    pageState: new SharedArrayBuffer(pages),
    backup: new SharedArrayBuffer(pages * PAGE_BYTES),
    dirtySummary: new SharedArrayBuffer(dirtySummaryBytes(pages)),
  };
}

/**
 * Marks every page of `bufs` DIRTY, and every chunk and the PMO in its
 * dirty summary (a new PMO, a rolled-back one): the only way, besides the
 * barrier, to make a page dirty, since a DIRTY page under a clear summary
 * would be skipped by the scan.
 */
export function markAllDirty(bufs: PmoBuffers): void {
  new Uint8Array(bufs.pageState).fill(PageState.DIRTY);
  new Uint8Array(bufs.dirtySummary).fill(1);
}
