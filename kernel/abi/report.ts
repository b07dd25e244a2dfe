/**
 * The system report and the structured events: what the kernel tells a
 * viewer about the whole machine, as plain JSON. The kernel builds a report
 * (kernel/report.ts) for the `system_report` call (the shell's `ps`, `caps`,
 * `ipc`, `mem`) and, with `--report-ms N`, for the board every N ms (machine
 * line `{t:"report"}`); it sends an event (machine line `{t:"event"}`) when
 * the supervisor acts on a component, a checkpoint is asked for, or the
 * power is cut.
 *
 * Map of this file:
 * - {@link SystemReport}: the report, with its parts {@link GroupReport},
 *   {@link ThreadReport}, {@link CapReport}, {@link IpcReport},
 *   {@link MemoryReport}, {@link CheckpointsReport}.
 * - {@link MonitorEvent}: one event; {@link EVENT_KINDS} its kinds.
 * - {@link MonitorToBoard}: the kernel's messages to the board about them.
 * - {@link MonitorRight}: the rights of a monitor capability.
 *
 * Every list is bounded ({@link REPORT_CAPS_PER_GROUP_MAX}, …): what is left
 * out is counted in an `omitted` field, never dropped silently.
 *
 * @module
 */

import type { CheckpointStats, KernelToBoard, RestartPolicy } from "./protocol.ts";
import { Right } from "./rights.ts";

/** The rights of a monitor capability: READ reads the report, CONTROL acts on the machine. */
export const MonitorRight = {
  /** `system_report`. */
  READ: Right.READ,
  /** `checkpoint_now`, `fault_inject`, `power_cut`: the WRITE right of the monitor object. */
  CONTROL: Right.WRITE,
} as const;

/** Capabilities listed per cap group at most; the rest are counted in `capsOmitted`. */
export const REPORT_CAPS_PER_GROUP_MAX = 256;
/** Connections listed at most; the rest are counted in `connectionsOmitted`. */
export const REPORT_CONNECTIONS_MAX = 512;
/** Memory objects listed at most; the rest are counted in `pmosOmitted`. */
export const REPORT_PMOS_MAX = 512;
/** Recent checkpoints a report carries (newest last). */
export const REPORT_CHECKPOINTS_MAX = 16;

/**
 * A thread's state: `running` (its worker is up), `parked` (restored by a
 * resume and not started yet: a server waits dormant for its first request),
 * `restarting` (failed; the supervisor is starting it again), `dead`
 * (failed and stays down: policy `none`, or too many failures in a row).
 */
export type ThreadState = "running" | "parked" | "dead" | "restarting";

/** One thread. */
export interface ThreadReport {
  id: number;
  /** Its cap group's name. */
  name: string;
  program: string;
  state: ThreadState;
  policy: RestartPolicy;
  /** Restarts since this boot (volatile: a resume counts from 0). */
  restarts: number;
  /** Failures in a row, each soon after it became ready (kept in the thread's record). */
  failuresInARow: number;
}

/** One capability: a slot of a cap group, a node of the derivation tree. */
export interface CapReport {
  /** The capability's own object id (what `parent` of a derived one names). */
  id: number;
  slot: number;
  /** The kind of object it names (`ENDPOINT`, `PMO`, …; `DEAD` when the object is gone). */
  kind: string;
  /** Its rights by name (`read`, `write`, `grant`, `call`, `receive`, `send`). */
  rights: string[];
  badge: number;
  /** The object it names. */
  object: number;
  /** The capability it was derived from (0: an original), and where that one sits. */
  parent: number;
  parentGroup?: number;
  parentSlot?: number;
}

/** One cap group (a process). */
export interface GroupReport {
  id: number;
  name: string;
  /** Its first thread's restart policy. */
  policy: RestartPolicy;
  /** Restarts of its threads since this boot. */
  restarts: number;
  /** Failures of its threads since this boot. */
  failures: number;
  quotaPages: number;
  usedPages: number;
  quotaObjects: number;
  usedObjects: number;
  threads: ThreadReport[];
  /** Its capabilities by slot, at most {@link REPORT_CAPS_PER_GROUP_MAX}. */
  caps: CapReport[];
  capsOmitted: number;
}

