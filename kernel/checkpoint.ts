/**
 * The checkpoint manager: TreeSLS's whole-system checkpoint, every tick.
 *
 * Map of this file:
 * - `onTick`, `onOutput`: starts a checkpoint when no commit is in flight,
 *   every thread has reached its first safe point, and either the period has
 *   passed or output is waiting (group commit: console or NIC transmit bytes
 *   past the last cut; a worker's `output` hint says so at once, and a
 *   commit looks again, so output that came while one was in flight goes in
 *   the next, started the moment the first commits).
 * - `take`: the stop-the-world pause. (1) freeze (kernel/freeze.ts): DRAIN,
 *   then CAPTURE once every worker is PARKED or WAITING; (2) capability tree
 *   and other kernel objects: flush changed records into the kernel memory
 *   object; (3) page copy (kernel/page_capture.ts): copy DIRTY pages
 *   (stop-and-copy) or mark them COW_PENDING (copy-on-write; hybrid does
 *   this for cold pages only); (4) thaw. After the pause the pending CoW
 *   pages are copied while workers run, and the capture goes to the board,
 *   which writes it to the image and commits (hw/board.ts).
 * - `onCommitted`: the board made epoch E durable; output up to E is released
 *   by the board; output written since the cut starts the next checkpoint.
 * - `hold` / `release` / `idle`, `finalCheckpoint`: for rollback and shutdown.
 * - `waitCovering`: the `checkpoint_wait` system call: resolves once a
 *   checkpoint whose cut comes after the call has committed, and starts
 *   that checkpoint at once as output would (group commit or not).
 *
 * The manager sees the kernel through {@link CheckpointHost} (kernel/services.ts).
 *
 * @module
 */

import { Err } from "./abi/errors.ts";
import { CHECKPOINT_FAILURES_MAX, FREEZE_BACKOFF_MS_MAX, periodElapsed } from "./abi/limits.ts";
import type { CheckpointStats } from "./abi/protocol.ts";
import type { CheckpointInfo } from "./abi/syscall_types.ts";
import { type RecentCheckpoint, REPORT_CHECKPOINTS_MAX } from "./abi/report.ts";
import { consoleHead } from "./abi/console.ts";
import { ControlWord } from "./abi/layout.ts";
import { type CheckpointRoot, KERNEL_PMO_PAGES } from "./abi/image_root.ts";
import { digestState } from "./digest.ts";
import { freeze, thaw } from "./freeze.ts";
import { type Capture, PageCapture } from "./page_capture.ts";
import type {
  CheckpointControl,
  CheckpointCounters,
  CheckpointHost,
  FrozenThread,
} from "./services.ts";

/** Pause statistics kept for system_info and the benchmarks (the oldest go first). */
const RECENT_STATS_MAX = 4096;
/** Tries of the final checkpoint at shutdown before it is skipped. */
const FINAL_CHECKPOINT_TRIES_MAX = 50;
/** Wait between two tries of the final checkpoint. */
const FINAL_CHECKPOINT_RETRY_MS = 10;

/** What the pause took, handed over after the thaw. */
interface Cut {
  t0: number;
  t1: number;
  t2: number;
  t3: number;
  objectRecords: number;
  spent: Record<string, number>;
  captures: Capture[];
  /** Chunks of page states the scan read. */
  scannedChunks: number;
  consoleHeads: Array<[number, number]>;
  /** The NIC transmit ring's HEAD at the cut. */
  nicTxHead: number | undefined;
  /** The NIC's connection table at the cut. */
  nicTable: Uint8Array | undefined;
  /** The console input device's LINES at the cut. */
  consoleInLines: number | undefined;
  digest: string | undefined;
  /** Nothing new since the committed epoch: no page, the same heads and table (see `cut`). */
  unchanged: boolean;
}

/** Periods a checkpoint of the period alone waits at most for no step to be in flight. */
const STEP_DEFER_PERIODS = 8;

/** Drives checkpoints for one kernel. */
export class CheckpointManager implements CheckpointControl {
  /** The newest committed epoch. */
  committedEpoch: number;
  private inFlight = 0;
  /** The next cut commits even if nothing changed: someone asked for a checkpoint now. */
  private forceCommit = false;
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
  /** `checkpoint_wait` callers: each with the first epoch whose commit covers its call. */
  private coverWaiters: Array<{ epoch: number; resolve: (epoch: number) => void }> = [];
  readonly counters: CheckpointCounters = {
    taken: 0,
    committed: 0,
    skippedBusy: 0,
    skippedFreeze: 0,
    unchanged: 0,
    failed: 0,
    barrierViolations: 0,
  };
  /** The most recent pause statistics (bounded ring). */
  readonly recent: CheckpointStats[] = [];
  /** The newest committed checkpoints with their commit time (the system report's). */
  readonly recentCommitted: RecentCheckpoint[] = [];
  /** The statistics of the capture in flight and when it went to the board. */
  private handedOver: { stats: CheckpointStats; at: number } | undefined;
  /** Wall-clock time (Unix ms) the newest checkpoint of this boot committed; 0 before the first. */
  private lastCommitUnixMs = 0;
  private readonly pages: PageCapture;

