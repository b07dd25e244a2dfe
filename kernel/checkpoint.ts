/**
 * The checkpoint manager: TreeSLS's whole-system checkpoint, every tick.
 *
 * Map of this file:
 * - `onTick`: starts a checkpoint when the period has passed, no commit is in
 *   flight and every thread has reached its first safe point.
 * - `take`: the stop-the-world pause. (1) freeze: raise every worker's
 *   freeze word and wait until each is PARKED or WAITING (a waiting worker is
 *   frozen without being woken); (2) capability tree and other kernel
 *   objects: flush changed records into the kernel memory object; (3) page
 *   copy: scan page-state bytes of every loaded PMO, copying DIRTY pages
 *   (stop-and-copy) or marking them COW_PENDING (copy-on-write; hybrid does
 *   this for cold pages only); (4) thaw. After the pause the pending CoW pages
 *   are copied while workers run, and the capture goes to the board, which
 *   writes it to the image and commits (hw/board.ts).
 * - `onCommitted`: the board made epoch E durable; output up to E is released
 *   by the board.
 *
 * @module
 */

import { ControlWord, FreezeLine, PageState, type PmoBuffers, RunState } from "./abi/layout.ts";
import { Err } from "./abi/errors.ts";
import { ringDoorbell } from "./abi/doorbell.ts";
import { setImmediate } from "node:timers";
import {
  CHECKPOINT_FAILURES_MAX,
  FREEZE_BACKOFF_MAX_MS,
  FREEZE_BUDGET_MS,
  FREEZE_SLICE_MS,
  FREEZE_SPIN_MS,
  PAGE_BYTES,
  periodElapsed,
} from "./abi/limits.ts";
import type { CheckpointStats } from "./abi/protocol.ts";
import { consoleHead } from "./abi/console.ts";
import type { Kernel } from "./kernel.ts";
import { type CheckpointRoot, KERNEL_PMO_PAGES } from "./abi/image_root.ts";
import { digestState } from "./digest.ts";

/** What the freeze needs of a thread: its control block, and its doorbell to wake it. */
interface LiveWorker {
  control: Int32Array;
  doorbellWords?: Int32Array;
}

/** What the pause took, handed over after the thaw. */
interface Cut {
  t0: number;
  t1: number;
  t2: number;
  t3: number;
  objectRecords: number;
  spent: Record<string, number>;
  captures: Capture[];
  consoleHeads: Array<[number, number]>;
  digest: string | undefined;
}

/** One page captured by a checkpoint. */
interface Capture {
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

/** Counters a user can read through system_info and the boot log. */
export interface CheckpointCounters {
  taken: number;
  committed: number;
  skippedBusy: number;
  skippedFreeze: number;
  /** Captures that threw between freeze and thaw (E_CHECKPOINT_FAILED). */
  failed: number;
  barrierViolations: number;
}

/** Drives checkpoints for one kernel. */
export class CheckpointManager {
  /** The newest committed epoch. */
  committedEpoch: number;
  private inFlight = 0;
  private lastTakenMs = 0;
  /** While above 0 no checkpoint starts (a component's memory is being rolled back). */
  private holds = 0;
  /** Freezes in a row that timed out: each doubles the wait before the next try. */
  private failedFreezes = 0;
  /** Captures in a row that threw. */
  private failedCaptures = 0;
  /** True from the freeze line going up until the thaw (the freeze may wait for steps). */
  private freezing = false;
  private waiters: Array<() => void> = [];
  readonly counters: CheckpointCounters = {
    taken: 0,
    committed: 0,
    skippedBusy: 0,
    skippedFreeze: 0,
    failed: 0,
    barrierViolations: 0,
  };
  /** The most recent pause statistics (bounded ring). */
  readonly recent: CheckpointStats[] = [];
  /**
   * Debug barrier: last checkpointed contents per PMO, keyed by its data
   * buffer, not its id: ids are recycled, and a PMO made with a destroyed
   * one's id must not be compared with the old one's bytes. A destroyed PMO's
   * copy goes with its buffer.
   */
  private readonly shadows = new WeakMap<SharedArrayBuffer, Uint8Array>();

  /** Milliseconds between checkpoints; 0: off. */
  private periodMs: number;

  constructor(private readonly k: Kernel, epoch: number) {
    this.committedEpoch = epoch;
    this.periodMs = k.config.checkpointMs;
  }

