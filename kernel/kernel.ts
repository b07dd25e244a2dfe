/**
 * The kernel: its state and its life cycle, inside the kernel worker.
 *
 * Map of this file:
 * - boot: `bootFresh` builds the root task (init); `resume` rebuilds every
 *   object from the kernel memory object and starts a worker per thread.
 * - threads: `spawn`, `onWorkerFailed` (E_PEER_DIED to callers, restart by
 *   policy), `postEvent`.
 * - system calls: `onSyscall` looks up the handler in kernel/syscalls.ts,
 *   runs it and posts the reply; an exception becomes an error value and
 *   never disturbs the kernel.
 * - timer: `onTick` fires timer IRQs and starts checkpoints.
 *
 * @module
 */

import { Err, errName, type ErrorValue, TardigradeError, toErrorValue } from "./abi/errors.ts";
import {
  ConnWord,
  ControlWord,
  DOORBELL_BYTES,
  DoorbellWord,
  type PmoBuffers,
} from "./abi/layout.ts";
import { CONSOLE_RING_BYTES, PAGE_BYTES, periodElapsed, RECORDS_MAX } from "./abi/limits.ts";
import { watchdogElapsed, watchdogStamp } from "./abi/watchdog.ts";
import {
  type FaultKind,
  INIT_PROGRAM,
  type KernelConfig,
  KernelEvent,
  KernelToBoard,
  SyscallReply,
  SyscallRequest,
  WorkerMessage,
} from "./abi/protocol.ts";
import { RIGHTS_ALL } from "./abi/rights.ts";
import { CapSpaces } from "./cspace.ts";
import { describeArg } from "./args.ts";
import { NvmExtents, PmoManager } from "./memory.ts";
import { KERNEL_PMO_PAGES } from "./abi/image_root.ts";
import { ObjectTable } from "./object_table.ts";
import { ObjKind, type ThreadRecord } from "./objects/records.ts";
import { SYSCALLS } from "./syscalls.ts";
import { offer, setClosedWord } from "./objects/endpoint.ts";
import { type LiveThread, sendToWorker, startWorker } from "./threads.ts";
import { ringDoorbell } from "./abi/doorbell.ts";
import { PersistentMemory } from "./abi/pmem.ts";
import { allocatePmoBuffers } from "./abi/pmem.ts";
import { consoleHead, newConsoleRegister, resendFrom, setConsoleStart } from "./abi/console.ts";
import { CheckpointManager } from "./checkpoint.ts";
import { digestState } from "./digest.ts";

/** Failures in a row (each soon after the thread became ready) before the kernel gives up. */
const RESTARTS_MAX = 8;
/** A thread's start-up (`main`) may take this many handler budgets, and at least START_BUDGET_MIN_MS. */
const START_BUDGET_FACTOR = 4;
const START_BUDGET_MIN_MS = 5000;
/** A ready worker silent (no heartbeat) for 2 handler budgets, and at least this, has exited. */
const SILENT_BUDGET_MIN_MS = 1000;
/** A thread that ran this long after becoming ready starts a new count of failures in a row. */
const RESTART_STABLE_MS = 500;

/** Pages of a thread's console PMO: a header page, then the ring. */
export const CONSOLE_PAGES = 1 + CONSOLE_RING_BYTES / PAGE_BYTES;

/** The whole kernel state. One instance per kernel worker. */
export class Kernel {
  readonly table: ObjectTable;
  readonly caps: CapSpaces;
  readonly pmos: PmoManager;
  readonly threads = new Map<number, LiveThread>();
  /** Threads restored but not started: they start on their first doorbell ring or signal. */
  readonly dormant = new Map<
    number,
    { rec: ThreadRecord; doorbell: SharedArrayBuffer; waking: boolean }
  >();
  /** The kernel memory object: where object records are flushed at each checkpoint. */
  readonly kernelPmo: PmoBuffers;
  readonly kernelMemory: PersistentMemory;
  readonly checkpoints: CheckpointManager;
  /** Timer IRQ state: milliseconds since boot of the last fire, per IRQ id. */
  private readonly irqLastFired = new Map<number, number>();
  private loadRequests = new Map<number, () => void>();
  /** Each thread's console device register, kept across restarts of its worker. */
  private readonly consoleRegisters = new Map<number, SharedArrayBuffer>();
  private nextLoadRequest = 1;
  /** True once the kernel stops for good: shutdown, or a system rollback. */
  private shuttingDown = false;
  private announcedReady = false;
  /** True when this boot resumed from a checkpoint. */
  resumed = false;
  /** True once boot or resume has started every thread (see `finishBoot`): no checkpoint before. */
  booted = false;

