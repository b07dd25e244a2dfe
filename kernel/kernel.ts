/**
 * The kernel: its state, and the hub that wires its parts together, inside
 * the kernel worker.
 *
 * Map of this file:
 * - state: the object table, capability spaces, memory objects, live
 *   threads, the kernel memory object, the checkpoint manager.
 * - {@link Kernel} implements {@link KernelServices} and
 *   {@link CheckpointHost} (kernel/services.ts) for the modules that act
 *   for it, and delegates by job: boot, resume and dormancy to
 *   kernel/boot.ts; watchdog, restart policies and rollback to
 *   kernel/supervisor.ts; system-call entry to kernel/dispatch.ts; each
 *   object kind's behaviour to kernel/objects/.
 * - threads: `spawn` starts a thread's worker; `postEvent` reaches it.
 * - timer: `onTick` runs the watchdog, wakes rung dormant threads, fires
 *   timer IRQs, starts checkpoints and (--report-ms) sends the report.
 * - the monitor's side: `event` (structured events to the board),
 *   `report` (kernel/report.ts), `inject`.
 * - readiness, page loads from the image, and shutdown.
 *
 * @module
 */

import { type Err, errName } from "./abi/errors.ts";
import type { PmoBuffers } from "./abi/layout.ts";
import {
  type FaultKind,
  INIT_PROGRAM,
  type KernelConfig,
  type KernelEvent,
  type KernelToBoard,
  type WorkerMessage,
} from "./abi/protocol.ts";
import { CapSpaces } from "./cspace.ts";
import { NvmExtents, PmoManager } from "./memory.ts";
import { ObjectTable } from "./object_table.ts";
import { KERNEL_PMO_PAGES } from "./abi/image_root.ts";
import { ObjKind, type ThreadRecord } from "./objects/records.ts";
import { reattachConnections } from "./objects/endpoint.ts";
import { fireLine, TimerIrqs } from "./objects/irq.ts";
import { type LiveThread, sendToWorker, startWorker } from "./threads.ts";
import { PersistentMemory } from "./abi/pmem.ts";
import { allocatePmoBuffers } from "./abi/pmem.ts";
import { CheckpointManager } from "./checkpoint.ts";
import { ConsoleRegisters } from "./consoles.ts";
import { NicDevice } from "./nic.ts";
import { ConsoleInDevice } from "./console_in.ts";
import { bootFresh, Dormancy, resume } from "./boot.ts";
import { Supervisor } from "./supervisor.ts";
import { onWorkerMessage } from "./dispatch.ts";
import type { CheckpointHost, KernelServices } from "./services.ts";
import type { EventKind, SystemReport, ToBoard } from "./abi/report.ts";
import { buildReport } from "./report.ts";

/** The whole kernel state. One instance per kernel worker. */
export class Kernel implements KernelServices, CheckpointHost {
  readonly table: ObjectTable;
  readonly caps: CapSpaces;
  readonly pmos: PmoManager;
  readonly threads = new Map<number, LiveThread>();
  /** The kernel memory object: where object records are flushed at each checkpoint. */
  readonly kernelPmo: PmoBuffers;
  readonly kernelMemory: PersistentMemory;
  readonly checkpoints: CheckpointManager;
  /** Each thread's console device register, kept across restarts of its worker. */
  readonly consoles: ConsoleRegisters;
  /** Restored threads not started yet. */
  readonly dormancy: Dormancy;
  /** The NIC's transmit ring. */
  readonly nic: NicDevice;
  /** The console input device (kernel/console_in.ts). */
  readonly consoleIn: ConsoleInDevice;
  /** Watchdog and restart policies. */
  readonly supervisor: Supervisor;
  private readonly timerIrqs = new TimerIrqs();
  private readonly loadRequests = new Map<number, () => void>();
  private nextLoadRequest = 1;
  private announcedReady = false;
  /** True when this boot resumed from a checkpoint. */
  resumed = false;
  /** True once boot or resume has started every thread (see `finishBoot`): no checkpoint before. */
  booted = false;
  /** performance.now() when this kernel started (the report's uptime counts from it). */
  readonly startedAt = performance.now();
  /** When the last report went to the board (--report-ms). */
  private reportedAt = 0;

