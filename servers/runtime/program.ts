/**
 * The program loop every worker runs: safe points, the freeze protocol, and
 * dispatch of requests, replies, notifications and kernel events.
 *
 * A program is a `main(ctx)` function: it sets up (serve endpoints, connect,
 * map memory, bind notifications) and returns; from then on it runs only in
 * steps: a handler, run to completion, with the calls and system calls it
 * awaits. Persistent state lives in mapped PMOs; on resume `ctx.resumed` is
 * true and `main` rebuilds its volatile caches from them instead of
 * initialising.
 *
 * Freeze protocol (docs/ARCHITECTURE.md, "Steps"): safe points are between
 * steps only. When the control block's FREEZE line is up (DRAIN), a worker
 * in a step runs it to its end, starting nothing new; a worker between steps
 * sets RUN_STATE = PARKED and sleeps on its doorbell, serving the calls that
 * other steps wait for, until the kernel thaws it; under CAPTURE it serves
 * nothing. A worker with nothing to do sets WAITING and sleeps on its
 * doorbell; the kernel counts it as frozen without waking it. Leaving PARKED
 * or WAITING it bumps WAKE_SEQ, stores RUNNING, then re-reads FREEZE (the
 * kernel stores FREEZE, then reads RUN_STATE and WAKE_SEQ: sequentially
 * consistent atomics make sure one side sees the other).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { ControlWord, DoorbellWord, FreezeLine, RunState } from "../../kernel/abi/layout.ts";
import { IDLE_SPIN_ITERATIONS, WAIT_SLICE_MS } from "../../kernel/abi/limits.ts";
import type { KernelEvent, StartMessage, SyscallReply } from "../../kernel/abi/protocol.ts";
import { Err, TardigradeError, toErrorValue } from "../../kernel/abi/errors.ts";
import { Slot } from "../../kernel/abi/slots.ts";
import { spinDoorbell } from "../../kernel/abi/doorbell.ts";
import { watchdogStamp } from "../../kernel/abi/watchdog.ts";
import { setImmediate } from "node:timers";
import { consoleHead, ConsoleWriter } from "../../kernel/abi/console.ts";
import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { ClientConnection, type Waiter } from "./client.ts";
import { type RequestHandler, ServerConnection } from "./server.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { FaultInjector } from "./faults.ts";
import type { Context } from "./context.ts";
import { givenCaps, SlotNames } from "./names.ts";
import { Sys } from "./sys.ts";
import { safePointAction } from "./safe_point.ts";

export type { Context } from "./context.ts";

/** Requests one connection may have handled before the loop moves on (fairness). */
const SERVE_BUDGET = 32;
/** Microtask turns the loop gives pending continuations after doing work. */
const MICROTASK_TURNS = 8;
/** Loop turns between two yields to the event loop while busy. */
const YIELD_EVERY = 64;

/** The loop and its tables. One per worker. */
class Runtime implements Waiter {
  readonly control: Int32Array;
  readonly doorbell: Int32Array;
  readonly sys: Sys;
  readonly console: ConsoleWriter;
  private readonly handlers = new Map<number, RequestHandler>();
  private readonly servers = new Map<number, ServerConnection>();
  private readonly clients = new Map<number, ClientConnection>();
  private readonly notifications: Array<
    { mem: PersistentMemory; handler: (bits: number) => unknown }
  > = [];
  private capHandler: (slot: number, badge: number, connId: number) => void = () => {};
  private readonly closedHandlers: Array<(connId: number, restarting: boolean) => void> = [];
  private readonly idleHandlers: Array<() => boolean> = [];
  private readonly inbox: Array<SyscallReply | KernelEvent> = [];
  /** True while handlers run (for the watchdog stamp). */
  private inRun = false;
  /** True until `main` has finished: the kernel does not freeze a starting worker. */
  private starting = true;
  /** True when the last sleep ran out its wait slice with nothing to wake it. */
  private sleptThrough = false;
  /**
   * False from the moment a promise may have settled (a reply, a system-call
   * reply, a handler's promise) until the event loop has turned: until then
   * a continuation may be pending, about to go on with its step.
   */
  private drained = false;
  /** True while blocked as WAITING (a safe point between steps). */
  private waiting = false;
  /** Promises returned by handlers that have not settled (steps in flight). */
  private stepPromises = 0;
  /** Messages received on the kernel channel (see ControlWord.POSTED). */
  received = 0;
  /**
   * Rings whose bytes leave the machine that this worker writes (its console,
   * a NIC transmit ring it mapped), each with the HEAD the kernel was last
   * told of (see {@link tellOutput}).
   */
  private readonly outputRings: Array<{ ring: PmoBuffers; told: number }> = [];
  private readonly faults: FaultInjector;
  private names: SlotNames | undefined;

