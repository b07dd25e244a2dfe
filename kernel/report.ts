/**
 * The system report (kernel/abi/report.ts) built from the kernel's tables:
 * cap groups with their threads and capabilities, endpoints and
 * connections, memory objects and NVM, recent checkpoints. Read-only: it
 * changes no record, loads no memory (a connection whose ring is not loaded
 * reports its counts as null), and every list is bounded.
 *
 * Map of this file:
 * - {@link ReportSource}: what the builder reads (the `Kernel` is one).
 * - {@link buildReport}: the report; `groupReport`, `threadState`,
 *   `capReport`, `ipcReport`, `memoryReport` its parts.
 *
 * @module
 */

import { ConnWord, type PmoBuffers } from "./abi/layout.ts";
import { RECORDS_MAX } from "./abi/limits.ts";
import type { KernelConfig } from "./abi/protocol.ts";
import {
  type CapReport,
  type ConnectionReport,
  type GroupReport,
  type IpcReport,
  type MemoryReport,
  type RecentCheckpoint,
  REPORT_CAPS_PER_GROUP_MAX,
  REPORT_CONNECTIONS_MAX,
  REPORT_PMOS_MAX,
  type SystemReport,
  type ThreadReport,
  type ThreadState,
} from "./abi/report.ts";
import { rightsToString } from "./abi/rights.ts";
import type { CapSpaces } from "./cspace.ts";
import type { CheckpointCounters } from "./services.ts";
import type { ObjectTable } from "./object_table.ts";
import {
  type CapGroupRecord,
  type CapRecord,
  type ConnectionRecord,
  ObjKind,
  type ThreadRecord,
} from "./objects/records.ts";

/** What the report is built from. */
export interface ReportSource {
  readonly config: Pick<KernelConfig, "nvmPages" | "faultInjection">;
  readonly table: ObjectTable;
  readonly caps: Pick<CapSpaces, "list">;
  readonly pmos: {
    loadedBuffers(id: number): PmoBuffers | undefined;
    readonly extents: { freePages(): number };
  };
  /** Threads whose worker has been started (dead ones included). */
  readonly threads: ReadonlyMap<number, { readonly dead: boolean }>;
  readonly checkpoints: {
    readonly committedEpoch: number;
    readonly counters: Readonly<CheckpointCounters>;
    readonly period: number;
    readonly recentCommitted: readonly RecentCheckpoint[];
  };
  /** The supervisor's counts since this boot and the threads it is restarting. */
  readonly supervisor: {
    readonly failures: ReadonlyMap<number, number>;
    readonly restarts: ReadonlyMap<number, number>;
    readonly restarting: ReadonlySet<number>;
  };
  isDormant(threadId: number): boolean;
  /** performance.now() when the kernel started. */
  readonly startedAt: number;
  readonly resumed: boolean;
}

/** The whole report, now. */
export function buildReport(k: ReportSource): SystemReport {
  const threads = [...k.table.ofKind(ObjKind.THREAD)];
  return {
    uptimeMs: performance.now() - k.startedAt,
    atUnixMs: Date.now(),
    epoch: k.checkpoints.committedEpoch,
    resumed: k.resumed,
    faultInjection: k.config.faultInjection,
    groups: [...k.table.ofKind(ObjKind.CAP_GROUP)].map((g) =>
      groupReport(k, g, threads.filter((t) => t.group === g.id))
    ),
    ipc: ipcReport(k),
    memory: memoryReport(k),
    checkpoints: {
      periodMs: k.checkpoints.period,
      counters: { ...k.checkpoints.counters },
      recent: k.checkpoints.recentCommitted.map((c) => ({ ...c })),
    },
  };
}

/** One cap group with its threads and (the first of) its capabilities. */
function groupReport(k: ReportSource, g: CapGroupRecord, threads: ThreadRecord[]): GroupReport {
  const shown = threads.map((t) => threadReport(k, t, g.name));
  const caps = k.caps.list(g.id);
  return {
    id: g.id,
    name: g.name,
    policy: threads[0]?.policy ?? "none",
    restarts: shown.reduce((n, t) => n + t.restarts, 0),
    failures: threads.reduce((n, t) => n + (k.supervisor.failures.get(t.id) ?? 0), 0),
    quotaPages: g.quotaPages,
    usedPages: g.usedPages,
    quotaObjects: g.quotaObjects,
    usedObjects: g.usedObjects,
    threads: shown,
    caps: caps.slice(0, REPORT_CAPS_PER_GROUP_MAX).map((c) => capReport(k, c)),
    capsOmitted: Math.max(0, caps.length - REPORT_CAPS_PER_GROUP_MAX),
  };
}

