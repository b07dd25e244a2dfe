/**
 * The page scan and copy of a checkpoint (TreeSLS's hybrid page copy).
 *
 * Map of this file:
 * - {@link PageCapture.capture}, inside the pause: reads the dirty summary
 *   of the kernel memory object and every loaded PMO, skips a PMO nothing
 *   dirtied and the chunks of pages nothing dirtied, scans the page-state
 *   bytes of the others four at a time (CLEAN is 0), and per dirty page
 *   either copies it now into the staging buffer (stop-and-copy; hybrid's
 *   hot pages) or marks it COW_PENDING (copy-on-write; hybrid's cold pages).
 * - {@link PageCapture.copyOut}, after the thaw: copies the CoW pages,
 *   racing writers safely (a compare-and-swap claims each page), and hands
 *   the staging buffer over.
 * - {@link PageCapture.recycle}: staging buffers the board gave back.
 * - the debug barrier: a CLEAN page whose bytes changed since the last
 *   checkpoint skipped the write barrier, and so did a DIRTY page whose
 *   chunk the summary does not show.
 *
 * @module
 */

import {
  DIRTY_CHUNK_PAGES,
  DIRTY_CHUNK_SHIFT,
  dirtyChunks,
  PageState,
  type PmoBuffers,
  SummaryByte,
} from "./abi/layout.ts";
import { PAGE_BYTES } from "./abi/limits.ts";
import type { KernelConfig } from "./abi/protocol.ts";

/**
 * Staging buffers kept for reuse once the board has written them. They are
 * SharedArrayBuffers, passed to the board and back by reference: transferring
 * an ArrayBuffer with every commit made fresh buffer objects on both sides each
 * time, and the collectors that follow them (external memory) kept the board's
 * main thread busy, so its messages waited: `checkpoint_wait` took 7.5 ms at the
 * median instead of 1.2, and an idle machine with one syncing program used 1.8
 * cores instead of 0.5 (docs/BENCHMARKS.md).
 */
const STAGING_POOL_MAX = 4;
/** Pages the smallest staging buffer holds (so small checkpoints reuse one buffer). */
const STAGING_PAGES_MIN = 64;

/** One page captured by a checkpoint. */
export interface Capture {
  nvmPage: number;
  /** Where the contents are now: the live page (stop-and-copy) or pending (CoW). */
  bufs: PmoBuffers;
  page: number;
  cow: boolean;
}

/** What the page scan keeps per PMO between checkpoints: views made once, and the hot bits. */
interface PageScan {
  state: Uint8Array;
  /** `state` four pages at a time (the whole words of it). */
  quads: Uint32Array;
  /** 1 where the page was dirty at the previous checkpoint (hybrid copy's "hot"). */
  hot: Uint8Array;
  hotQuads: Uint32Array;
  /** The dirty summary the barrier sets (kernel/abi/layout.ts `SummaryByte`). */
  summary: Uint8Array;
  /** The summary's chunk bytes four at a time. */
  summaryQuads: Uint32Array;
  /** Chunks of this PMO. */
  chunks: number;
  /** 1 where a page of the chunk may have its hot bit set: a chunk skipped clears them. */
  hotChunks: Uint8Array;
  /** Some entry of `hotChunks` is 1: a PMO skipped whole clears them. */
  anyHot: boolean;
}

function newPageScan(bufs: PmoBuffers): PageScan {
  const state = new Uint8Array(bufs.pageState);
  // Rounded up to whole words, so `hotQuads` covers every page.
  const hot = new Uint8Array((state.length + 3) & ~3);
  const summary = new Uint8Array(bufs.dirtySummary);
  const chunks = dirtyChunks(state.length);
  return {
    state,
    quads: new Uint32Array(bufs.pageState, 0, state.length >> 2),
    hot,
    hotQuads: new Uint32Array(hot.buffer, 0, hot.length >> 2),
    summary,
    summaryQuads: new Uint32Array(
      bufs.dirtySummary,
      SummaryByte.CHUNKS,
      (summary.length - SummaryByte.CHUNKS) >> 2,
    ),
    chunks,
    hotChunks: new Uint8Array(chunks),
    anyHot: false,
  };
}

/** The page side of every checkpoint of one kernel. */
export class PageCapture {
  /** Per PMO (by its page-state buffer, so a destroyed PMO's entry goes with it). */
  private readonly scans = new WeakMap<SharedArrayBuffer, PageScan>();
  private staging: Uint8Array<SharedArrayBuffer> = new Uint8Array(new SharedArrayBuffer(0));
  /** Staging buffers the board gave back after writing them: reused, so no page faults in the pause. */
  private readonly pool: SharedArrayBuffer[] = [];
  /** One Uint8Array view per SharedArrayBuffer, made once. */
  private readonly views = new WeakMap<SharedArrayBuffer, Uint8Array>();
  /**
   * Debug barrier: last checkpointed contents per PMO, keyed by its data
   * buffer, not its id: ids are recycled, and a PMO made with a destroyed
   * one's id must not be compared with the old one's bytes. A destroyed PMO's
   * copy goes with its buffer.
   */
  private readonly shadows = new WeakMap<SharedArrayBuffer, Uint8Array>();
  /** Chunks whose page states the last {@link capture} read (a statistic, and the tests' probe). */
  scannedChunks = 0;
  /** PMOs whose summary the last {@link capture} read past the PMO flag. */
  scannedPmos = 0;

