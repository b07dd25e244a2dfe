/**
 * Physical memory objects: create and map.
 *
 * Mapping hands the PMO's buffers to the caller's worker: this is the only
 * way a worker gets memory, so a worker holds only the buffers of the PMOs
 * mapped into it. READ maps it; WRITE is needed for a writable mapping (the
 * runtime's write barrier refuses writes to a read-only mapping; see the
 * trust model in docs/ARCHITECTURE.md for what that cannot stop).
 *
 * @module
 */

import type { MappedPmo } from "../abi/syscall_types.ts";
import { PMO_PAGES_MAX } from "../abi/limits.ts";
import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import { boolArg, intArg } from "../args.ts";
import type { KernelServices } from "../services.ts";
import type { LiveThread } from "../threads.ts";
import { ObjKind, type PmoRecord } from "./records.ts";
import { checkRoom } from "../room.ts";
import { mapInto, unmapEverywhere } from "./vm_space.ts";

/** Destroys a PMO nothing names any more, with its mappings (its pages go back to the owner's quota). */
export function destroyPmo(k: KernelServices, pmo: PmoRecord): void {
  unmapEverywhere(k, pmo.id);
  k.pmos.destroy(pmo);
}

/** PMO system calls, by name. */
export const pmoSyscalls = {
  pmo_create(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const pages = intArg("pmo_create", args, 0, "pages", 1, PMO_PAGES_MAX);
    const g = t.rec.group;
    // The PMO and its capability, both charged to the caller.
    checkRoom(k, { slots: [[g, 1]], pmo: [pages, g], records: [g, g] });
    const pmo = k.pmos.create(pages, "data", g);
    return k.caps.insertOriginal(g, pmo.id, RIGHTS_ALL);
  },

  async pmo_map(k: KernelServices, t: LiveThread, args: unknown[]): Promise<MappedPmo> {
    const writable = boolArg("pmo_map", args, 1, "writable", true);
    const needed = writable ? Right.READ | Right.WRITE : Right.READ;
    const { obj: pmo } = k.caps.lookup(t.rec.group, args[0], ObjKind.PMO, needed, "pmo_map");
    const group = k.table.expect(t.rec.group, ObjKind.CAP_GROUP);
    const buffers = await k.pmos.ensureLoaded(pmo.id);
    mapInto(k, group.vmSpace, pmo.id, writable, group.id);
    const register = k.nic.registerOf(pmo.id);
    return { buffers, pages: pmo.pages, writable, register, output: k.nic.isTransmit(pmo.id) };
  },
};