  /** Milliseconds between checkpoints; 0: off. */
  private periodMs: number;
  /** Each thread's console HEAD at the last cut: bytes past it wait for a checkpoint. */
  private readonly cutConsoleHeads = new Map<number, number>();
  /** The NIC transmit ring's HEAD at the last cut. */
  private cutNicTxHead: number | undefined;
  /** The NIC's connection table at the last cut. */
  private cutNicTable: Uint8Array | undefined;
  /** The console input device's LINES at the last cut. */
  private cutConsoleInLines: number | undefined;
  /**
   * True when the last cut is the committed epoch's state: it committed, or
   * it was unchanged itself. False from a cut until its commit, after a
   * failure, and at boot (the first cut always commits).
   */
  private cutCommitted = false;

  /** @param epoch the newest committed epoch (0 on a fresh image) */
  constructor(private readonly k: CheckpointHost, epoch: number) {
    this.committedEpoch = epoch;
    this.periodMs = k.config.checkpointMs;
    this.pages = new PageCapture(k.config, (pmoId, page) => {
      this.counters.barrierViolations++;
      k.log(`debug barrier: PMO ${pmoId} page ${page} changed without the write barrier`);
    });
  }

  /** Changes the period at run time (the board's `checkpoint-ms` command); 0 turns checkpoints off. */
  setPeriod(ms: number): void {
    this.periodMs = ms;
    // Nothing will commit now: those waiting are answered as a call made now would be.
    if (ms === 0) this.resolveCovered(Number.POSITIVE_INFINITY, this.committedEpoch);
    this.k.log(ms === 0 ? "kernel: checkpoints off" : `kernel: checkpoints every ${ms} ms`);
  }

  /** The checkpoint period in milliseconds; 0: checkpoints off. */
  get period(): number {
    return this.periodMs;
  }

  /** Called on every timer tick: a checkpoint if the period has passed or output waits. */
  onTick(nowMs: number): void {
    const period = this.periodMs;
    // A worker stuck in a handler (until the watchdog stops it) would otherwise have every
    // other worker parked most of the time by freezes that cannot finish: back off.
    const wait = Math.min(period << Math.min(this.failedFreezes, 16), FREEZE_BACKOFF_MS_MAX);
    if (period === 0) return;
    const due = periodElapsed(nowMs, this.lastTakenMs, Math.max(period, wait));
    const output = this.failedFreezes === 0 && (this.outputWaiting() || this.coverWanted());
    if (!due && !output) return;
    if (!output && this.deferForStep(nowMs, period)) return;
    if (!this.canStart()) {
      if (due) this.counters.skippedBusy++;
      return;
    }
    this.lastTakenMs = nowMs;
    this.take();
  }

  /**
   * A worker wrote output (its `output` hint): group commit. The checkpoint
   * starts now if it can; if one is in flight, `onCommitted` starts the next;
   * after a freeze that timed out the tick's back-off decides.
   */
  onOutput(): void {
    if (this.periodMs === 0 || this.failedFreezes > 0 || !this.canStart()) return;
    if (!this.outputWaiting() && !this.coverWanted()) return;
    this.lastTakenMs = performance.now();
    this.take();
  }

  /**
   * With group commit, a checkpoint only the period asks for waits for a
   * tick when no worker is in a step (ControlWord.IN_STEP), for at most
   * STEP_DEFER_PERIODS periods: its freeze would hold every worker parked
   * until that step ended (at -c 50 against the kv store, a drain of 50
   * requests: 28 % of the time paused), while output the step makes starts
   * a checkpoint of its own the moment the step is over.
   */
  private deferForStep(nowMs: number, period: number): boolean {
    if (!this.k.config.groupCommit) return false;
    if (periodElapsed(nowMs, this.lastTakenMs, period * STEP_DEFER_PERIODS)) return false;
    for (const t of this.k.threads.values()) {
      if (!t.dead && Atomics.load(t.control, ControlWord.IN_STEP) !== 0) return true;
    }
    return false;
  }

  /** True when no commit is in flight, no freeze runs, nothing holds checkpoints and all are ready. */
  private canStart(): boolean {
    return this.inFlight === 0 && !this.freezing && this.holds === 0 && this.k.allReady();
  }