  constructor(readonly start: StartMessage) {
    this.control = new Int32Array(start.control);
    this.doorbell = new Int32Array(start.doorbell);
    this.sys = new Sys(
      (req) => start.port.postMessage(req),
      (count) => Atomics.store(this.control, ControlWord.SYSCALLS_PENDING, count),
      (m) => {
        if (m.output && m.writable) this.watchOutput(m.buffers);
      },
    );
    start.port.onmessage = (e: MessageEvent<SyscallReply | KernelEvent>) => this.deliver(e.data);
    this.console = new ConsoleWriter(start.console, start.consoleRegister);
    this.watchOutput(start.console);
    this.faults = new FaultInjector(
      this.sys,
      (text) => start.port.postMessage({ t: "log", text }),
      () => [...this.clients.values()],
    );
  }

  /** A message from the kernel: queued for the loop, which runs it between safe points. */
  deliver(msg: SyscallReply | KernelEvent): void {
    this.received++;
    this.inbox.push(msg);
    this.arrived?.();
  }

  /** Resolves the loop's wait for a message the kernel has posted (see {@link awaitPosted}). */
  private arrived: (() => void) | undefined;

  /** True when the kernel has posted a message this worker has not received yet. */
  private messageOnItsWay(): boolean {
    return Atomics.load(this.control, ControlWord.POSTED) !== this.received;
  }

