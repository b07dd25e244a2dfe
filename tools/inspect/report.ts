/**
 * The inspector's report: every section read from one image, as one plain
 * object (what `--json` prints; render.ts draws it as text). A section that
 * meets damage records a problem naming where and stops; the sections after
 * it that need it are null. Sections are read whenever the slot headers
 * pass the live check, so a damaged superblock slot or page still leaves
 * the rest of the report.
 *
 * Keys of {@link InspectReport} (stable; a new key may be added, none is
 * renamed or removed without raising `format`):
 *
 * - `format` (1), `path`, `fileBytes`, `verdict` ("sound" | "damaged"),
 *   `problems` [{where, what}], `leftovers` [text];
 * - `superblocks` [{slot, valid, problem, epoch?, liveSlots?, liveSum?, rootBytes?}];
 * - `committed` {superblock, epoch, pageCount, createdAt, takenAt} | null;
 * - `slots` {livePages, olderVersions, uncommitted, badHeaders, slotsVerified} | null;
 * - `kernel` {records, byKind, groups, threads, caps, kept} | null;
 * - `memory` {pmos, nvm, allocator} | null;
 * - `fs` (tools/inspect/fs.ts FsReport) | null; `kv` (tools/inspect/kv.ts KvReport) | null.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { type CapGroupRecord, ObjKind, type ThreadRecord } from "../../kernel/objects/records.ts";
import { type FsBounds, type FsReport, fsReport } from "./fs.ts";
import { ImageDamaged, type ImageProblem, type InspectedImage, verifySlots } from "./image.ts";
import {
  type CapNode,
  capTree,
  groupName,
  keptPmos,
  type KernelView,
  loadKernel,
} from "./kernel.ts";
import { type KvReport, kvReport } from "./kv.ts";
import {
  type AllocatorReport,
  allocatorReport,
  memoryReport,
  type NvmUse,
  type PmoReport,
} from "./memory.ts";

/** Version of the report's shape. */
export const REPORT_FORMAT = 1;

/** One capability, as the report lists it (its place in the tree is `parent`). */
export interface CapEntry {
  id: number;
  group: string;
  slot: number;
  object: string;
  rights: string;
  badge: number;
  /** The capability it was derived from, 0 for an original. */
  parent: number;
}

/** The kernel section. */
export interface KernelSection {
  records: number;
  byKind: Record<string, number>;
  groups: Array<Omit<CapGroupRecord, "kind" | "charged">>;
  threads: Array<{ id: number; group: string; program: string; policy: string; restarts: number }>;
  caps: CapEntry[];
  /** PMOs cap groups keep by name: "group/name" → PMO id. */
  kept: Record<string, number>;
}

/** Everything the inspector found (see the module doc for the keys). */
export interface InspectReport {
  format: number;
  path: string;
  fileBytes: number;
  verdict: "sound" | "damaged";
  problems: ImageProblem[];
  leftovers: string[];
  superblocks: Array<{
    slot: number;
    valid: boolean;
    problem: string;
    epoch?: number;
    liveSlots?: number;
    liveSum?: number;
    rootBytes?: number;
  }>;
  committed: {
    superblock: number;
    epoch: number;
    pageCount: number;
    createdAt: string;
    takenAt: string | null;
  } | null;
  slots: {
    livePages: number;
    olderVersions: number;
    uncommitted: number;
    badHeaders: number;
    slotsVerified: number;
  } | null;
  kernel: KernelSection | null;
  /** The tree of `kernel.caps`, for the text report (not in --json: `parent` says it). */
  capTree?: CapNode[];
  memory: { pmos: PmoReport[]; nvm: NvmUse; allocator: AllocatorReport | null } | null;
  fs: FsReport | null;
  kv: KvReport | null;
}

