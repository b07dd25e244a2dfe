/**
 * The kernel's state in a committed image: its object records (read by the
 * kernel's own loader, `ObjectTable.load`, from the kernel memory object's
 * pages), the capability derivation tree, each cap group's kept names (its
 * slot record, read by the runtime's `SlotNames`), and the memory objects'
 * pages as in-process copies.
 *
 * Map of this file:
 * - {@link loadKernel}: the root blob and the object table, or the damage.
 * - {@link KernelView}: records by kind, the cap tree ({@link capTree}),
 *   kept names ({@link keptPmos}), a PMO's pages ({@link KernelView.pmoMemory}).
 *
 * @module
 */

import { type CheckpointRoot, KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import { TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import { rightsToString } from "../../kernel/abi/rights.ts";
import { Slot } from "../../kernel/abi/slots.ts";
import { ObjectTable } from "../../kernel/object_table.ts";
import {
  type CapRecord,
  type KernelRecord,
  OBJ_KIND_COUNT,
  ObjKind,
  type PmoRecord,
  type RecordOf,
} from "../../kernel/objects/records.ts";
import { SlotNames } from "../../servers/runtime/names.ts";
import { ImageDamaged, type ImageProblem, type InspectedImage } from "./image.ts";

/** The committed kernel state. */
export interface KernelView {
  root: CheckpointRoot;
  table: ObjectTable;
  /** Every record of `kind`, in id order. */
  ofKind<K extends ObjKind>(kind: K): RecordOf<K>[];
  /** The record with `id`, or undefined. */
  get(id: number): KernelRecord | undefined;
  /** A PMO's pages at the committed epoch, as a private copy (ImageDamaged on a bad page). */
  pmoMemory(rec: PmoRecord): PersistentMemory;
}

/**
 * Decodes the root blob and the kernel's records from `image`. ImageDamaged
 * when the root is not a checkpoint root, a kernel page fails its crc, or a
 * record does not decode.
 */
export function loadKernel(image: InspectedImage): KernelView {
  const root = decodeRoot(image.fields!.root);
  if (root.kernelPages !== KERNEL_PMO_PAGES) {
    throw new ImageDamaged({
      where: "root",
      what: `holds ${root.kernelPages} kernel pages, this build expects ${KERNEL_PMO_PAGES}: ` +
        `the image was made by another build`,
    });
  }
  const used = Math.min(KERNEL_PMO_PAGES, root.kernelPagesUsed ?? KERNEL_PMO_PAGES);
  const data = new SharedArrayBuffer(KERNEL_PMO_PAGES * PAGE_BYTES);
  new Uint8Array(data).set(image.readPages(0, used));
  let table: ObjectTable;
  try {
    table = ObjectTable.load(
      new PersistentMemory(allocatePmoBuffers(0, KERNEL_PMO_PAGES, data)),
      used,
    );
  } catch (e) {
    const what = e instanceof TardigradeError || e instanceof SyntaxError ? e.message : String(e);
    throw new ImageDamaged({ where: "kernel records (pages 0.." + (used - 1) + ")", what });
  }
  const byKind = Array.from(
    { length: OBJ_KIND_COUNT },
    (_, k) => k === 0 ? [] : [...table.ofKind(k as ObjKind)].sort((a, b) => a.id - b.id),
  );
  return {
    root,
    table,
    ofKind: <K extends ObjKind>(kind: K) => byKind[kind] as RecordOf<K>[],
    get: (id) => table.get(id),
    pmoMemory: (rec) => {
      const bytes = image.readPages(rec.nvmBase, rec.pages);
      const buffers = allocatePmoBuffers(rec.id, rec.pages);
      new Uint8Array(buffers.data).set(bytes);
      return new PersistentMemory(buffers);
    },
  };
}

/** The superblock's root blob as a CheckpointRoot; ImageDamaged if it is not one. */
function decodeRoot(bytes: Uint8Array): CheckpointRoot {
  let root: CheckpointRoot;
  try {
    root = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ImageDamaged({ where: "root", what: `is not JSON (${(e as Error).message})` });
  }
  if (typeof root !== "object" || root === null || typeof root.kernelPages !== "number") {
    throw new ImageDamaged({ where: "root", what: "is not a checkpoint root (no kernelPages)" });
  }
  return root;
}

/** One node of the capability derivation tree. */
export interface CapNode {
  cap: CapRecord;
  /** "fs" (the holding cap group's name, or #id when it has none). */
  group: string;
  /** "PMO #12 (data)", "ENDPOINT #7", "DEAD #9" when the object is gone. */
  object: string;
  rights: string;
  children: CapNode[];
}

/** Every capability as a forest: originals (parent 0, or a parent that is gone) at the roots. */
export function capTree(k: KernelView): CapNode[] {
  const caps = k.ofKind(ObjKind.CAP);
  const nodes = new Map<number, CapNode>();
  for (const cap of caps) {
    nodes.set(cap.id, {
      cap,
      group: groupName(k, cap.group),
      object: objectName(k, cap.obj),
      rights: rightsToString(cap.rights),
      children: [],
    });
  }
  const roots: CapNode[] = [];
  for (const cap of caps) {
    const node = nodes.get(cap.id)!;
    const parent = cap.parent === 0 ? undefined : nodes.get(cap.parent);
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}

/** The name of cap group `id`, or `#id` when there is no such group. */
export function groupName(k: KernelView, id: number): string {
  if (id === 0) return "kernel";
  const g = k.get(id);
  return g?.kind === ObjKind.CAP_GROUP ? g.name : `#${id}`;
}

/** "PMO #12 (data)": an object's kind and id, and a PMO's role. */
export function objectName(k: KernelView, id: number): string {
  const o = k.get(id);
  if (!o) return `DEAD #${id}`;
  return `${ObjKind[o.kind]} #${id}` + (o.kind === ObjKind.PMO ? ` (${o.role})` : "");
}

/** A PMO kept by name in a cap group's slot record (servers/runtime/service.ts `lastingPmo`). */
export interface KeptPmo {
  group: string;
  /** The kept name without its `pmo:` prefix ("heap", "fs-meta"). */
  name: string;
  pmo: PmoRecord;
}

/**
 * Every PMO a cap group keeps by name in its slot record: the group's cap in
 * Slot.RECORD names the record PMO, whose entries name slots of the group,
 * whose caps name the PMOs. A record that fails to read (a page's crc, an
 * impossible count) is a problem in `problems`, and its group's names are
 * left out.
 */
export function keptPmos(k: KernelView, problems: ImageProblem[]): KeptPmo[] {
  const bySlot = new Map<string, CapRecord>();
  for (const c of k.ofKind(ObjKind.CAP)) bySlot.set(`${c.group}:${c.slot}`, c);
  const out: KeptPmo[] = [];
  for (const g of k.ofKind(ObjKind.CAP_GROUP)) {
    const recCap = bySlot.get(`${g.id}:${Slot.RECORD}`);
    const recPmo = recCap && k.get(recCap.obj);
    if (recPmo?.kind !== ObjKind.PMO) continue;
    out.push({ group: g.name, name: "slot record", pmo: recPmo });
    let names: SlotNames;
    try {
      names = new SlotNames({}, k.pmoMemory(recPmo), g.name);
      for (const name of names.names()) {
        if (!name.startsWith("pmo:")) continue;
        const pmo = k.get(bySlot.get(`${g.id}:${names.get(name)}`)?.obj ?? 0);
        if (pmo?.kind === ObjKind.PMO) out.push({ group: g.name, name: name.slice(4), pmo });
      }
    } catch (e) {
      if (e instanceof ImageDamaged) problems.push(e.problem);
      else if (e instanceof TardigradeError) {
        problems.push({
          where: `slot record of cap group ${g.name} (PMO #${recPmo.id})`,
          what: e.message,
        });
      } else throw e;
    }
  }
  return out;
}

/** The PMO cap group `group` keeps as `name`, or undefined. */
export function keptPmo(kept: KeptPmo[], group: string, name: string): PmoRecord | undefined {
  return kept.find((p) => p.group === group && p.name === name)?.pmo;
}
