/**
 * The page scan and copy of a checkpoint (TreeSLS's hybrid page copy).
 *
 * Map of this file:
 * - {@link PageCapture.capture}, inside the pause: scans the page-state
 *   bytes of the kernel memory object and every loaded PMO, four at a time
 *   (CLEAN is 0), and per dirty page either copies it now into the staging
 *   buffer (stop-and-copy; hybrid's hot pages) or marks it COW_PENDING
 *   (copy-on-write; hybrid's cold pages).
 * - {@link PageCapture.copyOut}, after the thaw: copies the CoW pages,
 *   racing writers safely (a compare-and-swap claims each page), and hands
 *   the staging buffer over.
 * - {@link PageCapture.recycle}: staging buffers the board gave back.
 * - the debug barrier: a CLEAN page whose bytes changed since the last
 *   checkpoint skipped the write barrier.
 *
 * @module
 */

import { PageState, type PmoBuffers } from "./abi/layout.ts";
import { PAGE_BYTES } from "./abi/limits.ts";
import type { KernelConfig } from "./abi/protocol.ts";

/** Staging buffers kept for reuse once the board has written them. */
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
}

function newPageScan(pageState: SharedArrayBuffer): PageScan {
  const state = new Uint8Array(pageState);
  // Rounded up to whole words, so `hotQuads` covers every page.
  const hot = new Uint8Array((state.length + 3) & ~3);
  return {
    state,
    quads: new Uint32Array(pageState, 0, state.length >> 2),
    hot,
    hotQuads: new Uint32Array(hot.buffer, 0, hot.length >> 2),
  };
}

/** The page side of every checkpoint of one kernel. */
export class PageCapture {
  /** Per PMO (by its page-state buffer, so a destroyed PMO's entry goes with it). */
  private readonly scans = new WeakMap<SharedArrayBuffer, PageScan>();
  private staging: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  /** Staging buffers the board gave back after writing them: reused, so no page faults in the pause. */
  private readonly pool: ArrayBuffer[] = [];
  /** One Uint8Array view per SharedArrayBuffer, made once. */
  private readonly views = new WeakMap<SharedArrayBuffer, Uint8Array>();
  /**
   * Debug barrier: last checkpointed contents per PMO, keyed by its data
   * buffer, not its id: ids are recycled, and a PMO made with a destroyed
   * one's id must not be compared with the old one's bytes. A destroyed PMO's
   * copy goes with its buffer.
   */
  private readonly shadows = new WeakMap<SharedArrayBuffer, Uint8Array>();

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
   * PMO (at its `nvmBase`) for dirty pages; copies or marks them. Page
   * states are read four at a time (CLEAN is 0), so the clean majority of
   * pages costs a quarter of a byte-by-byte scan. Returns what it captured,
   * for `copyOut` after the thaw.
   */
  capture(
    kernelPmo: PmoBuffers,
    loaded: Iterable<readonly [{ readonly nvmBase: number }, PmoBuffers]>,
  ): Capture[] {
    const captures: Capture[] = [];
    this.scanPmo(kernelPmo, 0, captures);
    for (const [rec, bufs] of loaded) this.scanPmo(bufs, rec.nvmBase, captures);
    // Stop-and-copy pages are copied inside the pause, CoW pages after it.
    this.staging = this.stagingBuffer(captures.length * PAGE_BYTES);
    captures.forEach((c, i) => {
      if (!c.cow) this.copyPage(c.bufs.data, c.page, i);
    });
    return captures;
  }

  private scanPmo(bufs: PmoBuffers, nvmBase: number, captures: Capture[]): void {
    let scan = this.scans.get(bufs.pageState);
    if (!scan) this.scans.set(bufs.pageState, scan = newPageScan(bufs.pageState));
    if (this.config.debugBarrier) this.checkBarrier(bufs, scan.state);
    const { quads, hotQuads } = scan;
    for (let q = 0; q < quads.length; q++) {
      if (quads[q] === 0) {
        if (hotQuads[q] !== 0) hotQuads[q] = 0;
        continue;
      }
      this.capturePageRange(scan, bufs, nvmBase, q << 2, (q << 2) + 4, captures);
    }
    const tail = quads.length << 2;
    this.capturePageRange(scan, bufs, nvmBase, tail, scan.state.length, captures);
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

  private stagingBuffer(bytes: number): Uint8Array<ArrayBuffer> {
    const i = this.pool.findIndex((b) => b.byteLength >= bytes);
    const buf = i >= 0
      ? this.pool.splice(i, 1)[0]
      : new ArrayBuffer(Math.max(bytes, STAGING_PAGES_MIN * PAGE_BYTES));
    return new Uint8Array(buf, 0, bytes);
  }

  /** The board is done with a staging buffer: kept for reuse (a few at most). */
  recycle(buffer: ArrayBuffer): void {
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
  ): { pages: ArrayBuffer; nvmPages: Int32Array; cowPages: number } {
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
    const pages = this.staging.buffer as ArrayBuffer;
    this.staging = new Uint8Array(0);
    return { pages, nvmPages, cowPages };
  }

  /** Debug mode: a CLEAN page whose bytes changed since the last checkpoint skipped the barrier. */
  private checkBarrier(bufs: PmoBuffers, state: Uint8Array): void {
    const now = new Uint8Array(bufs.data);
    const shadow = this.shadows.get(bufs.data);
    if (shadow) {
      for (let page = 0; page < state.length; page++) {
        if (state[page] !== PageState.CLEAN) continue;
        const a = page * PAGE_BYTES;
        for (let i = a; i < a + PAGE_BYTES; i++) {
          if (now[i] !== shadow[i]) {
            this.onBarrierViolation(bufs.id, page);
            break;
          }
        }
      }
    }
    this.shadows.set(bufs.data, now.slice());
  }
}
