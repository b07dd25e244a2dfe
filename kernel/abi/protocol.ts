/**
 * Messages on the control plane (postMessage): board ↔ kernel and
 * kernel ↔ worker. The data plane (IPC rings) never uses postMessage.
 *
 * System calls travel as {@link SyscallRequest}; the kernel identifies the
 * caller by the Worker object the message came from, which a worker cannot
 * forge. Every reply is a {@link SyscallReply} holding a value or an error.
 *
 * @module
 */

import type { ErrorValue } from "./errors.ts";
import type { PmoBuffers } from "./layout.ts";

/** Every system call, by name. docs/KERNEL_OBJECTS.md lists the rights each needs. */
export type SyscallOp =
  | "cap_info"
  | "cap_copy"
  | "cap_mint"
  | "cap_delete"
  | "cap_revoke"
  | "cap_grant"
  | "cap_transfer"
  | "cap_list"
  | "cap_group_create"
  | "thread_create"
  | "pmo_create"
  | "pmo_map"
  | "endpoint_create"
  | "endpoint_serve"
  | "connect"
  | "conn_attach"
  | "notification_create"
  | "notification_bind"
  | "notification_signal"
  | "irq_bind"
  | "system_info"
  | "checkpoint_info"
  | "checkpoint_wait"
  | "system_report"
  | "checkpoint_now"
  | "fault_inject"
  | "power_cut"
  | "ready";

/** The root task's program: started at every boot and resume (the board starts its worker early). */
export const INIT_PROGRAM = "servers/init/main.ts";

/** A system call from a worker to the kernel. */
export interface SyscallRequest {
  t: "syscall";
  /** Caller-chosen id, echoed in the reply. */
  id: number;
  op: SyscallOp;
  args: unknown[];
}

/** The kernel's answer to one {@link SyscallRequest}. */
export type SyscallReply =
  | { t: "sysret"; id: number; ok: true; value: unknown }
  | { t: "sysret"; id: number; ok: false; error: ErrorValue };

/** What a worker gets when it starts. */
export interface StartMessage {
  t: "start";
  threadId: number;
  capGroupId: number;
  name: string;
  program: string;
  args: Record<string, unknown>;
  /** True when the thread existed before: rebuild caches from PMOs, do not re-initialise. */
  resumed: boolean;
  control: SharedArrayBuffer;
  doorbell: SharedArrayBuffer;
  console: PmoBuffers;
  /** The console's device register (ConsoleRegister). */
  consoleRegister: SharedArrayBuffer;
  /** The worker's end of its channel to the kernel: system calls and events. */
  port: MessagePort;
  /** True when the machine runs with --fault-injection: the worker acts on "inject" events. */
  faultInjection: boolean;
}

/** A connection as one side sees it. */
export interface ConnectionHandle {
  /** Kernel object id of the connection. */
  connId: number;
  /** The ring buffer (a PMO of its own). */
  ring: PmoBuffers;
  /** The peer's doorbell: ring it after writing. */
  peerDoorbell: SharedArrayBuffer;
  /** Badge of the capability the client connected with (delivered to the server only). */
  badge: number;
  /** Endpoint slot the server serves it under (server side), or the client's connection slot. */
  slot: number;
}

/** Events the kernel posts to a worker outside system-call replies. */
export type KernelEvent =
  | { t: "accept"; endpointSlot: number; conn: ConnectionHandle }
  | { t: "peer-doorbell"; connId: number; peerDoorbell: SharedArrayBuffer }
  /**
   * The peer died; `restarting` when the kernel starts it again (its rings keep their messages).
   * `endpointSlot` is set when the kernel tells a server again, as it serves that endpoint, of a
   * connection closed for good: the first telling may have been lost (see endpoint_serve).
   */
  | { t: "closed"; connId: number; reason: string; restarting?: boolean; endpointSlot?: number }
  | { t: "cap"; connId: number; slot: number; badge: number }
  | { t: "inject"; fault: FaultKind; seed: number };

/**
 * Faults the fault injector can make a component commit (docs/FAULTS.md):
 * crashes (`throw`, `loop`, `exit`: the worker closes itself, which Deno does
 * not report) and misuse (`oom`: allocate until refused;
 * `garbage`: malformed system calls and ring slots; `oversized`: messages
 * and arguments over every limit; `forged-cap` and `revoked-cap`: slots it
 * does not hold or no longer holds).
 */