function threadReport(k: ReportSource, t: ThreadRecord, name: string): ThreadReport {
  return {
    id: t.id,
    name,
    program: t.program,
    state: threadState(k, t.id),
    policy: t.policy,
    restarts: k.supervisor.restarts.get(t.id) ?? 0,
    failuresInARow: t.restarts,
  };
}

/** A thread's state from its worker, the supervisor and the dormancy (see ThreadState). */
function threadState(k: ReportSource, id: number): ThreadState {
  if (k.supervisor.restarting.has(id)) return "restarting";
  const live = k.threads.get(id);
  if (live && !live.dead) return "running";
  if (k.isDormant(id)) return "parked";
  return live ? "dead" : "parked";
}

function capReport(k: ReportSource, c: CapRecord): CapReport {
  const obj = k.table.get(c.obj);
  const rights = rightsToString(c.rights);
  const parent = c.parent !== 0 ? k.table.get(c.parent) : undefined;
  return {
    id: c.id,
    slot: c.slot,
    kind: obj ? ObjKind[obj.kind] : "DEAD",
    rights: rights === "none" ? [] : rights.split("|"),
    badge: c.badge,
    object: c.obj,
    parent: c.parent,
    ...(parent?.kind === ObjKind.CAP ? { parentGroup: parent.group, parentSlot: parent.slot } : {}),
  };
}

/** The cap group of thread `id` (0 when it is gone). */
function groupOf(k: ReportSource, id: number): number {
  const t = k.table.get(id);
  return t?.kind === ObjKind.THREAD ? t.group : 0;
}

function ipcReport(k: ReportSource): IpcReport {
  const all = [...k.table.ofKind(ObjKind.CONNECTION)];
  const open = new Map<number, number>();
  for (const c of all) if (!c.closed) open.set(c.endpoint, (open.get(c.endpoint) ?? 0) + 1);
  return {
    endpoints: [...k.table.ofKind(ObjKind.ENDPOINT)].map((e) => ({
      id: e.id,
      serverThread: e.server,
      serverGroup: groupOf(k, e.server),
      connections: open.get(e.id) ?? 0,
    })),
    connections: all.slice(0, REPORT_CONNECTIONS_MAX).map((c) => connectionReport(k, c)),
    connectionsOmitted: Math.max(0, all.length - REPORT_CONNECTIONS_MAX),
  };
}

/** A connection, with the counts its ring's header words hold when its memory is loaded. */
function connectionReport(k: ReportSource, c: ConnectionRecord): ConnectionReport {
  const b = k.pmos.loadedBuffers(c.pmo);
  const w = b ? new Int32Array(b.data, 0, ConnWord.NEXT_TAG + 1) : undefined;
  const word = (i: ConnWord) => w ? Atomics.load(w, i) : 0;
  const counted = (i: ConnWord) => w ? word(i) >>> 0 : null;
  return {
    id: c.id,
    endpoint: c.endpoint,
    clientThread: c.client,
    clientGroup: groupOf(k, c.client),
    serverThread: c.server,
    serverGroup: groupOf(k, c.server),
    badge: c.badge,
    closed: c.closed,
    requests: counted(ConnWord.REQ_HEAD),
    responses: counted(ConnWord.RESP_HEAD),
    requestBytes: counted(ConnWord.REQ_BYTES),
    responseBytes: counted(ConnWord.RESP_BYTES),
    pendingRequests: w ? (word(ConnWord.REQ_HEAD) - word(ConnWord.REQ_TAIL)) | 0 : null,
    pendingResponses: w ? (word(ConnWord.RESP_HEAD) - word(ConnWord.RESP_TAIL)) | 0 : null,
  };
}

function memoryReport(k: ReportSource): MemoryReport {
  const pmos = [...k.table.ofKind(ObjKind.PMO)];
  return {
    nvmPages: k.config.nvmPages,
    nvmFreePages: k.pmos.extents.freePages(),
    objects: k.table.size,
    objectsMax: RECORDS_MAX - 1,
    pmos: pmos.slice(0, REPORT_PMOS_MAX).map((p) => ({
      id: p.id,
      pages: p.pages,
      owner: p.owner,
      role: p.role,
      loaded: k.pmos.loadedBuffers(p.id) !== undefined,
    })),
    pmosOmitted: Math.max(0, pmos.length - REPORT_PMOS_MAX),
  };
}