  /** Changes the period at run time (the board's `checkpoint-ms` command); 0 turns checkpoints off. */
  setPeriod(ms: number): void {
    this.periodMs = ms;
    this.k.log(ms === 0 ? "kernel: checkpoints off" : `kernel: checkpoints every ${ms} ms`);
  }

  /** Called on every timer tick. */
  onTick(nowMs: number): void {
    const period = this.periodMs;
    // A worker stuck in a handler (until the watchdog stops it) would otherwise have every
    // other worker parked most of the time by freezes that cannot finish: back off.
    const wait = Math.min(period << Math.min(this.failedFreezes, 16), FREEZE_BACKOFF_MAX_MS);
    if (period === 0 || !periodElapsed(nowMs, this.lastTakenMs, Math.max(period, wait))) return;
    if (this.inFlight !== 0 || this.freezing || this.holds > 0 || !this.k.allReady()) {
      this.counters.skippedBusy++;
      return;
    }
    this.lastTakenMs = nowMs;
    this.take();
  }

  /**
   * Takes one checkpoint now. Resolves with its statistics, or null if
   * another is in flight, the freeze timed out or the threads changed
   * while it drained. Whatever happens between freeze and thaw, the workers
   * are thawed; a capture that throws is reported and counted, and after
   * CHECKPOINT_FAILURES_MAX in a row the kernel halts with
   * E_CHECKPOINT_FAILED.
   */
  async take(): Promise<CheckpointStats | null> {
    // One capture at a time: the next epoch's pages are what changed since this one.
    if (this.inFlight !== 0 || this.freezing) return null;
    this.freezing = true;
    const live = [...this.k.threads.values()].filter((t) => !t.dead);
    let cut: Cut;
    try {
      const t0 = performance.now();
      if (!(await this.freeze(live)) || !this.unchanged(live)) {
        this.counters.skippedFreeze++;
        this.failedFreezes++;
        return null;
      }
      this.failedFreezes = 0;
      cut = this.cut(t0);
    } catch (e) {
      this.captureFailed(e);
      return null;
    } finally {
      this.thaw(live);
      this.freezing = false;
    }
    try {
      const stats = this.handOver(cut);
      this.failedCaptures = 0;
      return stats;
    } catch (e) {
      this.captureFailed(e);
      return null;
    }
  }

  /** True when the threads are still the ones frozen and nothing holds checkpoints off. */
  private unchanged(live: LiveWorker[]): boolean {
    const now = [...this.k.threads.values()].filter((t) => !t.dead);
    return this.holds === 0 && this.k.allReady() && now.length === live.length &&
      now.every((t, i) => t === live[i]);
  }

  /** Inside the pause: changed records into the kernel PMO, the page scan, console heads. */
  private cut(t0: number): Cut {
    const t1 = performance.now();
    const objectRecords = this.k.table.dirtyCount;
    const spent = this.k.table.flush(this.k.kernelMemory);
    const t2 = performance.now();
    const captures = this.capturePages();
    const consoleHeads = this.consoleHeads();
    const t3 = performance.now();
    const digest = this.k.config.digest
      ? digestState(this.k.kernelPmo, [...this.k.pmos.loaded()].map(([r, b]) => [r.id, b]))
      : undefined;
    return { t0, t1, t2, t3, objectRecords, spent, captures, consoleHeads, digest };
  }

  /** After the thaw: the CoW copies, the statistics, and the capture to the board. */
  private handOver(c: Cut): CheckpointStats {
    const epoch = this.committedEpoch + 1;
    const t4 = performance.now();
    const { pages, nvmPages, cowPages } = this.copyOut(c.captures);
    const stats: CheckpointStats = {
      epoch,
      freezeUs: (c.t1 - c.t0) * 1000,
      capTreeUs: c.spent["CAP"] ?? 0,
      objectsUs: c.spent,
      pageCopyUs: (c.t3 - c.t2) * 1000,
      pauseUs: (t4 - c.t0) * 1000,
      dirtyPages: c.captures.length,
      cowPages,
      objectRecords: c.objectRecords,
      digest: c.digest,
    };
    this.recent.push(stats);
    if (this.recent.length > 4096) this.recent.shift();
    this.counters.taken++;
    this.inFlight = epoch;
    const root: CheckpointRoot = {
      epoch,
      kernelPages: KERNEL_PMO_PAGES,
      kernelPagesUsed: this.k.table.pagesUsed,
      nvmPages: this.k.config.nvmPages,
      takenAtMs: Date.now(),
    };
    this.k.post({
      t: "commit",
      epoch,
      root: JSON.stringify(root),
      pages,
      nvmPages,
      consoleHeads: c.consoleHeads,
      stats,
    }, [pages]);
    return stats;
  }