  /** True when a console or the NIC transmit ring holds bytes past the last cut. */
  private outputWaiting(): boolean {
    if (!this.k.config.groupCommit) return false;
    const nicHead = this.k.nic.head();
    if (nicHead !== undefined && nicHead !== this.cutNicTxHead) return true;
    for (const t of this.k.threads.values()) {
      if (t.dead) continue;
      const bufs = this.k.pmos.loadedBuffers(t.rec.consolePmo);
      if (bufs && consoleHead(bufs) !== this.cutConsoleHeads.get(t.rec.id)) return true;
    }
    return false;
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
      if (!(await freeze(live)) || !this.unchanged(live)) {
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
      thaw(live);
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
  private unchanged(live: FrozenThread[]): boolean {
    const now = [...this.k.threads.values()].filter((t) => !t.dead);
    return this.holds === 0 && this.k.allReady() && now.length === live.length &&
      now.every((t, i) => t === live[i]);
  }

  /**
   * Inside the pause: changed records into the kernel PMO, the page scan,
   * console heads. The cut is `unchanged` when the last cut is committed and
   * this one finds nothing since: no page dirty (the kernel PMO included,
   * which holds every object record), and the same console and NIC heads,
   * NIC table and console input LINES (these live in pages too; compared
   * anyway, so nothing the commit would carry can differ).
   */
  private cut(t0: number): Cut {
    const t1 = performance.now();
    const objectRecords = this.k.table.dirtyCount;
    const spent = this.k.table.flush(this.k.kernelMemory);
    const t2 = performance.now();
    const captures = this.pages.capture(this.k.kernelPmo, this.k.pmos.loaded());
    const consoleHeads = this.consoleHeads();
    const nicTxHead = this.k.nic.head();
    const nicTable = this.k.nic.table();
    const consoleInLines = this.k.consoleIn.lines();
    // An explicit request (checkpoint_now, checkpoint-now) commits a checkpoint of its own.
    const unchanged = !this.forceCommit && this.cutCommitted && captures.length === 0 &&
      this.sameAsLastCut(consoleHeads, nicTxHead, nicTable) &&
      consoleInLines === this.cutConsoleInLines;
    this.cutConsoleHeads.clear();
    for (const [thread, head] of consoleHeads) this.cutConsoleHeads.set(thread, head);
    this.cutNicTxHead = nicTxHead;
    this.cutNicTable = nicTable;
    this.cutConsoleInLines = consoleInLines;
    this.cutCommitted = unchanged;
    this.forceCommit = false;
    const t3 = performance.now();
    const digest = this.k.config.digest
      ? digestState(this.k.kernelPmo, [...this.k.pmos.loaded()].map(([r, b]) => [r.id, b]))
      : undefined;
    return {
      t0,
      t1,
      t2,
      t3,
      objectRecords,
      spent,
      captures,
      scannedChunks: this.pages.scannedChunks,
      consoleHeads,
      nicTxHead,
      nicTable,
      consoleInLines,
      digest,
      unchanged,
    };
  }

  /** True when the heads and the table equal the last cut's. */
  private sameAsLastCut(
    consoleHeads: Array<[number, number]>,
    nicTxHead: number | undefined,
    nicTable: Uint8Array | undefined,
  ): boolean {
    if (nicTxHead !== this.cutNicTxHead) return false;
    if (consoleHeads.length !== this.cutConsoleHeads.size) return false;
    for (const [thread, head] of consoleHeads) {
      if (this.cutConsoleHeads.get(thread) !== head) return false;
    }
    const last = this.cutNicTable;
    if (nicTable === undefined || last === undefined) return nicTable === last;
    return nicTable.length === last.length && nicTable.every((b, i) => b === last[i]);
  }

  /**
   * After the thaw: the CoW copies, the statistics, and the capture to the
   * board. An unchanged cut goes no further than its statistics: the
   * committed epoch holds its state, so it is not written or committed; the
   * output it covers (none new) is already released, and the
   * `checkpoint_wait` callers it covers are answered with the committed
   * epoch at once.
   */
  private handOver(c: Cut): CheckpointStats {
    const epoch = c.unchanged ? this.committedEpoch : this.committedEpoch + 1;
    const t4 = performance.now();
    const { pages, nvmPages, cowPages } = this.pages.copyOut(c.captures);
    const stats: CheckpointStats = {
      epoch,
      freezeUs: (c.t1 - c.t0) * 1000,
      capTreeUs: c.spent["CAP"] ?? 0,
      objectsUs: c.spent,
      pageCopyUs: (c.t3 - c.t2) * 1000,
      pauseUs: (t4 - c.t0) * 1000,
      dirtyPages: c.captures.length,
      cowPages,
      scannedChunks: c.scannedChunks,
      objectRecords: c.objectRecords,
      digest: c.digest,
    };
    this.recent.push(stats);
    if (this.recent.length > RECENT_STATS_MAX) this.recent.shift();
    this.counters.taken++;
    if (c.unchanged) {
      stats.unchanged = true;
      this.counters.unchanged++;
      this.pages.recycle(pages);
      this.k.post({ t: "unchanged", stats });
      this.resolveCovered(epoch + 1, epoch);
      return stats;
    }
    this.inFlight = epoch;
    this.handedOver = { stats, at: performance.now() };
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
      nicTxHead: c.nicTxHead,
      nicTable: c.nicTable,
      consoleInLines: c.consoleInLines,
      stats,
    });
    return stats;
  }