  /**
   * @param config the copy method, and whether the debug barrier is on
   * @param onBarrierViolation told of each page that changed without the barrier
   */
  constructor(
    private readonly config: Pick<KernelConfig, "copyMethod" | "debugBarrier">,
    private readonly onBarrierViolation: (pmoId: number, page: number) => void,
  ) {}

  /**
   * Inside the pause: scans the kernel PMO (at NVM page 0) and every loaded
   * PMO (at its `nvmBase`) for dirty pages; copies or marks them. Only the
   * chunks the dirty summary shows are read; their page states four at a
   * time (CLEAN is 0). Returns what it captured, for `copyOut` after the
   * thaw.
   */
  capture(
    kernelPmo: PmoBuffers,
    loaded: Iterable<readonly [{ readonly nvmBase: number }, PmoBuffers]>,
  ): Capture[] {
    const captures: Capture[] = [];
    this.scannedChunks = 0;
    this.scannedPmos = 0;
    this.scanPmo(kernelPmo, 0, captures);
    for (const [rec, bufs] of loaded) this.scanPmo(bufs, rec.nvmBase, captures);
    // Stop-and-copy pages are copied inside the pause, CoW pages after it.
    this.staging = this.stagingBuffer(captures.length * PAGE_BYTES);
    captures.forEach((c, i) => {
      if (!c.cow) this.copyPage(c.bufs.data, c.page, i);
    });
    return captures;
  }

  /**
   * One PMO: skipped whole when its summary flag is clear, else chunk by
   * chunk. Each flag is cleared BEFORE the states it covers are read (the
   * barrier sets it AFTER the state: kernel/abi/pmem.ts `noteDirty`), so a
   * page dirtied while this runs is seen now or by the next cut. The world
   * is frozen here; writers race only `copyOut`, which leaves the summary
   * alone. A skipped chunk's pages are CLEAN (or COW_PENDING from a capture
   * not yet copied), so their hot bits go, as a scan would clear them.
   */
  private scanPmo(bufs: PmoBuffers, nvmBase: number, captures: Capture[]): void {
    let scan = this.scans.get(bufs.pageState);
    if (!scan) this.scans.set(bufs.pageState, scan = newPageScan(bufs));
    if (this.config.debugBarrier) this.checkBarrier(bufs, scan);
    if (Atomics.exchange(scan.summary, SummaryByte.PMO, 0) === 0) {
      if (scan.anyHot) this.coolAll(scan);
      return;
    }
    this.scannedPmos++;
    const { summary, summaryQuads, chunks, hotChunks } = scan;
    let anyHot = false;
    for (let w = 0; w < summaryQuads.length; w++) {
      const clean = summaryQuads[w] === 0;
      for (let c = w << 2; c < (w << 2) + 4 && c < chunks; c++) {
        if (clean || Atomics.exchange(summary, SummaryByte.CHUNKS + c, 0) === 0) {
          if (hotChunks[c] !== 0) this.coolChunk(scan, c);
          continue;
        }
        this.scannedChunks++;
        this.scanChunk(scan, bufs, nvmBase, c, captures);
        if (hotChunks[c] !== 0) anyHot = true;
      }
    }
    scan.anyHot = anyHot;
  }

  /** Scans the page states of chunk `c`, four at a time; sets its hot-chunk flag from its pages. */
  private scanChunk(
    scan: PageScan,
    bufs: PmoBuffers,
    nvmBase: number,
    c: number,
    captures: Capture[],
  ): void {
    const { quads, hotQuads } = scan;
    const from = c << DIRTY_CHUNK_SHIFT;
    const to = Math.min(from + DIRTY_CHUNK_PAGES, scan.state.length);
    const qTo = Math.min(to >> 2, quads.length);
    let hot = 0;
    for (let q = from >> 2; q < qTo; q++) {
      if (quads[q] === 0) {
        if (hotQuads[q] !== 0) hotQuads[q] = 0;
        continue;
      }
      this.capturePageRange(scan, bufs, nvmBase, q << 2, (q << 2) + 4, captures);
      hot |= hotQuads[q];
    }
    if (to === scan.state.length) { // the last chunk: the pages past the whole words
      this.capturePageRange(scan, bufs, nvmBase, quads.length << 2, to, captures);
      if (quads.length < hotQuads.length) hot |= hotQuads[quads.length];
    }
    scan.hotChunks[c] = hot === 0 ? 0 : 1;
  }

