/**
 * Supervision of workers (MINIX 3's reincarnation server, in the kernel).
 *
 * Map of this file:
 * - {@link Supervisor.watchdog}: each tick, stops a worker that never got
 *   ready, went silent, or ran a handler past its budget.
 * - {@link Supervisor.onWorkerFailed}: E_PEER_DIED to the failed thread's
 *   peers, then its restart policy: `fresh`, `rollback` (its memory back to
 *   the last commit first), `system-rollback` (the board resumes the whole
 *   system), `none`; RESTART_FAILURES_MAX failures in a row leave it dead.
 * - {@link Supervisor.onInject}: the board's fault-injection port and the
 *   monitor's `fault_inject`.
 * - {@link Supervisor.stop}: the kernel stops for good (shutdown).
 *
 * Each act is a log line and a structured event (kernel/abi/report.ts
 * MonitorEvent: crash, restart, dead, rollback, inject); the counts of
 * failures and restarts since this boot are kept for the system report.
 *
 * @module
 */

import { ControlWord } from "./abi/layout.ts";
import {
  RESTART_FAILURES_MAX,
  RESTART_STABLE_MS,
  SILENT_BUDGET_MS_MIN,
  START_BUDGET_FACTOR,
  START_BUDGET_MS_MIN,
} from "./abi/limits.ts";
import { Err, TardigradeError } from "./abi/errors.ts";
import { type FaultKind, INIT_PROGRAM } from "./abi/protocol.ts";
import { watchdogElapsed, watchdogStamp } from "./abi/watchdog.ts";
import { closeConnectionsOf } from "./objects/endpoint.ts";
import { ObjKind, type ThreadRecord } from "./objects/records.ts";
import type { KernelServices } from "./services.ts";
import { type LiveThread, sendToWorker } from "./threads.ts";

/** Watches every worker and restarts failed ones by their policy. */
export class Supervisor {
  /** True once the kernel stops for good: shutdown, or a system rollback. */
  stopped = false;
  /** Failures of each thread since this boot (the system report's figures). */
  readonly failures = new Map<number, number>();
  /** Restarts of each thread since this boot. */
  readonly restarts = new Map<number, number>();
  /** Threads that failed and are being started again (their memory may be rolling back). */
  readonly restarting = new Set<number>();

  constructor(private readonly k: KernelServices) {}

  /** The cap group name of thread record `rec` ("?" when it is gone). */
  private nameOf(rec: { group: number }): string {
    const g = this.k.table.get(rec.group);
    return g?.kind === ObjKind.CAP_GROUP ? g.name : "?";
  }

  /** Stops a worker for good: its port is closed and the board terminates it. */
  terminate(live: LiveThread): void {
    live.dead = true;
    live.port.close();
    this.k.post({ t: "terminate", threadId: live.rec.id });
  }

  /** The kernel stops for good: no restarts, no checkpoints; every worker is terminated. */
  stop(): void {
    this.stopped = true;
    for (const t of this.k.threads.values()) if (!t.dead) this.terminate(t);
  }

  /** The board saw thread `threadId`'s worker fail (uncaught error). */
  onWorkerError(threadId: number, message: string): void {
    const live = this.k.threads.get(threadId);
    if (live) this.onWorkerFailed(live, message);
  }

  /**
   * A worker threw, exited or was stopped by the watchdog. Its callers get
   * E_PEER_DIED; then its policy decides: `fresh` starts it again on its
   * memory as it is, `rollback` first puts that memory back as the last
   * committed checkpoint holds it, `system-rollback` rolls everything back
   * (the board resumes from the image), `none` leaves it dead. A thread that
   * fails RESTART_FAILURES_MAX times in a row, each within RESTART_STABLE_MS
   * of becoming ready, is left dead.
   */
  onWorkerFailed(live: LiveThread, why: string): void {
    const k = this.k;
    if (live.dead || this.stopped) return;
    this.terminate(live);
    const id = live.rec.id;
    const name = this.nameOf(live.rec);
    this.failures.set(id, (this.failures.get(id) ?? 0) + 1);
    k.log(`kernel: thread ${id} (${live.rec.program}) failed: ${why}`);
    k.event("crash", name, `thread ${id} (${live.rec.program}) failed: ${why}`, id);
    const rec = k.table.get(id) as ThreadRecord | undefined;
    const stable = live.ready && performance.now() - live.readyAt >= RESTART_STABLE_MS;
    const inARow = stable ? 1 : (rec?.restarts ?? 0) + 1;
    const restarting = rec !== undefined && rec.policy !== "none" &&
      rec.policy !== "system-rollback" && inARow <= RESTART_FAILURES_MAX;
    closeConnectionsOf(k, id, `peer thread ${id} died`, restarting);
    if (!rec || rec.policy === "none") {
      k.event("dead", name, `thread ${id} stays stopped (policy none)`, id);
      return k.onThreadReady();
    }
    if (inARow > RESTART_FAILURES_MAX) {
      const text = `thread ${id} failed ${RESTART_FAILURES_MAX} times in a row, each within ` +
        `${RESTART_STABLE_MS} ms of starting; it stays stopped`;
      k.log(`kernel: ${text}`);
      k.event("dead", name, text, id);
      return k.onThreadReady();
    }
    k.table.update(rec, { restarts: inARow });
    if (rec.policy === "system-rollback") {
      return this.systemRollback(`thread ${id} failed`, name, id);
    }
    const text = `restarting thread ${id} (policy ${rec.policy}, failure ${inARow} in a row)`;
    k.log(`kernel: ${text}`);
    k.event("restart", name, text, id);
    this.restarts.set(id, (this.restarts.get(id) ?? 0) + 1);
    this.restarting.add(id);
    const started = () => this.restarting.delete(id);
    if (rec.policy === "fresh") {
      k.spawn(rec, true).finally(started);
      return;
    }
    this.rollBackMemory(rec.group, name, id).then(() => k.spawn(rec, true)).finally(started);
  }