export type FaultKind =
  | "throw"
  | "loop"
  | "exit"
  | "oom"
  | "garbage"
  | "oversized"
  | "forged-cap"
  | "revoked-cap";

/** The faults that end the component's worker (the others are misuse it survives). */
export const CRASH_FAULTS: FaultKind[] = ["throw", "loop", "exit"];

/** Every fault kind, crashes first. */
export const FAULT_KINDS: FaultKind[] = [
  "throw",
  "loop",
  "exit",
  "oom",
  "garbage",
  "oversized",
  "forged-cap",
  "revoked-cap",
];

/**
 * Messages from a worker to the kernel besides system calls. `output`: the
 * worker's step wrote to a ring whose bytes leave the machine (its console,
 * the NIC's transmit ring), so a checkpoint should start now (group commit).
 */
export type WorkerMessage = SyscallRequest | { t: "log"; text: string } | { t: "output" };

/** Board → kernel. */
export type BoardToKernel =
  | {
    t: "boot";
    fresh: boolean;
    config: KernelConfig;
    /** Resume: the kernel PMO's data, its first `kernelPagesUsed` pages read from the image. */
    kernelData?: SharedArrayBuffer;
    kernelPagesUsed: number;
    epoch: number;
    /** The timer chip's port (hw/timer.ts): an empty message every tick. */
    timerPort: MessagePort;
  }
  | { t: "checkpoint-ms"; ms: number }
  /** The command port's `checkpoint-now`: take one now (as `checkpoint_wait` would). */
  | { t: "checkpoint-now" }
  | { t: "committed"; epoch: number; staging: SharedArrayBuffer }
  | { t: "loaded"; reqId: number }
  | { t: "worker-failed"; threadId: number; message: string }
  | { t: "inject"; target: string; fault: FaultKind; seed: number }
  | { t: "shutdown" }
  /** The NIC wrote frames into the receive ring: its IRQ line. */
  | { t: "nic-irq" }
  /** A keyboard line for the console input device (kernel/console_in.ts). */
  | { t: "console-input"; text: string; seq?: number };

/** Kernel → board (and kernel/abi/report.ts MonitorToBoard: the report, events, the power cut). */
export type KernelToBoard =
  /** With checkpoints off: a worker wrote output; the board releases it now. */
  | { t: "output" }
  /** A diagnostic; `from` names the component whose `ctx.log` it is (e.g. "fs#3"). */
  | { t: "log"; text: string; from?: string }
  | { t: "stage"; name: string; ms: number }
  | { t: "ready"; epoch: number; resumed: boolean }
  | { t: "digest"; epoch: number; digest: string }
  | {
    t: "console";
    threadId: number;
    ring: PmoBuffers;
    register: SharedArrayBuffer;
    name: string;
    /**
     * After a resume: the ring's HEAD as the committed checkpoint holds it.
     * The board sends the text from RELEASED up to it at once.
     */
    committedHead?: number;
  }
  | {
    /** The NIC's transmit ring (kernel/abi/nic.ts) and its device register. */
    t: "nic-tx";
    ring: PmoBuffers;
    register: SharedArrayBuffer;
    /** After a resume: the ring's HEAD as the committed checkpoint holds it; the board sends from RELEASED up to it. */
    committedHead?: number;
  }
  | {
    /** The NIC's receive PMO (kernel/abi/nic_rx.ts) and its device register (an empty ring). */
    t: "nic-rx";
    ring: PmoBuffers;
    register: SharedArrayBuffer;
    /** After a resume: the connection table as the committed checkpoint holds it (HELLO says it). */
    committedTable?: Uint8Array;
  }
  | { t: "load"; reqId: number; data: SharedArrayBuffer; nvmBase: number; pages: number }
  | {
    t: "commit";
    epoch: number;
    root: string;
    pages: SharedArrayBuffer;
    nvmPages: Int32Array;
    consoleHeads: Array<[number, number]>;
    /** The NIC transmit ring's HEAD at the cut: its frames up to it go to the switch at the commit. */
    nicTxHead?: number;
    /** The NIC's connection table at the cut: the board sends its ACKs and LISTENs at the commit. */
    nicTable?: Uint8Array;
    /** The console input device's LINES at the cut: the board reports it at the commit. */
    consoleInLines?: number;
    stats: CheckpointStats;
  }
  /**
   * A checkpoint whose cut found nothing new since the committed epoch (no
   * page, the same output heads): nothing to write or commit; its
   * statistics, for --report-checkpoints.
   */
  | { t: "unchanged"; stats: CheckpointStats }
  | { t: "spawn"; threadId: number; program: string; name: string; start: StartMessage }
  | { t: "terminate"; threadId: number }
  | { t: "system-rollback"; reason: string }
  | { t: "shutdown-done" }
  /** The console input device is attached; its LINES (committed) for the board to report. */
  | { t: "console-in-lines"; lines: number }
  /** The kernel cannot go on (e.g. E_CHECKPOINT_FAILED): the board reports it and halts. */
  | { t: "panic"; code: string; text: string };