  /** Clears the hot bits of chunk `c` (skipped: none of its pages was dirtied). */
  private coolChunk(scan: PageScan, c: number): void {
    const from = c << DIRTY_CHUNK_SHIFT;
    scan.hot.fill(0, from, from + DIRTY_CHUNK_PAGES);
    scan.hotChunks[c] = 0;
  }

  /** Clears every hot bit of a PMO skipped whole. */
  private coolAll(scan: PageScan): void {
    for (let c = 0; c < scan.chunks; c++) if (scan.hotChunks[c] !== 0) this.coolChunk(scan, c);
    scan.anyHot = false;
  }

  /** Captures the dirty pages in [from, to) of one PMO and updates their hot bits. */
  private capturePageRange(
    scan: PageScan,
    bufs: PmoBuffers,
    nvmBase: number,
    from: number,
    to: number,
    captures: Capture[],
  ): void {
    const { state, hot } = scan;
    const method = this.config.copyMethod;
    for (let page = from; page < to; page++) {
      const s = state[page];
      if (s === PageState.CLEAN) {
        hot[page] = 0;
        continue;
      }
      if (s !== PageState.DIRTY) continue; // still COW_PENDING from a capture not yet copied
      const cow = method === "cow" || (method === "hybrid" && hot[page] === 0);
      hot[page] = 1;
      Atomics.store(state, page, cow ? PageState.COW_PENDING : PageState.CLEAN);
      captures.push({ nvmPage: nvmBase + page, bufs, page, cow });
    }
  }

  private stagingBuffer(bytes: number): Uint8Array<SharedArrayBuffer> {
    const i = this.pool.findIndex((b) => b.byteLength >= bytes);
    const buf = i >= 0
      ? this.pool.splice(i, 1)[0]
      : new SharedArrayBuffer(Math.max(bytes, STAGING_PAGES_MIN * PAGE_BYTES));
    return new Uint8Array(buf, 0, bytes);
  }

  /** The board is done with a staging buffer: kept for reuse (a few at most). */
  recycle(buffer: SharedArrayBuffer): void {
    if (this.pool.length < STAGING_POOL_MAX) this.pool.push(buffer);
  }

  private copyPage(from: SharedArrayBuffer, page: number, index: number): void {
    let view = this.views.get(from);
    if (!view) this.views.set(from, view = new Uint8Array(from));
    const at = page * PAGE_BYTES;
    this.staging.set(view.subarray(at, at + PAGE_BYTES), index * PAGE_BYTES);
  }

  /**
   * After the thaw: copies the CoW pages of `captures` (racing writers
   * safely), then hands the staging buffer over: the pages in capture order,
   * their NVM page numbers, and how many were copied on write.
   */
  copyOut(
    captures: Capture[],
  ): { pages: SharedArrayBuffer; nvmPages: Int32Array; cowPages: number } {
    let cowPages = 0;
    const nvmPages = new Int32Array(captures.length);
    captures.forEach((c, i) => {
      nvmPages[i] = c.nvmPage;
      if (!c.cow) return;
      cowPages++;
      const state = new Uint8Array(c.bufs.pageState);
      if (
        Atomics.compareExchange(state, c.page, PageState.COW_PENDING, PageState.COW_COPYING) ===
          PageState.COW_PENDING
      ) {
        this.copyPage(c.bufs.data, c.page, i);
        Atomics.store(state, c.page, PageState.CLEAN);
        return;
      }
      // A writer claimed the page first and saves the captured contents to the backup buffer.
      while (Atomics.load(state, c.page) === PageState.COW_COPYING) { /* a few µs */ }
      this.copyPage(c.bufs.backup, c.page, i);
    });
    const pages = this.staging.buffer;
    this.staging = new Uint8Array(new SharedArrayBuffer(0));
    return { pages, nvmPages, cowPages };
  }

  /**
   * Debug mode, before the scan clears the summary: a CLEAN page whose bytes
   * changed since the last checkpoint skipped the barrier; a DIRTY page whose
   * chunk (or PMO) the summary does not show was made dirty around it (the
   * scan would skip it). Reads every page, whatever the summary says.
   */
  private checkBarrier(bufs: PmoBuffers, scan: PageScan): void {
    const { state, summary } = scan;
    const now = new Uint8Array(bufs.data);
    const shadow = this.shadows.get(bufs.data);
    const pmoFlag = summary[SummaryByte.PMO];
    for (let page = 0; page < state.length; page++) {
      if (state[page] === PageState.DIRTY) {
        const shown = pmoFlag !== 0 &&
          summary[SummaryByte.CHUNKS + (page >> DIRTY_CHUNK_SHIFT)] !== 0;
        if (!shown) this.onBarrierViolation(bufs.id, page);
        continue;
      }
      if (!shadow || state[page] !== PageState.CLEAN) continue;
      const a = page * PAGE_BYTES;
      for (let i = a; i < a + PAGE_BYTES; i++) {
        if (now[i] !== shadow[i]) {
          this.onBarrierViolation(bufs.id, page);
          break;
        }
      }
    }
    this.shadows.set(bufs.data, now.slice());
  }
}