  /**
   * A capture threw (a bug, or memory the kernel could not read): the last
   * committed checkpoint stands, the system runs on, and the next tick tries
   * again; CHECKPOINT_FAILURES_MAX failures in a row halt the machine.
   */
  private captureFailed(e: unknown): void {
    this.cutCommitted = false;
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

  /** The board is done with a staging buffer. */
  recycle(buffer: SharedArrayBuffer): void {
    this.pages.recycle(buffer);
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

  /** The board made `epoch` durable. */
  onCommitted(epoch: number): void {
    if (epoch !== this.inFlight) return;
    this.committedEpoch = epoch;
    this.inFlight = 0;
    this.counters.committed++;
    this.cutCommitted = true;
    this.lastCommitUnixMs = Date.now();
    if (this.handedOver?.stats.epoch === epoch) {
      const commitUs = (performance.now() - this.handedOver.at) * 1000;
      this.recentCommitted.push({ ...this.handedOver.stats, commitUs });
      if (this.recentCommitted.length > REPORT_CHECKPOINTS_MAX) this.recentCommitted.shift();
      this.handedOver = undefined;
    }
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
    this.resolveCovered(epoch);
    // Group commit: output written since the cut goes in the next checkpoint, started now
    // (unless someone waits to take one of their own: the final checkpoint at shutdown).
    if (waiters.length === 0) this.onOutput();
  }

  /** The figures `checkpoint_info` reports. */
  info(): CheckpointInfo {
    return {
      periodMs: this.periodMs,
      committed: this.counters.committed,
      lastCommitUnixMs: this.lastCommitUnixMs,
      lastPauseUs: this.recent.at(-1)?.pauseUs ?? 0,
    };
  }

  /** The figures of committed checkpoint `epoch` while it is among the recent ones. */
  committed(epoch: number): RecentCheckpoint | undefined {
    return this.recentCommitted.find((c) => c.epoch === epoch);
  }

  /**
   * Resolves with the committed epoch once a checkpoint whose cut comes
   * after this call has committed (`checkpoint_wait`). A cut taken from
   * now on is the next capture's ({@link nextCaptureEpoch}: a freeze in
   * progress has not cut yet), so that epoch covers the call; it starts as
   * soon as it can, like output waiting for a commit. With checkpoints off
   * nothing will commit: it resolves at once with the last committed epoch
   * (and so do the callers still waiting when they are turned off).
   * `force`: that checkpoint commits even if nothing changed since the last
   * (an explicit request, whose answer names a checkpoint of its own).
   */
  waitCovering(force = false): Promise<number> {
    if (this.periodMs === 0) return Promise.resolve(this.committedEpoch);
    if (force) this.forceCommit = true;
    const epoch = this.nextCaptureEpoch;
    const p = new Promise<number>((resolve) => this.coverWaiters.push({ epoch, resolve }));
    if (this.failedFreezes === 0 && this.canStart()) {
      this.lastTakenMs = performance.now();
      this.take();
    }
    return p;
  }

  /** True when a `checkpoint_wait` caller waits for a checkpoint not taken yet. */
  private coverWanted(): boolean {
    return this.coverWaiters.length > 0 && this.inFlight === 0;
  }

  /**
   * Answers the `checkpoint_wait` callers that the cut of `epoch` covers
   * with `committed` (the epoch itself, or the committed one an unchanged
   * cut equals); the rest wait for the next.
   */
  private resolveCovered(epoch: number, committed = epoch): void {
    const later: typeof this.coverWaiters = [];
    for (const w of this.coverWaiters) {
      if (w.epoch <= epoch) w.resolve(committed);
      else later.push(w);
    }
    this.coverWaiters = later;
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
    for (let attempt = 0; attempt < FINAL_CHECKPOINT_TRIES_MAX; attempt++) {
      // A tick may start a checkpoint before this continuation runs: take() then declines.
      await this.idle();
      if (this.k.allReady() && await this.take()) return this.idle();
      await new Promise((r) => setTimeout(r, FINAL_CHECKPOINT_RETRY_MS));
    }
    this.k.log("kernel: final checkpoint skipped: workers did not reach a safe point");
  }
}
