/**
 * Kernel object records: what each kind of kernel object persists.
 *
 * Records are small flat values (no lists: relations are kept on the child
 * side, as a connection names its endpoint). The object table keeps them in
 * the kernel heap and writes the changed ones into the kernel memory object
 * at each checkpoint, so an unchanged object costs nothing.
 *
 * @module
 */

import type { RestartPolicy } from "../abi/protocol.ts";

/** Object kinds, with explicit numbers. */
export enum ObjKind {
  CAP_GROUP = 1,
  THREAD = 2,
  ENDPOINT = 3,
  CONNECTION = 4,
  NOTIFICATION = 5,
  PMO = 6,
  VM_SPACE = 7,
  IRQ = 8,
  /** A capability: one slot of one cap group, a node of the derivation tree. */
  CAP = 9,
  /** A PMO mapped into a VM space. */
  MAPPING = 10,
  /** The system monitor: READ reads the system report, WRITE (CONTROL) acts on the machine. */
  MONITOR = 11,
}

/** Number of kinds plus one (kinds start at 1). */
export const OBJ_KIND_COUNT = 12;

/** Fields every record has. */
interface RecordBase {
  id: number;
  kind: ObjKind;
  /** The cap group whose object quota this record counts against (absent: the kernel's own). */
  charged?: number;
}

/** A process: a capability space and a VM space. */
export interface CapGroupRecord extends RecordBase {
  kind: ObjKind.CAP_GROUP;
  name: string;
  vmSpace: number;
  quotaPages: number;
  usedPages: number;
  /** Kernel records (objects and capabilities) the group may have charged to it. */
  quotaObjects: number;
  usedObjects: number;
}

/** A thread: one worker running one program. */
export interface ThreadRecord extends RecordBase {
  kind: ObjKind.THREAD;
  group: number;
  program: string;
  args: Record<string, unknown>;
  policy: RestartPolicy;
  consolePmo: number;
  restarts: number;
}

/** A service name that clients connect to. */
export interface EndpointRecord extends RecordBase {
  kind: ObjKind.ENDPOINT;
  /** Thread serving it, 0 when nobody serves it yet. */
  server: number;
  /** The server's slot for this endpoint, so it can tell endpoints apart. */
  serverSlot: number;
}

/** One client's channel to an endpoint: a ring-buffer PMO. */
export interface ConnectionRecord extends RecordBase {
  kind: ObjKind.CONNECTION;
  endpoint: number;
  client: number;
  server: number;
  badge: number;
  pmo: number;
  /** The endpoint capability the client connected with: revoking it closes the connection. */
  viaCap: number;
  closed: boolean;
}

/** A word of pending signals in a one-page PMO, bound to a thread. */
export interface NotificationRecord extends RecordBase {
  kind: ObjKind.NOTIFICATION;
  pmo: number;
  /** Thread it is bound to, 0 if none. */
  boundThread: number;
  /** Slot of the binding thread's capability, reported with each signal. */
  boundSlot: number;
}

/** A physical memory object: pages backed by an extent of NVM pages. */
export interface PmoRecord extends RecordBase {
  kind: ObjKind.PMO;
  pages: number;
  nvmBase: number;
  role:
    | "data"
    | "ring"
    | "console"
    | "notification"
    | "kernel"
    | "nic"
    | "nic-rx"
    | "console-in";
  owner: number;
}

/** A cap group's address space: the set of PMOs mapped into it. */
export interface VmSpaceRecord extends RecordBase {
  kind: ObjKind.VM_SPACE;
  group: number;
}

/** An interrupt line, bound to a notification: the timer's (with a period), the NIC's or the console input's. */
export interface IrqRecord extends RecordBase {
  kind: ObjKind.IRQ;
  line: "timer" | "nic" | "console-in";
  periodMs: number;
  notification: number;
}

/** A capability: a slot in a cap group naming an object with rights and a badge. */
export interface CapRecord extends RecordBase {
  kind: ObjKind.CAP;
  group: number;
  slot: number;
  obj: number;
  rights: number;
  badge: number;
  /** The capability this one was derived from, 0 for an original. */
  parent: number;
}

/** A PMO mapped into a VM space. */
export interface MappingRecord extends RecordBase {
  kind: ObjKind.MAPPING;
  vmSpace: number;
  pmo: number;
  writable: boolean;
}

/**
 * The system monitor (kernel/objects/monitor.ts): one, made at a fresh boot
 * in init's slot INIT_MONITOR_SLOT. It has no state of its own: the
 * capability's rights are what matter (kernel/abi/report.ts MonitorRight).
 */
export interface MonitorRecord extends RecordBase {
  kind: ObjKind.MONITOR;
}

/** Any kernel object record. */
export type KernelRecord =
  | CapGroupRecord
  | ThreadRecord
  | EndpointRecord
  | ConnectionRecord
  | NotificationRecord
  | PmoRecord
  | VmSpaceRecord
  | IrqRecord
  | CapRecord
  | MappingRecord
  | MonitorRecord;

/** The record type of a kind. */
export type RecordOf<K extends ObjKind> = Extract<KernelRecord, { kind: K }>;