  /**
   * A capture threw (a bug, or memory the kernel could not read): the last
   * committed checkpoint stands, the system runs on, and the next tick tries
   * again; CHECKPOINT_FAILURES_MAX failures in a row halt the machine.
   */
  private captureFailed(e: unknown): void {
    this.counters.failed++;
    this.failedCaptures++;
    const why = e instanceof Error ? e.message : String(e);
    this.k.log(
      `kernel: E_CHECKPOINT_FAILED: checkpoint ${this.committedEpoch + 1} failed (${why}); ` +
        `epoch ${this.committedEpoch} stands, workers thawed (${this.failedCaptures} in a row)`,
    );
    if (this.failedCaptures >= CHECKPOINT_FAILURES_MAX) {
      this.k.panic(
        Err.E_CHECKPOINT_FAILED,
        `${this.failedCaptures} checkpoints in a row failed, the last with: ${why}; ` +
          `epoch ${this.committedEpoch} is the newest committed state: boot again to resume from it`,
      );
    }
  }

  /**
   * Raises the freeze line (DRAIN) and waits until every worker is between
   * steps: PARKED or WAITING. Workers in the middle of a step run on, and
   * parked ones serve the calls those steps make. Then CAPTURE, and a
   * second look at every WAKE_SEQ: a worker that woke in between sends the
   * freeze back to DRAIN. While a step waits for system calls the kernel
   * turns its own event loop to answer them.
   */
  private async freeze(live: LiveWorker[]): Promise<boolean> {
    this.setLine(live, FreezeLine.DRAIN);
    const start = performance.now();
    for (let spins = 0;; spins++) {
      const seqs = this.betweenSteps(live);
      if (seqs) {
        this.setLine(live, FreezeLine.CAPTURE);
        const again = this.betweenSteps(live);
        if (again && again.every((v, i) => v === seqs[i])) return true;
        this.setLine(live, FreezeLine.DRAIN);
      }
      if ((spins & 255) !== 255) {
        Atomics.pause();
        continue;
      }
      const waited = performance.now() - start;
      if (waited > FREEZE_BUDGET_MS) return false;
      if (live.some((t) => Atomics.load(t.control, ControlWord.SYSCALLS_PENDING) > 0)) {
        await new Promise((resolve) => setImmediate(resolve));
      } else if (waited > FREEZE_SPIN_MS) {
        // A worker that is not at a safe point yet may be waiting for a core: after a short
        // spin, give this one up in slices (two cores, and the board and timer want them too).
        Atomics.wait(this.sleepWord, 0, 0, FREEZE_SLICE_MS);
      }
    }
  }

  /** Every worker's WAKE_SEQ if all are PARKED or WAITING; null if one is not. */
  private betweenSteps(live: LiveWorker[]): number[] | null {
    const seqs: number[] = [];
    for (const t of live) {
      const seq = Atomics.load(t.control, ControlWord.WAKE_SEQ);
      const s = Atomics.load(t.control, ControlWord.RUN_STATE);
      if (s !== RunState.PARKED && s !== RunState.WAITING) return null;
      seqs.push(seq);
    }
    return seqs;
  }

  /**
   * Sets every worker's freeze line. Only a worker that found CAPTURE sleeps
   * on the line itself (until it changes), so raising it wakes nobody.
   */
  private setLine(live: LiveWorker[], line: FreezeLine): void {
    for (const t of live) {
      const was = Atomics.exchange(t.control, ControlWord.FREEZE, line);
      if (was === FreezeLine.CAPTURE) Atomics.notify(t.control, ControlWord.FREEZE);
    }
  }

  /** Never notified: the freeze sleeps on it for a slice at a time. */
  private readonly sleepWord = new Int32Array(new SharedArrayBuffer(4));

  /**
   * Lowers the freeze line. Parked workers sleep on their doorbells, so ring
   * theirs (not a WAITING worker's: it sleeps on as before the freeze).
   */
  private thaw(live: LiveWorker[]): void {
    this.setLine(live, FreezeLine.OFF);
    for (const t of live) {
      const parked = Atomics.load(t.control, ControlWord.RUN_STATE) === RunState.PARKED;
      if (parked && t.doorbellWords) ringDoorbell(t.doorbellWords);
    }
  }