  /**
   * @param restored on resume: the kernel PMO's data as the board read it
   *   from the image, and how many of its pages hold records
   */
  constructor(
    readonly config: KernelConfig,
    private readonly toBoard: (msg: ToBoard, transfer?: Transferable[]) => void,
    restored: { data: SharedArrayBuffer; pagesUsed: number } | undefined,
    epoch: number,
  ) {
    this.kernelPmo = allocatePmoBuffers(0, KERNEL_PMO_PAGES, restored?.data);
    this.kernelMemory = new PersistentMemory(this.kernelPmo);
    this.table = restored
      ? ObjectTable.load(this.kernelMemory, restored.pagesUsed)
      : new ObjectTable();
    this.caps = new CapSpaces(this.table);
    this.pmos = new PmoManager(
      this.table,
      new NvmExtents(KERNEL_PMO_PAGES, config.nvmPages),
      (data, nvmBase, pages) => this.loadFromImage(data, nvmBase, pages),
      () => this.checkpoints.nextCaptureEpoch,
    );
    this.checkpoints = new CheckpointManager(this, epoch);
    this.consoles = new ConsoleRegisters(config.consoleStart, (m) => this.post(m));
    this.dormancy = new Dormancy(this, this.consoles);
    this.nic = new NicDevice((m) => this.post(m));
    this.consoleIn = new ConsoleInDevice(
      (t) => this.log(t),
      () => this.onConsoleInIrq(),
      (lines) => this.post({ t: "console-in-lines", lines }),
    );
    this.supervisor = new Supervisor(this);
  }

  /** Sends a log line to the board. */
  log(text: string): void {
    this.toBoard({ t: "log", text });
  }

  /**
   * The kernel cannot go on: the board prints an error line with `code` and
   * halts the machine (the newest committed checkpoint is what a boot resumes).
   */
  panic(code: Err, text: string): void {
    this.toBoard({ t: "panic", code: errName(code), text });
  }

  /** Sends any message to the board. */
  post(msg: ToBoard, transfer?: Transferable[]): void {
    this.toBoard(msg, transfer);
  }

  /** Fresh boot: the root cap group "init" with its thread and first capabilities. */
  bootFresh(): Promise<void> {
    return bootFresh(this);
  }

  /** Resume: rebuild caches from the loaded records, then start a worker per thread. */
  resume(): Promise<void> {
    this.resumed = true;
    return resume(this);
  }

  /** Starts a dormant thread (its doorbell rang, it was signalled, or an event is for it). */
  wake(threadId: number): void {
    this.dormancy.wake(threadId);
  }

  /** True while a restored thread has not been started. */
  isDormant(threadId: number): boolean {
    return this.dormancy.has(threadId);
  }

  /** The doorbell to give a peer of `threadId`: its own, a dormant one's, or a fresh one. */
  doorbellOf(threadId: number): SharedArrayBuffer {
    return this.dormancy.doorbellOf(threadId);
  }

  /** Starts the worker of a thread object. */
  async spawn(rec: ThreadRecord, resumed: boolean, doorbell?: SharedArrayBuffer): Promise<void> {
    const group = this.table.expect(rec.group, ObjKind.CAP_GROUP);
    const ring = await this.pmos.ensureLoaded(rec.consolePmo);
    const register = this.consoles.attach(rec, ring, resumed, group.name);
    const toBoard = (m: KernelToBoard, transfer: Transferable[]) => this.post(m, transfer);
    const live = startWorker(
      rec,
      group.name,
      ring,
      register,
      resumed,
      this.config.faultInjection,
      toBoard,
      doorbell,
    );
    this.threads.set(rec.id, live);
    live.port.onmessage = (e: MessageEvent<WorkerMessage>) => onWorkerMessage(this, live, e.data);
    reattachConnections(this, live);
  }

  /** Posts an event to a thread and rings its doorbell so a sleeping worker sees it. */
  postEvent(threadId: number, event: KernelEvent, wakeDormant = true): void {
    // A dormant thread is started; it re-learns its connections as it sets up.
    if (wakeDormant) this.wake(threadId);
    const live = this.threads.get(threadId);
    if (live && !live.dead) sendToWorker(live, event);
  }

  /** The board saw a worker fail (uncaught error). */
  onWorkerError(threadId: number, message: string): void {
    this.supervisor.onWorkerError(threadId, message);
  }

  /** The board's fault-injection port: make the component named `target` commit `fault`. */
  onInject(target: string, fault: FaultKind, seed: number): void {
    try {
      this.supervisor.onInject(target, fault, seed);
    } catch (e) {
      this.log(`fault: ${(e as Error).message}`);
    }
  }

  /** {@inheritDoc KernelServices.inject} */
  inject(target: string, fault: FaultKind, seed: number): string {
    return this.supervisor.onInject(target, fault, seed);
  }

