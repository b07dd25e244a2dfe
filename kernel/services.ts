/**
 * What the kernel offers the modules that act for it: the narrow interfaces
 * the object modules (kernel/objects/), the system-call dispatch, the
 * supervisor, boot and the checkpoint manager are written against, instead
 * of the `Kernel` class itself. `Kernel` (kernel/kernel.ts) implements both;
 * a test builds one from the parts it needs.
 *
 * Map of this file:
 * - {@link KernelServices}: the object table, the capability spaces, the
 *   memory objects, the live threads, checkpoint control; post an event,
 *   wake a thread, start one; log and panic.
 * - {@link CheckpointHost}: what the checkpoint manager reads (kernel
 *   memory, loaded PMOs, live threads' control blocks) and whom it tells.
 * - {@link CheckpointCounters}: the counters system_info reports.
 *
 * This module imports types only, and nothing that imports it back.
 *
 * @module
 */

import type { Err } from "./abi/errors.ts";
import type { PmoBuffers } from "./abi/layout.ts";
import type { KernelConfig, KernelEvent, KernelToBoard } from "./abi/protocol.ts";
import type { PersistentMemory } from "./abi/pmem.ts";
import type { CheckpointInfo } from "./abi/syscall_types.ts";
import type { EventKind, RecentCheckpoint, SystemReport, ToBoard } from "./abi/report.ts";
import type { FaultKind } from "./abi/protocol.ts";
import type { CapSpaces } from "./cspace.ts";
import type { PmoManager } from "./memory.ts";
import type { ObjectTable } from "./object_table.ts";
import type { ThreadRecord } from "./objects/records.ts";
import type { LiveThread } from "./threads.ts";

/** Counters a user can read through system_info and the boot log. */
export interface CheckpointCounters {
  taken: number;
  committed: number;
  skippedBusy: number;
  skippedFreeze: number;
  /** Checkpoints whose cut found nothing new: neither written nor committed (counted in `taken`). */
  unchanged: number;
  /** Captures that threw between freeze and thaw (E_CHECKPOINT_FAILED). */
  failed: number;
  barrierViolations: number;
}

/** What the rest of the kernel may ask of the checkpoint manager. */
export interface CheckpointControl {
  /** The newest committed epoch. */
  readonly committedEpoch: number;
  /** The checkpoint period in ms now; 0: checkpoints off. */
  readonly period: number;
  readonly counters: Readonly<CheckpointCounters>;
  /** The figures `checkpoint_info` reports. */
  info(): CheckpointInfo;
  /** Keeps new checkpoints from starting until `release` (the hold counts). */
  hold(): void;
  /** Ends one `hold`. */
  release(): void;
  /** Resolves when no commit is in flight. */
  idle(): Promise<void>;
  /** Resolves with the epoch once a checkpoint cut after this call has committed (`checkpoint_wait`). */
  waitCovering(force?: boolean): Promise<number>;
  /** The figures of committed checkpoint `epoch` while it is among the recent ones. */
  committed(epoch: number): RecentCheckpoint | undefined;
  /** The epoch the next capture will have (a cut from now on is that one's). */
  readonly nextCaptureEpoch: number;
}