/**
 * What the kernel does when a thread fails (docs/FAULTS.md): start it again
 * on its persistent memory as it is (`fresh`); first roll that memory back
 * to the last committed checkpoint (`rollback`); roll the whole system back
 * to the last committed checkpoint (`system-rollback`); or leave it dead.
 */
export type RestartPolicy = "fresh" | "rollback" | "system-rollback" | "none";

/** Every restart policy. */
export const RESTART_POLICIES: RestartPolicy[] = ["fresh", "rollback", "system-rollback", "none"];

/** Copy methods of the checkpoint manager. */
export type CopyMethod = "stop-and-copy" | "cow" | "hybrid";

/** Settings the board hands the kernel at boot. */
export interface KernelConfig {
  checkpointMs: number;
  /**
   * Group commit: a checkpoint starts as soon as output (console, NIC
   * transmit) waits for one, not only every `checkpointMs`.
   */
  groupCommit: boolean;
  copyMethod: CopyMethod;
  nvmPages: number;
  /** Start these apps (servers/apps/NAME.ts) after the servers. */
  apps: string[];
  /** Compare non-dirty pages against the last checkpoint to catch writes that skipped the barrier. */
  debugBarrier: boolean;
  /** Digest the whole state inside each pause and after restoring (resume-exactness tests). */
  digest: boolean;
  /** Accept fault-injection commands (tests and `scenario faults` only). */
  faultInjection: boolean;
  /** Init gives the shell a monitor capability with CONTROL, not READ only (`--shell-control`). */
  shellControl: boolean;
  /** Send the system report to the board every this many ms (`--report-ms`); 0: never. */
  reportMs: number;
  /** Longest one run of handlers may take before the watchdog stops the worker. */
  handlerBudgetMs: number;
  /** Restart policy per component name, overriding init's configuration. */
  policies: Record<string, RestartPolicy>;
  /** Byte offset new console rings start at (0; a test hook for offsets past 2^31 and 2^32). */
  consoleStart: number;
  /**
   * The FS server's arguments, handed to it by init at a fresh boot:
   * `dataPages` (file data, `--fs-mb`), `metaPages` (metadata,
   * `--fs-meta-mb`; 0: the storage's recommendation), `clientBlocks` (each
   * client's quota in 4 KiB blocks, `--fs-client-blocks`; 0: none).
   * Defaults when absent.
   */
  fs?: { dataPages: number; metaPages: number; clientBlocks: number };
}

/** Timing of one checkpoint's stop-the-world pause, in microseconds, broken down like TreeSLS. */
export interface CheckpointStats {
  epoch: number;
  freezeUs: number;
  capTreeUs: number;
  objectsUs: Record<string, number>;
  pageCopyUs: number;
  pauseUs: number;
  dirtyPages: number;
  cowPages: number;
  /** Chunks of pages whose states the scan read (the others the dirty summary let it skip). */
  scannedChunks?: number;
  objectRecords: number;
  /** Digest of the captured state, with --digest only. */
  digest?: string;
  /**
   * True when the cut found nothing new since committed epoch `epoch` (no
   * page captured, the same console and NIC heads and table): it was not
   * written or committed, the committed epoch already holds its state.
   */
  unchanged?: boolean;
}