  /** {@inheritDoc KernelServices.event} */
  event(kind: EventKind, component: string, text: string, thread?: number): void {
    const epoch = this.checkpoints.committedEpoch;
    this.post({ t: "event", event: { kind, component, thread, text, epoch } });
  }

  /** {@inheritDoc KernelServices.report} */
  report(): SystemReport {
    return buildReport(this);
  }

  /**
   * The NIC's IRQ line (the board wrote frames into the receive ring):
   * signals its notification; one raised before the boot finished is
   * delivered when it does (the frames wait in the ring).
   */
  onNicIrq(): void {
    if (this.booted) fireLine(this, "nic");
    else this.nicIrqHeld = true;
  }

  /** The NIC raised its IRQ before the boot finished. */
  private nicIrqHeld = false;

  /** A keyboard line from the board's console input (kernel/console_in.ts). */
  onConsoleInput(text: string, seq?: number): void {
    this.consoleIn.type(text, seq);
  }

  /** The console input's IRQ line: a line is in its ring; held like the NIC's until the boot finished. */
  private onConsoleInIrq(): void {
    if (this.booted) fireLine(this, "console-in");
    else this.consoleInIrqHeld = true;
  }

  /** The console input device fired before the boot finished. */
  private consoleInIrqHeld = false;

  /**
   * A worker wrote output (its console, the NIC's transmit ring): with
   * checkpoints on, a checkpoint starts now if none is in flight, else as
   * soon as the one in flight commits (group commit); with checkpoints off
   * the board releases it at once.
   */
  onOutput(): void {
    if (!this.booted || this.supervisor.stopped) return;
    if (this.checkpoints.period === 0) this.post({ t: "output" });
    else this.checkpoints.onOutput();
  }

  /** Timer tick (hw/timer.ts): watchdog, rung dormant threads, due timer IRQs, maybe a checkpoint. */
  onTick(nowMs: number): void {
    if (!this.booted) return; // no interrupts before every thread object has its worker
    this.supervisor.watchdog();
    this.dormancy.wakeRung();
    this.timerIrqs.fire(this, nowMs);
    if (!this.supervisor.stopped) this.checkpoints.onTick(nowMs);
    this.maybeReport(nowMs);
  }

  /** With --report-ms N: the system report to the board every N ms. */
  private maybeReport(nowMs: number): void {
    const every = this.config.reportMs;
    if (every === 0 || this.supervisor.stopped || nowMs - this.reportedAt < every) return;
    this.reportedAt = nowMs;
    this.post({ t: "report", report: this.report() });
  }

  /**
   * Boot or resume has started every thread object's worker: interrupts and
   * checkpoints may begin. The workers were started before, so some (init
   * above all: the board loads its module early) may already have reached
   * their first safe point while `booted` was false; their `ready` found the
   * system not ready, so the check is made again here.
   */
  finishBoot(): void {
    this.booted = true;
    if (this.nicIrqHeld) this.onNicIrq();
    if (this.consoleInIrqHeld) this.onConsoleInIrq();
    this.onThreadReady();
  }

  /**
   * The system may have become ready: a thread reached its first safe point,
   * the boot finished, or a thread that was not ready stopped for good. The
   * first time every live thread is ready, tell the board "ready".
   */
  onThreadReady(): void {
    if (this.announcedReady || !this.allReady()) return;
    const init = [...this.threads.values()].find((t) => t.rec.program === INIT_PROGRAM);
    if (!init?.ready) return;
    this.announcedReady = true;
    this.post({ t: "ready", epoch: this.checkpoints.committedEpoch, resumed: this.resumed });
  }

  /** True when every live thread has reached its first safe point. */
  allReady(): boolean {
    if (!this.booted) return false;
    for (const t of this.threads.values()) if (!t.dead && !t.ready) return false;
    return true;
  }

  /** Asks the board to read an NVM extent into `data`; resolves when it has. */
  private loadFromImage(data: SharedArrayBuffer, nvmBase: number, pages: number): Promise<void> {
    const reqId = this.nextLoadRequest++;
    return new Promise((resolve) => {
      this.loadRequests.set(reqId, resolve);
      this.post({ t: "load", reqId, data, nvmBase, pages });
    });
  }

  /** The board finished a load request. */
  onLoaded(reqId: number): void {
    this.loadRequests.get(reqId)?.();
    this.loadRequests.delete(reqId);
  }

  /** Clean shutdown: a final checkpoint, then every worker is terminated. */
  async shutdown(): Promise<void> {
    await this.checkpoints.finalCheckpoint();
    this.supervisor.stop();
    this.post({ t: "shutdown-done" });
  }
}