  /**
   * @param restored on resume: the kernel PMO's data as the board read it
   *   from the image, and how many of its pages hold records
   */
  constructor(
    readonly config: KernelConfig,
    private readonly toBoard: (msg: KernelToBoard, transfer?: Transferable[]) => void,
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
  post(msg: KernelToBoard, transfer?: Transferable[]): void {
    this.toBoard(msg, transfer);
  }

  /** Fresh boot: the root cap group "init" with its thread and first capabilities. */
  bootFresh(): Promise<void> {
    // The root task may use every kernel record but a reserve for the kernel's own.
    const group = this.createCapGroup("init", this.config.nvmPages, RECORDS_MAX - 1024, 0);
    this.caps.insertOriginal(group, group, RIGHTS_ALL, 0);
    const timer = this.table.create(ObjKind.IRQ, { line: "timer", periodMs: 0, notification: 0 });
    const thread = this.createThread(
      group,
      INIT_PROGRAM,
      { apps: this.config.apps, policies: this.config.policies },
      "none",
      group,
    );
    this.caps.insertOriginal(group, thread.id, RIGHTS_ALL, 1);
    this.caps.insertOriginal(group, timer.id, RIGHTS_ALL, 2);
    return this.spawn(thread, false);
  }

  /** Resume: rebuild caches from the loaded records, then start a worker per thread. */
  async resume(): Promise<void> {
    this.resumed = true;
    this.caps.rebuild();
    const pmos = [...this.table.ofKind(ObjKind.PMO)];
    for (const pmo of pmos) this.pmos.adopt(pmo);
    if (this.config.digest) {
      const all = await Promise.all(
        pmos.map(async (p) => [p.id, await this.pmos.ensureLoaded(p.id)] as [number, PmoBuffers]),
      );
      const epoch = this.checkpoints.committedEpoch;
      this.post({ t: "digest", epoch, digest: digestState(this.kernelPmo, all) });
    }
    // A server (a thread serving an endpoint) stays dormant until its doorbell rings or it is
    // signalled; the others start at once, in parallel. Servers that had requests waiting in
    // their rings at the checkpoint are woken right after, without holding up the others
    // (finding out means loading their connections' memory).
    const now: ThreadRecord[] = [];
    for (const t of [...this.table.ofKind(ObjKind.THREAD)]) {
      if (this.isServer(t)) {
        this.dormant.set(t.id, {
          rec: t,
          doorbell: new SharedArrayBuffer(DOORBELL_BYTES),
          waking: false,
        });
      } else now.push(t);
    }
    await Promise.all(now.map((t) => this.spawn(t, true)));
    this.wakeServersWithPendingWork();
    this.resendDormantConsoles();
  }

  /**
   * Hands a thread's console to the board, with a device register that a
   * restart keeps (what the board released stays released). A fresh thread's
   * register starts at HEAD; a resumed one's at the oldest offset that may
   * not have been released before the crash, and the board sends the text
   * from there to HEAD (all committed) at once, before the program runs.
   */
  private attachConsole(
    rec: ThreadRecord,
    ring: PmoBuffers,
    resumed: boolean,
    name: string,
  ): SharedArrayBuffer {
    let register = this.consoleRegisters.get(rec.id);
    let committedHead: number | undefined;
    if (!register) {
      if (!resumed && this.config.consoleStart > 0) setConsoleStart(ring, this.config.consoleStart);
      register = newConsoleRegister(resumed ? resendFrom(ring) : consoleHead(ring));
      if (resumed) committedHead = consoleHead(ring);
      this.consoleRegisters.set(rec.id, register);
    }
    this.post({ t: "console", threadId: rec.id, ring, register, name, committedHead });
    return register;
  }

  /**
   * A dormant server may have printed text that its last checkpoint holds
   * but the board had not released before the crash: its console is handed
   * over now, so that text goes out even if the server is never woken.
   */
  private resendDormantConsoles(): void {
    for (const [id, d] of this.dormant) {
      this.pmos.ensureLoaded(d.rec.consolePmo).then((ring) => {
        if (this.consoleRegisters.has(id)) return; // woken meanwhile: its spawn sent it
        const group = this.table.expect(d.rec.group, ObjKind.CAP_GROUP);
        this.attachConsole(d.rec, ring, true, group.name);
      }).catch((e) =>
        this.log(`kernel: cannot send thread ${id}'s console: ${(e as Error).message}`)
      );
    }
  }

  /** Wakes every dormant server that has requests waiting or a signal pending. */
  private wakeServersWithPendingWork(): void {
    for (const [id, d] of this.dormant) {
      this.hasPendingWork(d.rec).then((pending) => pending && this.wake(id)).catch((e) =>
        this.log(`kernel: cannot tell whether thread ${id} has work: ${(e as Error).message}`)
      );
    }
  }

  /** True when the thread serves an endpoint (init never stays dormant). */
  private isServer(t: ThreadRecord): boolean {
    if (t.program === INIT_PROGRAM) return false;
    for (const e of this.table.ofKind(ObjKind.ENDPOINT)) if (e.server === t.id) return true;
    return false;
  }

  /** True when requests wait in a ring the thread serves, or a signal in its notification. */
  private async hasPendingWork(t: ThreadRecord): Promise<boolean> {
    const checks: Array<Promise<boolean>> = [];
    const words = async (pmo: number) => new Int32Array((await this.pmos.ensureLoaded(pmo)).data);
    for (const c of this.table.ofKind(ObjKind.CONNECTION)) {
      if (c.server !== t.id || c.closed) continue;
      checks.push(words(c.pmo).then((w) => w[ConnWord.REQ_HEAD] !== w[ConnWord.REQ_TAIL]));
    }
    for (const n of this.table.ofKind(ObjKind.NOTIFICATION)) {
      if (n.boundThread === t.id) checks.push(words(n.pmo).then((w) => w[0] !== 0));
    }
    return (await Promise.all(checks)).some((pending) => pending);
  }

  /** Starts a dormant thread (its doorbell rang, it was signalled, or an event is for it). */
  wake(threadId: number): void {
    const d = this.dormant.get(threadId);
    if (!d || d.waking) return;
    d.waking = true; // its doorbell stays the one peers hold until the worker is registered
    this.log(`kernel: thread ${threadId} (${d.rec.program}) woken from dormancy`);
    this.spawn(d.rec, true, d.doorbell).then(() => this.dormant.delete(threadId));
  }

  /** The doorbell to give a peer of `threadId`: its own, a dormant one's, or a fresh one. */
  doorbellOf(threadId: number): SharedArrayBuffer {
    const live = this.threads.get(threadId);
    if (live && !live.dead) return live.doorbell;
    return this.dormant.get(threadId)?.doorbell ?? new SharedArrayBuffer(DOORBELL_BYTES);
  }

  /**
   * Creates a cap group with its VM space, both charged to cap group
   * `chargeTo` (0: the kernel). Returns the group id.
   */
  createCapGroup(name: string, quotaPages: number, quotaObjects: number, chargeTo: number): number {
    const group = this.table.create(ObjKind.CAP_GROUP, {
      name,
      vmSpace: 0,
      quotaPages,
      usedPages: 0,
      quotaObjects,
      usedObjects: 0,
    }, chargeTo);
    const vm = this.table.create(ObjKind.VM_SPACE, { group: group.id }, chargeTo);
    this.table.update(group, { vmSpace: vm.id });
    return group.id;
  }

  /** Creates a thread object (and its console ring) in `group`; does not start it. */
  createThread(
    group: number,
    program: string,
    args: Record<string, unknown>,
    policy: ThreadRecord["policy"],
    chargeTo: number,
  ): ThreadRecord {
    const console = this.pmos.create(CONSOLE_PAGES, "console", group);
    return this.table.create(ObjKind.THREAD, {
      group,
      program,
      args,
      policy,
      consolePmo: console.id,
      restarts: 0,
    }, chargeTo);
  }

  /** Starts the worker of a thread object. */
  async spawn(rec: ThreadRecord, resumed: boolean, doorbell?: SharedArrayBuffer): Promise<void> {
    const group = this.table.expect(rec.group, ObjKind.CAP_GROUP);
    const ring = await this.pmos.ensureLoaded(rec.consolePmo);
    const register = this.attachConsole(rec, ring, resumed, group.name);
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
    live.port.onmessage = (e: MessageEvent<WorkerMessage>) => this.onWorkerMessage(live, e.data);
    this.reattachConnections(live);
  }

  private onWorkerMessage(live: LiveThread, msg: WorkerMessage): void {
    if (live.dead) return;
    if (msg?.t === "syscall") this.onSyscall(live, msg);
    else if (msg?.t === "log") {
      // Whatever a worker sends is cloned data it chose: never format it unchecked.
      const text = typeof msg.text === "string" ? msg.text.slice(0, 4000) : describeArg(msg.text);
      const group = this.table.get(live.rec.group);
      const name = group?.kind === ObjKind.CAP_GROUP ? group.name : "?";
      this.post({ t: "log", text, from: `${name}#${live.rec.id}` });
    }
  }

  /** Runs one system call and posts its reply. Never throws. */
  async onSyscall(live: LiveThread, req: SyscallRequest): Promise<void> {
    let reply: SyscallReply;
    const op = describeArg(req.op);
    try {
      const handler = typeof req.op === "string" ? SYSCALLS[req.op] : undefined;
      if (!handler || !Array.isArray(req.args)) {
        throw new TardigradeError(
          Err.E_NOT_SUPPORTED,
          `no system call named ${op} (or args is not an array)`,
          { op },
        );
      }
      const value = await handler(this, live, req.args);
      reply = { t: "sysret", id: req.id, ok: true, value };
    } catch (e) {
      const error: ErrorValue = toErrorValue(e);
      if (error.code === Err.E_INTERNAL) this.log(`kernel: ${op} failed: ${error.message}`);
      reply = { t: "sysret", id: req.id, ok: false, error };
    }
    if (!live.dead) sendToWorker(live, reply);
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
    const live = this.threads.get(threadId);
    if (live) this.onWorkerFailed(live, message);
  }

  /** Stops a worker for good: its port is closed and the board terminates it. */
  private terminate(live: LiveThread): void {
    live.dead = true;
    live.port.close();
    this.post({ t: "terminate", threadId: live.rec.id });
  }

  /**
   * A worker threw, exited or was stopped by the watchdog. Its callers get
   * E_PEER_DIED; then its policy decides: `fresh` starts it again on its
   * memory as it is, `rollback` first puts that memory back as the last
   * committed checkpoint holds it, `system-rollback` rolls everything back
   * (the board resumes from the image), `none` leaves it dead. A thread that
   * fails RESTARTS_MAX times in a row, each within RESTART_STABLE_MS of
   * becoming ready, is left dead.
   */
  onWorkerFailed(live: LiveThread, why: string): void {
    if (live.dead || this.shuttingDown) return;
    this.terminate(live);
    const id = live.rec.id;
    this.log(`kernel: thread ${id} (${live.rec.program}) failed: ${why}`);
    this.closeConnectionsOf(id, `peer thread ${id} died`);
    const rec = this.table.get(id) as ThreadRecord | undefined;
    if (!rec || rec.policy === "none") return this.onThreadReady();
    const stable = live.ready && performance.now() - live.readyAt >= RESTART_STABLE_MS;
    const inARow = stable ? 1 : rec.restarts + 1;
    if (inARow > RESTARTS_MAX) {
      this.log(
        `kernel: thread ${id} failed ${RESTARTS_MAX} times in a row, each within ` +
          `${RESTART_STABLE_MS} ms of starting; it stays stopped`,
      );
      return this.onThreadReady();
    }
    this.table.update(rec, { restarts: inARow });
    if (rec.policy === "system-rollback") return this.systemRollback(`thread ${id} failed`);
    this.log(`kernel: restarting thread ${id} (policy ${rec.policy}, failure ${inARow} in a row)`);
    if (rec.policy === "fresh") {
      this.spawn(rec, true);
      return;
    }
    this.rollBackMemory(rec.group).then(() => this.spawn(rec, true));
  }

  /**
   * Puts the memory of `group` back as the last committed checkpoint holds
   * it: its data PMOs and its console rings (so output made since, never
   * released, is gone with the state that made it). Connection rings are
   * shared with peers and stay. No checkpoint starts meanwhile (one taken
   * now would capture the memory as the failure left it); one in flight was
   * captured while the thread was at a safe point, so it may finish first.
   */
  private async rollBackMemory(group: number): Promise<void> {
    const t0 = performance.now();
    this.checkpoints.hold();
    try {
      await this.checkpoints.idle();
      const epoch = this.checkpoints.committedEpoch;
      const pmos = [...this.table.ofKind(ObjKind.PMO)].filter((p) =>
        p.owner === group && (p.role === "data" || p.role === "console")
      );
      let changed = 0;
      for (const pmo of pmos) changed += await this.pmos.rollBack(pmo, epoch);
      this.log(
        `kernel: rolled ${pmos.length} memory objects of cap group ${group} back to epoch ` +
          `${epoch} (${changed} pages changed) in ${(performance.now() - t0).toFixed(1)} ms`,
      );
    } finally {
      this.checkpoints.release();
    }
  }

  /** Stops the kernel and asks the board to resume the whole system from the last commit. */
  private systemRollback(reason: string): void {
    this.shuttingDown = true;
    this.log(`kernel: system rollback to epoch ${this.checkpoints.committedEpoch} (${reason})`);
    this.post({ t: "system-rollback", reason });
  }

  /** The board's fault-injection port: make the component named `target` commit `fault`. */
  onInject(target: string, fault: FaultKind, seed: number): void {
    if (!this.config.faultInjection) {
      return this.log("kernel: fault injection is off; start the machine with --fault-injection");
    }
    const live = [...this.threads.values()].find((t) => {
      const group = this.table.get(t.rec.group);
      return !t.dead && t.ready && group?.kind === ObjKind.CAP_GROUP && group.name === target;
    });
    if (!live) return this.log(`fault: no running component named "${target}"`);
    this.log(`fault: injecting ${fault} into ${target} (thread ${live.rec.id})`);
    sendToWorker(live, { t: "inject", fault, seed });
  }

  /** Marks every connection of `threadId` closed and wakes the other sides. */
  private closeConnectionsOf(threadId: number, reason: string): void {
    for (const c of this.table.ofKind(ObjKind.CONNECTION)) {
      if (c.client !== threadId && c.server !== threadId) continue;
      setClosedWord(this, c, true);
      const other = c.client === threadId ? c.server : c.client;
      this.postEvent(other, { t: "closed", connId: c.id, reason });
    }
  }

  /** After a (re)start: give the thread back its connections, and its peers its new doorbell. */
  private reattachConnections(live: LiveThread): void {
    for (const c of this.table.ofKind(ObjKind.CONNECTION)) {
      if (c.closed) continue;
      if (c.server === live.rec.id || c.client === live.rec.id) setClosedWord(this, c, false);
      // A running server dropped the connection when this client died: offer it again. A
      // dormant one (resume) is offered every connection when it wakes and serves again.
      if (c.client === live.rec.id && this.threads.has(c.server) && !this.dormant.has(c.server)) {
        const ep = this.table.get(c.endpoint);
        if (ep?.kind === ObjKind.ENDPOINT && ep.server === c.server) offer(this, ep, c);
      }
      if (c.server === live.rec.id) {
        this.postEvent(
          c.client,
          { t: "peer-doorbell", connId: c.id, peerDoorbell: live.doorbell },
          false,
        );
      }
    }
  }

  /** Timer tick (hw/timer.ts): fire due timer IRQs, maybe start a checkpoint. */
  onTick(nowMs: number): void {
    if (!this.booted) return; // no interrupts before every thread object has its worker
    this.watchdog();
    for (const [id, d] of this.dormant) {
      if (!d.waking && Atomics.load(new Int32Array(d.doorbell), DoorbellWord.RING) !== 0) {
        this.wake(id);
      }
    }
    for (const irq of this.table.ofKind(ObjKind.IRQ)) {
      if (irq.periodMs === 0 || irq.notification === 0) continue;
      const last = this.irqLastFired.get(irq.id) ?? 0;
      if (!periodElapsed(nowMs, last, irq.periodMs)) continue;
      this.irqLastFired.set(irq.id, nowMs);
      signalNotification(this, irq.notification, 1);
    }
    if (!this.shuttingDown) this.checkpoints.onTick(nowMs);
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

  /** Stops any worker whose current run of handlers is past the handler budget (endless loops). */
  private watchdog(): void {
    const now = watchdogStamp();
    const budget = this.config.handlerBudgetMs;
    // No checkpoint is taken before every thread reached its first safe point: a start-up
    // that never finishes would hold back everyone's output. init, the trusted root, may take long.
    const startBudget = Math.max(START_BUDGET_MIN_MS, START_BUDGET_FACTOR * budget);
    // A live worker beats at least every WAIT_SLICE_MS; silence much longer than that means it
    // is gone (or stuck outside any handler, in an async continuation).
    const silentBudget = Math.max(SILENT_BUDGET_MIN_MS, 2 * budget);
    for (const t of this.threads.values()) {
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
    this.shuttingDown = true;
    for (const t of this.threads.values()) if (!t.dead) this.terminate(t);
    this.post({ t: "shutdown-done" });
  }
}

/** ORs `bits` into a notification's word and wakes the thread bound to it. */
export function signalNotification(k: Kernel, notificationId: number, bits: number): void {
  const n = k.table.get(notificationId);
  if (!n || n.kind !== ObjKind.NOTIFICATION) return;
  k.wake(n.boundThread);
  const bufs = k.pmos.loadedBuffers(n.pmo);
  if (!bufs) {
    k.pmos.ensureLoaded(n.pmo).then(() => signalNotification(k, notificationId, bits));
    return;
  }
  new PersistentMemory(bufs).atomicOr(0, bits);
  const live = k.threads.get(n.boundThread);
  if (live && !live.dead) ringDoorbell(live.doorbellWords);
}
