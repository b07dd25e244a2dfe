/**
 * Physical memory objects at run time: their SharedArrayBuffers and the NVM
 * pages behind them.
 *
 * Map of this file:
 * - {@link NvmExtents}: first-fit allocator of contiguous NVM page ranges;
 *   derived state, rebuilt at resume from the PMO records.
 * - {@link PmoManager}: creates PMOs (record + buffers + extent; `check`
 *   is the decode step, refusing before anything changes), hands out
 *   buffers, restores them lazily from the image at resume (`ensureLoaded`),
 *   and charges pages to the owning cap group's quota.
 *
 * @module
 */

import { Err, TardigradeError } from "./abi/errors.ts";
import type { PmoBuffers } from "./abi/layout.ts";
import { PAGE_BYTES, PMO_PAGES_MAX } from "./abi/limits.ts";
import { allocatePmoBuffers, markAllDirty } from "./abi/pmem.ts";
import type { ObjectTable } from "./object_table.ts";
import { ObjKind, type PmoRecord } from "./objects/records.ts";

/** First-fit allocator of contiguous NVM page ranges. */
export class NvmExtents {
  /** Free ranges as [start, length], sorted by start. */
  private free: Array<[number, number]>;

  constructor(firstPage: number, endPage: number) {
    this.free = endPage > firstPage ? [[firstPage, endPage - firstPage]] : [];
  }

  /** Allocates `pages` contiguous pages; returns the first, or throws E_NO_MEMORY. */
  allocate(pages: number): number {
    const i = this.fit(pages);
    const [start, length] = this.free[i];
    if (length === pages) this.free.splice(i, 1);
    else this.free[i] = [start + pages, length - pages];
    return start;
  }

  /** Throws what `allocate(pages)` would, changing nothing (a creating call's decode step). */
  check(pages: number): void {
    this.fit(pages);
  }

  /** Index of the first free range of at least `pages` pages; E_NO_MEMORY when none is. */
  private fit(pages: number): number {
    const i = this.free.findIndex(([, length]) => length >= pages);
    if (i >= 0) return i;
    throw new TardigradeError(
      Err.E_NO_MEMORY,
      `NVM has no free range of ${pages} pages (${this.freePages()} pages free in all); ` +
        `boot with a larger --image-mb or free memory objects`,
      { pages, free: this.freePages() },
    );
  }

  /** Marks [start, start+pages) used (at resume); the range must be free. */
  reserve(start: number, pages: number): void {
    for (let i = 0; i < this.free.length; i++) {
      const [s, length] = this.free[i];
      if (start < s || start + pages > s + length) continue;
      const before: Array<[number, number]> = start > s ? [[s, start - s]] : [];
      const afterLength = s + length - (start + pages);
      const after: Array<[number, number]> = afterLength > 0 ? [[start + pages, afterLength]] : [];
      this.free.splice(i, 1, ...before, ...after);
      return;
    }
    throw new TardigradeError(Err.E_INTERNAL, `NvmExtents.reserve: [${start}, +${pages}) not free`);
  }

  /** Returns [start, start+pages) to the free list, merging neighbours. */
  release(start: number, pages: number): void {
    this.free.push([start, pages]);
    this.free.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const r of this.free) {
      const last = merged[merged.length - 1];
      if (last && last[0] + last[1] === r[0]) last[1] += r[1];
      else merged.push([r[0], r[1]]);
    }
    this.free = merged;
  }

  /** Total free pages. */
  freePages(): number {
    return this.free.reduce((n, [, length]) => n + length, 0);
  }
}

/** Loads pages of an extent from the image into a buffer (the board does the reading). */
export type PageLoader = (data: SharedArrayBuffer, nvmBase: number, pages: number) => Promise<void>;

/** Run-time side of every PMO. */
export class PmoManager {
  private readonly buffers = new Map<number, PmoBuffers>();
  private readonly loading = new Map<number, Promise<void>>();
  /** PMOs whose pages are in memory (created this run, or restored). */
  private readonly ready = new Set<number>();
  /** Per PMO created this run: the first checkpoint epoch that holds it. */
  private readonly born = new Map<number, number>();

  constructor(
    private readonly table: ObjectTable,
    readonly extents: NvmExtents,
    private readonly loader: PageLoader,
    /** The epoch of the next checkpoint capture. */
    private readonly nextEpoch: () => number = () => 1,
  ) {}

