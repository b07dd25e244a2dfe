/**
 * VM spaces: a cap group's address space, the set of PMOs mapped into it.
 *
 * There is no MMU: a mapping is a MAPPING record (VM space, PMO, writable)
 * made when `pmo_map` hands a PMO's buffers to a worker, and removed with
 * the PMO. Every cap group has one VM space, made with it.
 *
 * @module
 */

import type { KernelServices } from "../services.ts";
import { ObjKind, type VmSpaceRecord } from "./records.ts";

/** Creates the VM space of cap group `group`, charged to `chargeTo` (0: the kernel). */
export function createVmSpace(k: KernelServices, group: number, chargeTo: number): VmSpaceRecord {
  return k.table.create(ObjKind.VM_SPACE, { group }, chargeTo);
}

/**
 * Records that PMO `pmo` is mapped into `vmSpace` (charged to `chargeTo`),
 * unless it is already: one mapping per PMO and VM space.
 */
export function mapInto(
  k: KernelServices,
  vmSpace: number,
  pmo: number,
  writable: boolean,
  chargeTo: number,
): void {
  for (const m of k.table.ofKind(ObjKind.MAPPING)) {
    if (m.vmSpace === vmSpace && m.pmo === pmo) return;
  }
  k.table.create(ObjKind.MAPPING, { vmSpace, pmo, writable }, chargeTo);
}

/** Removes every mapping of PMO `pmo`, in every VM space (the PMO is being destroyed). */
export function unmapEverywhere(k: KernelServices, pmo: number): void {
  for (const m of [...k.table.ofKind(ObjKind.MAPPING)]) if (m.pmo === pmo) k.table.remove(m.id);
}