/** Builds the report of an opened image; `bounds` limits the file-system listing. */
export function buildReport(image: InspectedImage, bounds: FsBounds): InspectReport {
  const problems = image.problems;
  const slotsVerified = verifySlots(image);
  const f = image.fields;
  const r: InspectReport = {
    format: REPORT_FORMAT,
    path: image.path,
    fileBytes: image.fileBytes,
    verdict: "sound",
    problems,
    leftovers: image.leftovers,
    superblocks: image.superblocks.map((s) => ({ ...s, valid: s.problem === "" })),
    committed: f
      ? {
        superblock: image.chosen,
        epoch: f.epoch,
        pageCount: f.pageCount,
        createdAt: new Date(f.createdAtMs).toISOString(),
        takenAt: null,
      }
      : null,
    slots: image.slots
      ? {
        livePages: image.slots.livePages,
        olderVersions: image.slots.olderVersions,
        uncommitted: image.slots.uncommitted.length,
        badHeaders: image.slots.badHeaders.length,
        slotsVerified,
      }
      : null,
    kernel: null,
    memory: null,
    fs: null,
    kv: null,
  };
  // Damage elsewhere (a superblock slot, a page's data) leaves the rest worth showing; headers
  // that fail the live check leave no page to trust.
  const trusted = image.committed && !problems.some((p) => p.where === "slot headers");
  if (trusted && f && f.epoch > 0) sections(image, r, bounds);
  r.verdict = problems.length === 0 ? "sound" : "damaged";
  return r;
}

/** The sections read through the kernel's records; each one's damage is a problem. */
function sections(image: InspectedImage, r: InspectReport, bounds: FsBounds): void {
  const k = section(r, "kernel", () => loadKernel(image));
  if (!k) return;
  if (r.committed && typeof k.root.takenAtMs === "number") {
    r.committed.takenAt = new Date(k.root.takenAtMs).toISOString();
  }
  const kept = keptPmos(k, r.problems);
  r.capTree = capTree(k);
  r.kernel = kernelSection(k, r.capTree, kept.map((p) => [`${p.group}/${p.name}`, p.pmo.id]));
  const mem = memoryReport(image, k, kept, r.problems);
  r.memory = { ...mem, allocator: null };
  r.memory.allocator = section(r, "memory server", () => allocatorReport(k, kept, r.problems)) ??
    null;
  r.fs = section(r, "file system", () => fsReport(k, kept, bounds)) ?? null;
  r.kv = section(r, "kv store", () => kvReport(k, kept)) ?? null;
}

/** Runs one section; damage (a bad page, a store that will not open) becomes a problem. */
function section<T>(r: InspectReport, name: string, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof ImageDamaged) {
      r.problems.push({ where: e.problem.where, what: `${e.problem.what} (reading the ${name})` });
    } else if (
      e instanceof TardigradeError || e instanceof SyntaxError || e instanceof RangeError
    ) {
      r.problems.push({ where: name, what: e.message });
    } else throw e;
    return undefined;
  }
}

/** Records by kind, the groups, threads and capabilities. */
function kernelSection(
  k: KernelView,
  tree: CapNode[],
  kept: Array<[string, number]>,
): KernelSection {
  const byKind: Record<string, number> = {};
  let records = 0;
  for (const kind of Object.values(ObjKind)) {
    if (typeof kind !== "number") continue;
    const n = k.ofKind(kind).length;
    if (n > 0) byKind[ObjKind[kind]] = n;
    records += n;
  }
  return {
    records,
    byKind,
    groups: k.ofKind(ObjKind.CAP_GROUP).map(({ kind: _k, charged: _c, ...g }) => g),
    threads: k.ofKind(ObjKind.THREAD).map((t: ThreadRecord) => ({
      id: t.id,
      group: groupName(k, t.group),
      program: t.program,
      policy: t.policy,
      restarts: t.restarts,
    })),
    caps: capList(tree),
    kept: Object.fromEntries(kept),
  };
}

/** The tree's nodes, flattened in tree order. */
function capList(roots: CapNode[]): CapEntry[] {
  const out: CapEntry[] = [];
  const visit = (n: CapNode) => {
    out.push({
      id: n.cap.id,
      group: n.group,
      slot: n.cap.slot,
      object: n.object,
      rights: n.rights,
      badge: n.cap.badge,
      parent: n.cap.parent,
    });
    n.children.forEach(visit);
  };
  roots.forEach(visit);
  return out;
}
