/**
 * Memory in a committed image: every memory object with its NVM extent and
 * how many of its pages the image holds a version of, the NVM page budget,
 * and the memory server's allocators (its object heap and LLFree frame
 * pool), attached to in-process copies of their PMOs and checked with their
 * own `stats` and `check`.
 *
 * Map of this file: {@link memoryReport} (PMOs and NVM use), then
 * {@link allocatorReport} (the memory server's heap and frame pool).
 *
 * @module
 */

import { KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import { ObjKind } from "../../kernel/objects/records.ts";
import type { HeapStats } from "../../servers/memory/heap/layout.ts";
import { FramePool } from "../../servers/memory/frame_pool.ts";
import { ObjectHeap } from "../../servers/memory/objects.ts";
import type { MemoryStats } from "../../servers/memory/protocol.ts";
import type { ImageProblem, InspectedImage } from "./image.ts";
import { groupName, type KeptPmo, keptPmo, type KernelView } from "./kernel.ts";

/** One memory object. */
export interface PmoReport {
  id: number;
  role: string;
  /** The owning cap group's name ("kernel" for the kernel's own). */
  owner: string;
  /** "group/name" when a cap group keeps it by name, else "". */
  kept: string;
  pages: number;
  nvmBase: number;
  /** Pages of its extent the image holds a committed version of (the rest read as zeros). */
  pagesWritten: number;
}

/** The NVM page budget at the committed epoch. */
export interface NvmUse {
  pages: number;
  kernelPages: number;
  /** Pages in PMO extents (the kernel PMO not counted). */
  pmoPages: number;
  freePages: number;
  /** Pages with a committed version, and slots holding an older one. */
  pagesWritten: number;
  olderVersions: number;
}

/** PMOs and NVM use; overlapping or out-of-range extents are problems. */
export function memoryReport(
  image: InspectedImage,
  k: KernelView,
  kept: KeptPmo[],
  problems: ImageProblem[],
): { pmos: PmoReport[]; nvm: NvmUse } {
  const pageCount = image.fields!.pageCount;
  const committed = image.committed!;
  const keptName = new Map(kept.map((p) => [p.pmo.id, `${p.group}/${p.name}`]));
  const pmos: PmoReport[] = [];
  const extents: Array<[number, number, number]> = [[0, KERNEL_PMO_PAGES, 0]];
  for (const p of k.ofKind(ObjKind.PMO)) {
    let written = 0;
    const end = Math.min(p.nvmBase + p.pages, pageCount);
    for (let q = Math.max(p.nvmBase, 0); q < end; q++) if (committed[q] >= 0) written++;
    pmos.push({
      id: p.id,
      role: p.role,
      owner: groupName(k, p.owner),
      kept: keptName.get(p.id) ?? "",
      pages: p.pages,
      nvmBase: p.nvmBase,
      pagesWritten: written,
    });
    extents.push([p.nvmBase, p.pages, p.id]);
    if (p.nvmBase < KERNEL_PMO_PAGES || p.nvmBase + p.pages > pageCount) {
      problems.push({
        where: `PMO #${p.id}`,
        what: `its extent ${p.nvmBase}+${p.pages} lies outside the NVM pages ` +
          `${KERNEL_PMO_PAGES}..${pageCount - 1} that memory objects may use`,
      });
    }
  }
  extents.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < extents.length; i++) {
    const [s0, n0, id0] = extents[i - 1];
    const [s1, , id1] = extents[i];
    if (s1 < s0 + n0) {
      problems.push({
        where: `PMO #${id1}`,
        what: `its extent at page ${s1} overlaps ${id0 === 0 ? "the kernel PMO" : `PMO #${id0}`}`,
      });
    }
  }
  const pmoPages = pmos.reduce((n, p) => n + p.pages, 0);
  let pagesWritten = 0;
  for (let q = 0; q < pageCount; q++) if (committed[q] >= 0) pagesWritten++;
  return {
    pmos,
    nvm: {
      pages: pageCount,
      kernelPages: KERNEL_PMO_PAGES,
      pmoPages,
      freePages: pageCount - KERNEL_PMO_PAGES - pmoPages,
      pagesWritten,
      olderVersions: image.slots!.olderVersions,
    },
  };
}

/** The memory server's allocators, each "absent" when the image has no such PMO. */
export interface AllocatorReport {
  heap: { pmo: number; stats: HeapStats; check: string } | "absent";
  frames: { pmo: number; stats: MemoryStats["frames"]; check: string } | "absent";
}

/**
 * The memory server's object heap and frame pool (its kept PMOs "heap" and
 * "frames"), attached read-only in spirit: to private copies, never
 * recovered. A failed check is a problem: the committed state broke an
 * invariant (checkpoints capture the server between requests).
 */
export function allocatorReport(
  k: KernelView,
  kept: KeptPmo[],
  problems: ImageProblem[],
): AllocatorReport {
  const out: AllocatorReport = { heap: "absent", frames: "absent" };
  const heapPmo = keptPmo(kept, "memory", "heap");
  if (heapPmo) {
    const heap = ObjectHeap.attach(k.pmoMemory(heapPmo));
    const check = checkOf(() => heap.check());
    if (check !== "ok") {
      problems.push({ where: `memory server heap (PMO #${heapPmo.id})`, what: check });
    }
    out.heap = { pmo: heapPmo.id, stats: heap.stats(), check };
  }
  const framesPmo = keptPmo(kept, "memory", "frames");
  if (framesPmo) {
    const frames = FramePool.attach(k.pmoMemory(framesPmo));
    const check = checkOf(() => frames.check());
    if (check !== "ok") {
      problems.push({ where: `memory server frame pool (PMO #${framesPmo.id})`, what: check });
    }
    out.frames = { pmo: framesPmo.id, stats: frames.stats(), check };
  }
  return out;
}

/** "ok", or the message of what `check` threw. */
function checkOf(check: () => void): string {
  try {
    check();
    return "ok";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