  /**
   * The decode step of a call that creates a PMO of `pages` pages for
   * `owner`: throws what `create` would for its pages (E_BAD_ARGUMENT, the
   * owner's page quota or NVM space: E_NO_MEMORY), changing nothing. Its
   * record is the caller's to check, with the call's others (`ObjectTable.checkRoom`).
   */
  check(pages: number, owner: number): void {
    if (!Number.isInteger(pages) || pages < 1 || pages > PMO_PAGES_MAX) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `pmo_create: pages must be an integer in 1…${PMO_PAGES_MAX}, got ${pages}`,
        { pages },
      );
    }
    this.checkPages(owner, pages);
    this.extents.check(pages);
  }

  /**
   * Creates a PMO of `pages` pages owned by cap group `owner` (0 for the
   * kernel): checks everything first (`check`, and room for its record), so
   * a refusal changes nothing.
   */
  create(pages: number, role: PmoRecord["role"], owner: number): PmoRecord {
    this.check(pages, owner);
    this.table.checkRoom([owner]);
    this.charge(owner, pages);
    const nvmBase = this.extents.allocate(pages);
    const rec = this.table.create(ObjKind.PMO, { pages, nvmBase, role, owner }, owner);
    const bufs = allocatePmoBuffers(rec.id, pages);
    // A fresh PMO is all zeros; mark it dirty so the first checkpoint overwrites stale NVM slots.
    markAllDirty(bufs);
    this.buffers.set(rec.id, bufs);
    this.ready.add(rec.id);
    this.born.set(rec.id, this.nextEpoch());
    return rec;
  }

  /** Adds `pages` (may be negative) to the owner's usage; E_NO_MEMORY over its quota. */
  private charge(owner: number, pages: number): void {
    if (owner === 0) return;
    this.checkPages(owner, pages);
    const group = this.table.expect(owner, ObjKind.CAP_GROUP);
    this.table.update(group, { usedPages: group.usedPages + pages });
  }

  /** E_NO_MEMORY when `pages` more pages are over the owner's page quota. */
  private checkPages(owner: number, pages: number): void {
    if (owner === 0 || pages <= 0) return;
    const group = this.table.expect(owner, ObjKind.CAP_GROUP);
    if (group.usedPages + pages > group.quotaPages) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `cap group "${group.name}" would use ${
          group.usedPages + pages
        } pages, over its quota of ${group.quotaPages}`,
        { used: group.usedPages, quota: group.quotaPages, asked: pages },
      );
    }
  }

  /** Destroys a PMO: its buffers, its NVM extent and its quota charge. */
  destroy(rec: PmoRecord): void {
    this.born.delete(rec.id);
    this.buffers.delete(rec.id);
    this.ready.delete(rec.id);
    this.extents.release(rec.nvmBase, rec.pages);
    if (this.table.get(rec.owner)) this.charge(rec.owner, -rec.pages);
    this.table.remove(rec.id);
  }

  /** Registers a PMO that exists in the image (resume); pages load on first use unless given. */
  adopt(rec: PmoRecord, contents?: Uint8Array): void {
    this.extents.reserve(rec.nvmBase, rec.pages);
    const bufs = allocatePmoBuffers(rec.id, rec.pages);
    this.buffers.set(rec.id, bufs);
    if (contents) {
      new Uint8Array(bufs.data).set(contents);
      this.ready.add(rec.id);
    }
  }

  /** The buffers of a PMO, restoring its pages from the image first if needed. */
  async ensureLoaded(id: number): Promise<PmoBuffers> {
    const bufs = this.buffers.get(id);
    if (!bufs) throw new TardigradeError(Err.E_NOT_FOUND, `PMO ${id} has no buffers`, { id });
    if (this.ready.has(id)) return bufs;
    let p = this.loading.get(id);
    if (!p) {
      const rec = this.table.expect(id, ObjKind.PMO);
      p = this.loader(bufs.data, rec.nvmBase, rec.pages).then(() => {
        this.ready.add(id);
        this.loading.delete(id);
      });
      this.loading.set(id, p);
    }
    await p;
    return bufs;
  }

  /**
   * Puts a loaded PMO's pages back as checkpoint `epoch` (committed) holds
   * them: read from the image, or all zeros if the PMO was created after it.
   * Every page is marked dirty, so the next checkpoint writes them again.
   * The caller holds checkpoints off while this runs. Returns how many pages
   * it changed.
   */
  async rollBack(rec: PmoRecord, epoch: number): Promise<number> {
    const bufs = this.loadedBuffers(rec.id);
    if (!bufs) return 0; // not loaded since resume: its pages are the image's already
    const saved = new Uint8Array(new SharedArrayBuffer(bufs.data.byteLength));
    if ((this.born.get(rec.id) ?? 0) <= epoch) {
      await this.loader(saved.buffer as SharedArrayBuffer, rec.nvmBase, rec.pages);
    }
    const live = new Uint8Array(bufs.data);
    let changed = 0;
    for (let at = 0; at < live.length; at += PAGE_BYTES) {
      const page = live.subarray(at, at + PAGE_BYTES);
      const old = saved.subarray(at, at + PAGE_BYTES);
      if (page.some((b, i) => b !== old[i])) changed++;
    }
    live.set(saved);
    markAllDirty(bufs);
    return changed;
  }

  /** Buffers of a PMO whose pages are in memory, or undefined. */
  loadedBuffers(id: number): PmoBuffers | undefined {
    return this.ready.has(id) ? this.buffers.get(id) : undefined;
  }

  /** Every PMO whose pages are in memory, with its record: what a checkpoint scans. */
  *loaded(): IterableIterator<[PmoRecord, PmoBuffers]> {
    for (const id of this.ready) {
      const rec = this.table.get(id) as PmoRecord | undefined;
      const bufs = this.buffers.get(id);
      if (rec && bufs) yield [rec, bufs];
    }
  }

  /** Number of PMOs, loaded or not. */
  get count(): number {
    return this.buffers.size;
  }
}