  /**
   * Puts the memory of `group` back as the last committed checkpoint holds
   * it: its data PMOs and its console rings (so output made since, never
   * released, is gone with the state that made it). Connection rings are
   * shared with peers and stay. No checkpoint starts meanwhile (one taken
   * now would capture the memory as the failure left it); one in flight was
   * captured while the thread was at a safe point, so it may finish first.
   */
  private async rollBackMemory(group: number, name: string, thread: number): Promise<void> {
    const k = this.k;
    const t0 = performance.now();
    k.checkpoints.hold();
    try {
      await k.checkpoints.idle();
      const epoch = k.checkpoints.committedEpoch;
      const pmos = [...k.table.ofKind(ObjKind.PMO)].filter((p) =>
        p.owner === group && (p.role === "data" || p.role === "console")
      );
      let changed = 0;
      for (const pmo of pmos) changed += await k.pmos.rollBack(pmo, epoch);
      const text = `rolled ${pmos.length} memory objects of cap group ${group} back to epoch ` +
        `${epoch} (${changed} pages changed) in ${(performance.now() - t0).toFixed(1)} ms`;
      k.log(`kernel: ${text}`);
      k.event("rollback", name, text, thread);
    } finally {
      k.checkpoints.release();
    }
  }

  /** Stops the kernel and asks the board to resume the whole system from the last commit. */
  private systemRollback(reason: string, name: string, thread: number): void {
    this.stopped = true;
    const text = `system rollback to epoch ${this.k.checkpoints.committedEpoch} (${reason})`;
    this.k.log(`kernel: ${text}`);
    this.k.event("rollback", name, text, thread);
    this.k.post({ t: "system-rollback", reason });
  }

  /**
   * Makes the component named `target` commit `fault` (the board's
   * fault-injection port, the monitor's `fault_inject`). Returns what it
   * did; throws E_DENIED when the machine runs without --fault-injection,
   * E_NOT_FOUND when no ready component has that name.
   */
  onInject(target: string, fault: FaultKind, seed: number): string {
    const k = this.k;
    if (!k.config.faultInjection) {
      throw new TardigradeError(
        Err.E_DENIED,
        "fault injection is off; start the machine with --fault-injection",
      );
    }
    const live = [...k.threads.values()].find((t) =>
      !t.dead && t.ready && this.nameOf(t.rec) === target
    );
    if (!live) {
      throw new TardigradeError(Err.E_NOT_FOUND, `no running component named "${target}"`, {
        target,
      });
    }
    const text = `injecting ${fault} into ${target} (thread ${live.rec.id})`;
    k.log(`fault: ${text}`);
    k.event("inject", target, text, live.rec.id);
    sendToWorker(live, { t: "inject", fault, seed });
    return text;
  }

  /** Stops any worker whose current run of handlers is past the handler budget (endless loops). */
  watchdog(): void {
    const now = watchdogStamp();
    const budget = this.k.config.handlerBudgetMs;
    // No checkpoint is taken before every thread reached its first safe point: a start-up
    // that never finishes would hold back everyone's output. init, the trusted root, may take long.
    const startBudget = Math.max(START_BUDGET_MS_MIN, START_BUDGET_FACTOR * budget);
    // A live worker beats at least every WAIT_SLICE_MS; silence much longer than that means it
    // is gone (or stuck outside any handler, in an async continuation).
    const silentBudget = Math.max(SILENT_BUDGET_MS_MIN, 2 * budget);
    for (const t of this.k.threads.values()) {
      if (t.dead) continue;
      if (
        !t.ready && t.rec.program !== INIT_PROGRAM &&
        performance.now() - t.spawnedAt > startBudget
      ) {
        this.onWorkerFailed(t, `watchdog: not ready (first safe point) within ${startBudget} ms`);
        continue;
      }
      const beat = Atomics.load(t.control, ControlWord.HEARTBEAT);
      if (beat !== t.beat.value) t.beat = { value: beat, at: performance.now() };
      else if (t.ready && performance.now() - t.beat.at > silentBudget) {
        this.onWorkerFailed(t, `watchdog: no heartbeat for ${silentBudget} ms (the worker exited)`);
        continue;
      }
      const started = Atomics.load(t.control, ControlWord.HANDLER_STARTED_MS);
      if (started === 0 || watchdogElapsed(now, started) <= budget) continue;
      this.onWorkerFailed(t, `watchdog: a handler ran past its budget of ${budget} ms`);
    }
  }
}