  /**
   * Scans every loaded PMO (and the kernel's) for dirty pages; copies or
   * marks them. Page states are read four at a time (CLEAN is 0), so the
   * clean majority of pages costs a quarter of a byte-by-byte scan.
   */
  private capturePages(): Capture[] {
    const captures: Capture[] = [];
    this.scanPmo(this.k.kernelPmo, 0, captures);
    for (const [rec, bufs] of this.k.pmos.loaded()) this.scanPmo(bufs, rec.nvmBase, captures);
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
    if (this.k.config.debugBarrier) this.checkBarrier(bufs, scan.state);
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
    const method = this.k.config.copyMethod;
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

  /** Per PMO (by its page-state buffer, so a destroyed PMO's entry goes with it). */
  private readonly scans = new WeakMap<SharedArrayBuffer, PageScan>();
  private staging: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  /** Staging buffers the board gave back after writing them: reused, so no page faults in the pause. */
  private readonly pool: ArrayBuffer[] = [];
  /** One Uint8Array view per SharedArrayBuffer, made once. */
  private readonly views = new WeakMap<SharedArrayBuffer, Uint8Array>();

  private stagingBuffer(bytes: number): Uint8Array<ArrayBuffer> {
    const i = this.pool.findIndex((b) => b.byteLength >= bytes);
    const buf = i >= 0
      ? this.pool.splice(i, 1)[0]
      : new ArrayBuffer(Math.max(bytes, 64 * PAGE_BYTES));
    return new Uint8Array(buf, 0, bytes);
  }

  /** The board is done with a staging buffer. */
  recycle(buffer: ArrayBuffer): void {
    if (this.pool.length < 4) this.pool.push(buffer);
  }

  private copyPage(from: SharedArrayBuffer, page: number, index: number): void {
    let view = this.views.get(from);
    if (!view) this.views.set(from, view = new Uint8Array(from));
    const at = page * PAGE_BYTES;
    this.staging.set(view.subarray(at, at + PAGE_BYTES), index * PAGE_BYTES);
  }

  /** After the thaw: copy the CoW pages (racing writers safely), then hand the staging buffer over. */
  private copyOut(
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

  /** Console ring heads at the cut: output up to them is released when this epoch commits. */
  private consoleHeads(): Array<[number, number]> {
    const heads: Array<[number, number]> = [];
    for (const t of this.k.threads.values()) {
      const bufs = this.k.pmos.loadedBuffers(t.rec.consolePmo);
      if (bufs) heads.push([t.rec.id, consoleHead(bufs)]);
    }
    return heads;
  }

  /** Debug mode: a CLEAN page whose bytes changed since the last checkpoint skipped the barrier. */
  private checkBarrier(bufs: PmoBuffers, state: Uint8Array): void {
    const id = bufs.id;
    const now = new Uint8Array(bufs.data);
    const shadow = this.shadows.get(bufs.data);
    if (shadow) {
      for (let page = 0; page < state.length; page++) {
        if (state[page] !== PageState.CLEAN) continue;
        const a = page * PAGE_BYTES;
        for (let i = a; i < a + PAGE_BYTES; i++) {
          if (now[i] !== shadow[i]) {
            this.counters.barrierViolations++;
            this.k.log(`debug barrier: PMO ${id} page ${page} changed without the write barrier`);
            break;
          }
        }
      }
    }
    this.shadows.set(bufs.data, now.slice());
  }

  /** The board made `epoch` durable. */
  onCommitted(epoch: number): void {
    if (epoch !== this.inFlight) return;
    this.committedEpoch = epoch;
    this.inFlight = 0;
    this.counters.committed++;
    for (const w of this.waiters.splice(0)) w();
  }

  /** The epoch the next capture will have: what a PMO created now is first part of. */
  get nextCaptureEpoch(): number {
    return Math.max(this.committedEpoch, this.inFlight) + 1;
  }

  /** Keeps new checkpoints from starting until `release` (the hold counts). */
  hold(): void {
    this.holds++;
  }

  /** Ends one `hold`. */
  release(): void {
    this.holds--;
  }

  /** Resolves when no commit is in flight. */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  /** Takes a checkpoint and waits for its commit (clean shutdown). Retries a busy freeze. */
  async finalCheckpoint(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      // A tick may start a checkpoint before this continuation runs: take() then declines.
      await this.idle();
      if (this.k.allReady() && await this.take()) return this.idle();
      await new Promise((r) => setTimeout(r, 10));
    }
    this.k.log("kernel: final checkpoint skipped: workers did not reach a safe point");
  }
}