/** The kernel as the object modules, the dispatch and the supervisor see it. */
export interface KernelServices {
  readonly config: KernelConfig;
  /** Every kernel object record. */
  readonly table: ObjectTable;
  /** Every cap group's capabilities. */
  readonly caps: CapSpaces;
  /** The run-time side of every memory object. */
  readonly pmos: PmoManager;
  /** Threads whose worker has been started, by thread id (dead ones included). */
  readonly threads: ReadonlyMap<number, LiveThread>;
  readonly checkpoints: CheckpointControl;
  /** The NIC's transmit ring (kernel/nic.ts): a mapping of it comes with its device register. */
  readonly nic: {
    registerOf(pmoId: number): SharedArrayBuffer | undefined;
    /** True when PMO `pmoId` is the transmit ring. */
    isTransmit(pmoId: number): boolean;
  };
  /** A worker wrote output (console, NIC transmit): a checkpoint may start now (group commit). */
  onOutput(): void;
  /**
   * Posts an event to a thread and rings its doorbell; a dormant thread is
   * started first unless `wakeDormant` is false.
   */
  postEvent(threadId: number, event: KernelEvent, wakeDormant?: boolean): void;
  /** Starts a dormant thread; nothing if it is not dormant. */
  wake(threadId: number): void;
  /** True while a restored thread waits, not started, for its first doorbell or signal. */
  isDormant(threadId: number): boolean;
  /** The doorbell to give a peer of `threadId`: its own, a dormant one's, or a fresh one. */
  doorbellOf(threadId: number): SharedArrayBuffer;
  /** Starts the worker of a thread object; resolves once it is registered. */
  spawn(rec: ThreadRecord, resumed: boolean, doorbell?: SharedArrayBuffer): Promise<void>;
  /** A thread reached its first safe point (or stopped for good): the system may be ready. */
  onThreadReady(): void;
  /** Sends any message to the board. */
  post(msg: ToBoard, transfer?: Transferable[]): void;
  /** Sends a log line to the board. */
  log(text: string): void;
  /** The kernel cannot go on: the board prints `code` and `text` and halts the machine. */
  panic(code: Err, text: string): void;
  /** A structured event to the board (machine line `{t:"event"}`), with the committed epoch. */
  event(kind: EventKind, component: string, text: string, thread?: number): void;
  /** The system report now (kernel/report.ts). */
  report(): SystemReport;
  /**
   * Makes component `target` commit `fault`; returns what was done. E_DENIED
   * without --fault-injection, E_NOT_FOUND when no ready component has the name.
   */
  inject(target: string, fault: FaultKind, seed: number): string;
}

/** What the freeze and the capture need of a live thread. */
export interface FrozenThread {
  /** True once the worker failed or was terminated: it is not frozen. */
  readonly dead: boolean;
  /** The thread's control block (FREEZE, RUN_STATE, WAKE_SEQ, SYSCALLS_PENDING). */
  readonly control: Int32Array;
  /** Its doorbell, rung at the thaw when it parked. */
  readonly doorbellWords?: Int32Array;
  /** Its id and console PMO (console heads are taken at the cut). */
  readonly rec: { readonly id: number; readonly consolePmo: number };
}

/** The kernel as the checkpoint manager sees it. */
export interface CheckpointHost {
  readonly config: Pick<
    KernelConfig,
    "checkpointMs" | "groupCommit" | "copyMethod" | "digest" | "debugBarrier" | "nvmPages"
  >;
  /** The object table: its changed records are flushed inside the pause. */
  readonly table: Pick<ObjectTable, "dirtyCount" | "flush" | "pagesUsed">;
  /** The kernel memory object the records are flushed into, and its accessor. */
  readonly kernelPmo: PmoBuffers;
  readonly kernelMemory: PersistentMemory;
  /** Memory objects whose pages are in memory: what the page scan reads. */
  readonly pmos: {
    loaded(): Iterable<readonly [{ readonly id: number; readonly nvmBase: number }, PmoBuffers]>;
    loadedBuffers(id: number): PmoBuffers | undefined;
  };
  readonly threads: ReadonlyMap<number, FrozenThread>;
  /** The NIC's transmit ring (kernel/nic.ts): its HEAD is recorded at the cut. */
  readonly nic: { head(): number | undefined; table(): Uint8Array | undefined };
  /** The console input device (kernel/console_in.ts): its LINES is recorded at the cut. */
  readonly consoleIn: { lines(): number | undefined };
  /** True when every live thread has reached its first safe point. */
  allReady(): boolean;
  post(msg: KernelToBoard, transfer?: Transferable[]): void;
  log(text: string): void;
  panic(code: Err, text: string): void;
}