  /**
   * Waits, idle in the event loop, for a message the kernel has posted (at
   * most a wait slice). Deno delivers a worker's messages at once to an idle
   * event loop, but to one that keeps turning through setImmediate with a
   * spin between the turns only after a dozen or so turns: about 2 ms with
   * the old 20,000-iteration spin per turn, a system call's reply and every kernel event
   * included.
   */
  private async awaitPosted(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.arrived = resolve;
      timer = setTimeout(resolve, WAIT_SLICE_MS);
    });
    clearTimeout(timer);
    this.arrived = undefined;
  }

  /** Adds a ring whose HEAD {@link tellOutput} watches. */
  private watchOutput(ring: PmoBuffers): void {
    this.outputRings.push({ ring, told: consoleHead(ring) });
  }

  /**
   * Between steps (at the top of a turn, and before spinning or sleeping):
   * if an output ring's HEAD moved since the kernel was last told, tells it
   * (`output`), so that the checkpoint that releases the bytes starts now
   * instead of at the next tick (group commit). Not in the middle of a step:
   * a freeze started then would have to wait for it.
   */
  private tellOutput(): void {
    let moved = false;
    for (const o of this.outputRings) {
      const head = consoleHead(o.ring);
      if (head === o.told) continue;
      o.told = head;
      moved = true;
    }
    if (moved) this.start.port.postMessage({ t: "output" });
  }

  /** `main` has finished and the kernel knows: from now on the freeze protocol applies. */
  started(): void {
    this.starting = false;
    Atomics.store(this.control, ControlWord.RUN_STATE, RunState.RUNNING);
  }

  private handle(msg: SyscallReply | KernelEvent): void {
    switch (msg.t) {
      case "sysret":
        return this.sys.onReply(msg);
      case "accept": {
        const handler = this.handlers.get(msg.endpointSlot);
        if (handler) this.servers.set(msg.conn.connId, new ServerConnection(msg.conn, handler));
        return;
      }
      case "closed": {
        // A close told again as the endpoint is served (endpoint_serve) was never accepted here.
        const retold = msg.endpointSlot !== undefined && this.handlers.has(msg.endpointSlot);
        const served = this.servers.delete(msg.connId) || retold;
        this.clients.get(msg.connId)?.failPending(msg.reason, msg.restarting === true);
        if (served) { for (const h of this.closedHandlers) h(msg.connId, msg.restarting === true); }
        return;
      }
      case "peer-doorbell":
        this.servers.get(msg.connId)?.setPeerDoorbell(msg.peerDoorbell);
        this.clients.get(msg.connId)?.setPeerDoorbell(msg.peerDoorbell);
        return;
      case "cap":
        return this.capHandler(msg.slot, msg.badge, msg.connId);
      case "inject":
        if (this.start.faultInjection) this.faults.inject(msg.fault, msg.seed);
        return;
    }
  }

  /** Reads the named capabilities: the start args' table, and the slot record if granted. */
  async openNames(): Promise<void> {
    const s = this.start;
    let record: PersistentMemory | null = null;
    try {
      record = new PersistentMemory((await this.sys.pmoMap(Slot.RECORD, true)).buffers);
    } catch (e) {
      if (!(e instanceof TardigradeError && e.code === Err.E_EMPTY_SLOT)) throw e;
    }
    this.names = new SlotNames(givenCaps(s.args, s.name), record, s.name);
  }

  /** The context handed to the program (after {@link openNames}). */
  context(): Context {
    const s = this.start;
    const names = this.names!;
    return {
      sys: this.sys,
      threadId: s.threadId,
      capGroupId: s.capGroupId,
      name: s.name,
      args: s.args,
      resumed: s.resumed,
      names,
      cap: (name) => names.cap(name),
      waiter: this,
      print: (text) => void this.console.write(text + "\n"),
      consoleRoom: () => this.console.room(),
      log: (text) => s.port.postMessage({ t: "log", text }),
      serve: async (slot, handler) => {
        this.handlers.set(slot, handler);
        await this.sys.endpointServe(slot);
      },
      connect: async (slot) =>
        this.addClient(new ClientConnection(await this.sys.connect(slot), this)),
      attach: async (slot) =>
        this.addClient(new ClientConnection(await this.sys.connAttach(slot), this)),
      map: async (slot, writable = true) =>
        new PersistentMemory((await this.sys.pmoMap(slot, writable)).buffers, writable),
      onNotification: async (slot, handler) => {
        const mem = new PersistentMemory(await this.sys.notificationBind(slot));
        this.notifications.push({ mem, handler });
      },
      onCapability: (handler) => {
        this.capHandler = handler;
      },
      onIdle: (handler) => {
        this.idleHandlers.push(handler);
      },
      onConnectionClosed: (handler) => {
        this.closedHandlers.push(handler);
      },
    };
  }

  private addClient(c: ClientConnection): ClientConnection {
    this.clients.set(c.connId, c);
    return c;
  }

  // ---- steps and the freeze protocol ----

  /**
   * True while a step is in flight: a handler runs, a handler's promise has
   * not settled, or calls and system calls it made await their replies. A
   * checkpoint never captures a worker in the middle of a step (see park),
   * but for a worker parked in `checkpoint_wait`: with such a call
   * unanswered and no other call awaiting its reply, every step still
   * unsettled waits on that call, itself or through a step it is queued
   * behind (`Sockets.exclusive`: a POLL signalled while a step syncs), and
   * can only go on after the commit, so the freeze may cut them all.
   */
  private inStep(): boolean {
    if (this.inRun || this.sys.pending > 0) return true;
    for (const c of this.clients.values()) if (c.awaiting > 0) return true;
    return this.stepPromises > 0 && this.sys.parked === 0;
  }

  /** Publishes whether a step is in flight (ControlWord.IN_STEP, the kernel's hint). */
  private showStep(inStep: boolean): void {
    const v = inStep ? 1 : 0;
    if (this.stepShown !== v) Atomics.store(this.control, ControlWord.IN_STEP, this.stepShown = v);
  }

  /** The IN_STEP value last stored. */
  private stepShown = 0;

  /** Counts a handler's returned promise as a step until it settles. */
  private track(result: unknown): void {
    if (!(result instanceof Promise)) return;
    this.drained = false;
    this.stepPromises++;
    result.finally(() => this.stepPromises--).catch(() => {});
  }

  /**
   * Safe point, between two steps: parks while the freeze line is up. A
   * worker in the middle of a step, with continuations not yet run
   * (`drained` false), or with work the freeze lets it do, goes on under
   * DRAIN (the kernel waits for it), but never under CAPTURE: a worker the
   * kernel counted WAITING that wakes after its second look (a reply on its
   * way, e.g. `checkpoint_wait`'s) would write its PMOs and console while
   * they are copied, and the console HEAD read after the copy would release
   * text the checkpoint does not hold (servers/runtime/safe_point.ts).
   */
  private safePoint(): void {
    for (;;) {
      const line = Atomics.load(this.control, ControlWord.FREEZE);
      if (line === FreezeLine.OFF) return;
      const between = this.drained && !this.inStep();
      const action = safePointAction(line, between, between && this.workUnderFreeze());
      if (action === "run") return;
      if (action === "park") return this.park();
      // CAPTURE: the kernel copies this worker's pages now; nothing runs until the line moves.
      Atomics.wait(this.control, ControlWord.FREEZE, FreezeLine.CAPTURE, WAIT_SLICE_MS);
    }
  }

  /**
   * What a worker between steps still does under DRAIN: serve the calls
   * waiting in its rings (their callers are in the middle of steps that must
   * end before the cut), and take the kernel's messages (a connection such a
   * call comes through is announced by one).
   */
  private workUnderFreeze(): boolean {
    if (this.inbox.length > 0) return true;
    if (Atomics.load(this.control, ControlWord.POSTED) !== this.received) return true;
    for (const s of this.servers.values()) if (s.hasServableCall()) return true;
    return false;
  }

  /**
   * Parked until the thaw, or until the line is at DRAIN and there is work
   * the freeze lets it do (the loop does it, then parks again). Time parked
   * does not count against the handler budget. Under CAPTURE it waits.
   */
  private park(): void {
    const control = this.control, door = this.doorbell;
    Atomics.store(control, ControlWord.HANDLER_STARTED_MS, 0);
    this.setFrozenState(RunState.PARKED);
    for (;;) {
      this.beat();
      const seen = Atomics.load(door, DoorbellWord.RING);
      const line = Atomics.load(control, ControlWord.FREEZE);
      if (line === FreezeLine.OFF) break;
      if (line === FreezeLine.DRAIN && this.workUnderFreeze()) {
        this.wake();
        if (Atomics.load(control, ControlWord.FREEZE) !== FreezeLine.CAPTURE) return;
        // The kernel is copying (or saw the wake and drops back to DRAIN): wait for the line.
        this.setFrozenState(RunState.PARKED);
        Atomics.wait(control, ControlWord.FREEZE, FreezeLine.CAPTURE, WAIT_SLICE_MS);
        continue;
      }
      // No spin first: on two cores a parked worker spinning takes the core that the step
      // the freeze waits for (or the kernel) needs; the thaw and a caller ring the doorbell.
      Atomics.store(door, DoorbellWord.SLEEPING, 1);
      if (Atomics.load(control, ControlWord.FREEZE) === line) {
        Atomics.wait(door, DoorbellWord.RING, seen, WAIT_SLICE_MS);
      }
      Atomics.store(door, DoorbellWord.SLEEPING, 0);
    }
    this.wake();
    // A thaw wakes every parked worker: one with nothing to do then sleeps again at once
    // instead of spinning (at 1 ms checkpoints, that spin was a share of a core per worker).
    this.sleptThrough = true;
    if (this.inRun) Atomics.store(control, ControlWord.HANDLER_STARTED_MS, watchdogStamp());
  }

  /** Leaves PARKED or WAITING: WAKE_SEQ first (the kernel's second look sees it), then RUNNING. */
  private wake(): void {
    Atomics.add(this.control, ControlWord.WAKE_SEQ, 1);
    Atomics.store(this.control, ControlWord.RUN_STATE, RunState.RUNNING);
  }

  /**
   * Waiter: about to block. Between steps this is a safe point (WAITING:
   * the kernel counts the worker frozen without waking it); in the middle of
   * a step it is not (the worker stays RUNNING).
   */
  beginWait(): void {
    Atomics.store(this.control, ControlWord.HANDLER_STARTED_MS, 0);
    if (this.starting || !this.drained || this.inStep()) return;
    this.waiting = true;
    this.setFrozenState(RunState.WAITING);
  }

  /**
   * Enters PARKED or WAITING and wakes the kernel if a freeze sleeps on this
   * RUN_STATE waiting for it (kernel/freeze.ts), so the cut does not wait
   * out the rest of a sleep slice.
   */
  private setFrozenState(state: RunState.PARKED | RunState.WAITING): void {
    Atomics.store(this.control, ControlWord.RUN_STATE, state);
    if (Atomics.load(this.control, ControlWord.FREEZE) !== FreezeLine.OFF) {
      Atomics.notify(this.control, ControlWord.RUN_STATE);
    }
  }

  /** Tells the kernel's watchdog this worker still lives (ControlWord.HEARTBEAT). */
  private beat(): void {
    Atomics.add(this.control, ControlWord.HEARTBEAT, 1);
  }

  /** Waiter: done blocking; a worker that was WAITING parks first if frozen. */
  endWait(): void {
    this.beat();
    if (this.inRun) Atomics.store(this.control, ControlWord.HANDLER_STARTED_MS, watchdogStamp());
    if (!this.waiting) return;
    this.waiting = false;
    this.wake();
    this.safePoint();
  }

  // ---- the loop ----

  /** Runs handlers until the worker is terminated. */
  async loop(): Promise<void> {
    Atomics.store(this.control, ControlWord.RUN_STATE, RunState.STARTING);
    // Let `main` run up to its first system call before the loop can sleep: otherwise the
    // first sleep (nothing has rung the doorbell yet) holds `main` back for a wait slice.
    await this.yieldToEventLoop();
    for (let turn = 1;; turn++) {
      this.beat();
      // Read the doorbell before looking for work: a ring that comes after the look is seen.
      const seen = Atomics.load(this.doorbell, DoorbellWord.RING);
      const between = this.drained && !this.inStep();
      this.showStep(!between);
      if (between) this.tellOutput();
      this.safePoint();
      const work = this.runOnce();
      if (work > 0) {
        this.sleptThrough = false;
        // Let continuations of resolved calls run (a chain of awaits needs several turns);
        // under a freeze, all of them, so the step they belong to is seen to end.
        const frozen = Atomics.load(this.control, ControlWord.FREEZE) !== FreezeLine.OFF;
        if ((frozen && !this.drained) || turn % YIELD_EVERY === 0) await this.yieldToEventLoop();
        else for (let i = 0; i < MICROTASK_TURNS; i++) await null;
        continue;
      }
      // Work, or a freeze (the loop then parks at the top): either way, round again. After a
      // wait slice that ended with nothing (the periodic wake-up), spinning is no better a
      // bet than before it, only CPU taken from busy workers: straight back to sleep.
      const spin = this.sleptThrough ? 0 : IDLE_SPIN_ITERATIONS;
      if (this.drained && !this.inStep()) this.tellOutput();
      // A message on its way (a system call's reply, an event) comes fastest to an idle loop.
      if (this.messageOnItsWay()) {
        await this.awaitPosted();
        continue;
      }
      if (!this.drained || spinDoorbell(this.doorbell, seen, spin, this.control)) {
        await this.yieldToEventLoop();
        continue;
      }
      await this.sleep(seen);
    }
  }

  /** One pass over every source of work; returns how much it did. */
  private runOnce(): number {
    this.stampHandler(true);
    try {
      return this.runSources();
    } finally {
      this.stampHandler(false);
    }
  }

  /**
   * Tells the kernel's watchdog when the current run of handlers began
   * (0: none running). A run past the budget gets the worker restarted.
   */
  private stampHandler(running: boolean): void {
    this.inRun = running;
    Atomics.store(this.control, ControlWord.HANDLER_STARTED_MS, running ? watchdogStamp() : 0);
  }

  /**
   * Under a freeze only the step in flight goes on: replies, kernel
   * messages and the calls other steps wait for (with the one-way messages
   * ahead of them in the same ring); no notification or idle work starts a
   * new step.
   */
  private runSources(): number {
    const frozen = Atomics.load(this.control, ControlWord.FREEZE) !== FreezeLine.OFF;
    let work = 0;
    while (this.inbox.length > 0) {
      const msg = this.inbox.shift()!;
      // A system-call reply or a closed connection settles promises: continuations may follow.
      if (msg.t === "sysret" || msg.t === "closed") this.drained = false;
      this.handle(msg);
      work++;
    }
    if (!frozen) {
      for (const n of this.notifications) {
        if (Atomics.load(n.mem.words, 0) === 0) continue;
        n.mem.markDirty(0, 4);
        const bits = Atomics.exchange(n.mem.words, 0, 0);
        this.showStep(true);
        this.track(n.handler(bits));
        work++;
      }
    }
    for (const s of this.servers.values()) {
      if (!frozen || s.hasServableCall()) work += s.serve(SERVE_BUDGET);
    }
    for (const c of this.clients.values()) {
      const replies = c.poll();
      if (replies > 0) this.drained = false;
      work += replies;
    }
    if (work === 0 && !frozen) { for (const idle of this.idleHandlers) if (idle()) work++; }
    return work;
  }

  /**
   * Sleeps on the doorbell (a safe point only between steps), then lets the event loop deliver
   * kernel messages. Deno does not reliably wake Atomics.waitAsync, so the
   * worker blocks in Atomics.wait; the kernel rings the doorbell after every
   * message it posts.
   */
  private async sleep(seen: number): Promise<void> {
    // In the middle of a step this is not a safe point: beginWait keeps the worker RUNNING.
    Atomics.store(this.doorbell, DoorbellWord.SLEEPING, 1);
    if (
      Atomics.load(this.doorbell, DoorbellWord.RING) === seen && this.inbox.length === 0 &&
      Atomics.load(this.control, ControlWord.POSTED) === this.received
    ) {
      this.beginWait();
      this.sleptThrough =
        Atomics.wait(this.doorbell, DoorbellWord.RING, seen, WAIT_SLICE_MS) === "timed-out";
      this.endWait();
    } else this.sleptThrough = false;
    Atomics.store(this.doorbell, DoorbellWord.SLEEPING, 0);
    await this.yieldToEventLoop();
  }

  /**
   * Lets queued event-loop tasks (kernel messages) run, and with them every
   * pending continuation (`drained`). setImmediate, not a MessageChannel:
   * Deno starves a worker's own messages behind a channel.
   */
  private async yieldToEventLoop(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.drained = true;
  }
}

/**
 * Runs a program in this worker: waits for the kernel's start message, calls
 * `main(ctx)`, reports ready, then runs the loop.
 *
 * @example
 * ```ts
 * runProgram(async (ctx) => {
 *   await ctx.serve(ctx.cap("service"), (req) => req.payload); // an echo server
 * });
 * ```
 */
export function runProgram(main: (ctx: Context) => Promise<void> | void): void {
  self.onmessage = (e: MessageEvent<StartMessage>) => {
    if (e.data?.t !== "start") return;
    self.onmessage = null;
    const runtime = new Runtime(e.data);
    runtime.loop();
    (async () => {
      await runtime.openNames();
      await main(runtime.context());
      await runtime.sys.raw("ready");
      runtime.started();
    })().catch((err) => {
      e.data.port.postMessage({ t: "log", text: `start-up failed: ${toErrorValue(err).message}` });
      // An uncaught error is what tells the kernel this worker failed.
      setTimeout(() => {
        throw err;
      });
    });
  };
}