/** An endpoint: a service clients connect to. */
export interface EndpointReport {
  id: number;
  /** The thread serving it (0: nobody yet) and its cap group. */
  serverThread: number;
  serverGroup: number;
  /** Open connections to it. */
  connections: number;
}

/**
 * One connection. The counts come from the ring's header words: requests and
 * responses written so far (monotonic), bytes so far (modulo 2^32), and
 * those not yet consumed; `null` when its memory is not loaded (a dormant
 * peer after a resume: the kernel does not load memory to report on it).
 */
export interface ConnectionReport {
  id: number;
  endpoint: number;
  clientThread: number;
  clientGroup: number;
  serverThread: number;
  serverGroup: number;
  badge: number;
  closed: boolean;
  requests: number | null;
  responses: number | null;
  requestBytes: number | null;
  responseBytes: number | null;
  pendingRequests: number | null;
  pendingResponses: number | null;
}

/** IPC: endpoints and connections. */
export interface IpcReport {
  endpoints: EndpointReport[];
  connections: ConnectionReport[];
  connectionsOmitted: number;
}

/** One memory object. */
export interface PmoReport {
  id: number;
  pages: number;
  /** The cap group it is charged to (0: the kernel's own). */
  owner: number;
  role: string;
  /** True when its pages are in memory (a lazily restored one is not, until first used). */
  loaded: boolean;
}

/** NVM and memory objects. */
export interface MemoryReport {
  nvmPages: number;
  nvmFreePages: number;
  /** Kernel object records in use, of how many. */
  objects: number;
  objectsMax: number;
  pmos: PmoReport[];
  pmosOmitted: number;
}

/** One recent checkpoint: its pause figures, and how long the board took to commit it. */
export type RecentCheckpoint = CheckpointStats & {
  /** From the hand-over to the board until its commit came back, in microseconds. */
  commitUs: number;
};

/** Checkpoints: the period, the counters, the recent ones. */
export interface CheckpointsReport {
  periodMs: number;
  counters: Record<string, number>;
  /** The newest {@link REPORT_CHECKPOINTS_MAX} committed this boot, oldest first. */
  recent: RecentCheckpoint[];
}

/** The whole system, as the kernel sees it at one moment. */
export interface SystemReport {
  /** Milliseconds since this boot (or resume) of the kernel. */
  uptimeMs: number;
  /** Wall clock (Unix ms) when the report was made. */
  atUnixMs: number;
  /** The newest committed epoch. */
  epoch: number;
  /** True when this boot resumed from a checkpoint. */
  resumed: boolean;
  /** The machine's flags that decide what a monitor's CONTROL may do. */
  faultInjection: boolean;
  groups: GroupReport[];
  ipc: IpcReport;
  memory: MemoryReport;
  checkpoints: CheckpointsReport;
}

/** Every kind of event, in the order the supervisor meets them. */
export const EVENT_KINDS = [
  "crash",
  "restart",
  "dead",
  "rollback",
  "inject",
  "checkpoint-now",
  "power-cut",
] as const;

/** What an event is about. */
export type EventKind = typeof EVENT_KINDS[number];

/**
 * One structured event: `kind`, the component (cap group name) it is about
 * and its thread, a readable `text` (what the kernel's log line says), and
 * the newest committed epoch when it happened. A diagnostic: out at once,
 * not held for a commit.
 */
export interface MonitorEvent {
  kind: EventKind;
  component: string;
  thread?: number;
  text: string;
  epoch: number;
}

/**
 * Kernel → board, besides protocol.ts KernelToBoard (kept apart so that
 * protocol.ts need not import this module, which imports it).
 */
export type MonitorToBoard =
  /** With --report-ms: the system report, every that many ms. */
  | { t: "report"; report: SystemReport }
  /** A structured event: the supervisor acted on a component, a checkpoint was asked for, … */
  | { t: "event"; event: MonitorEvent }
  /** `power_cut`: the board stops the machine as a power failure would (exit 137). */
  | { t: "power-cut"; reason: string };

/** Everything the kernel sends the board. */
export type ToBoard = KernelToBoard | MonitorToBoard;
