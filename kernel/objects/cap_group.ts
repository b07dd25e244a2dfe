/**
 * Cap groups (processes).
 *
 * `cap_group_create` makes a new process whose page quota is carved out of
 * the caller's. A new group gets its own cap group capability in slot 0
 * and its first thread's capability in slot 1 (kernel/objects/thread.ts).
 * It checks every quota, slot and record it will use before it changes
 * anything (kernel/room.ts).
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { RIGHTS_ALL } from "../abi/rights.ts";
import { intArg, optIntArg, stringArg } from "../args.ts";
import { GROUP_OBJECTS_DEFAULT, RECORDS_MAX } from "../abi/limits.ts";
import type { KernelServices } from "../services.ts";
import type { LiveThread } from "../threads.ts";
import { ObjKind } from "./records.ts";
import { createVmSpace } from "./vm_space.ts";
import { checkRoom } from "../room.ts";

/** Records `cap_group_create` charges to the caller: the group, its VM space, the caller's capability. */
const GROUP_CREATE_RECORDS = 3;

/**
 * Creates a cap group with its VM space, both charged to cap group
 * `chargeTo` (0: the kernel). Returns the group id.
 */
export function createCapGroup(
  k: KernelServices,
  name: string,
  quotaPages: number,
  quotaObjects: number,
  chargeTo: number,
): number {
  const group = k.table.create(ObjKind.CAP_GROUP, {
    name,
    vmSpace: 0,
    quotaPages,
    usedPages: 0,
    quotaObjects,
    usedObjects: 0,
  }, chargeTo);
  const vm = createVmSpace(k, group.id, chargeTo);
  k.table.update(group, { vmSpace: vm.id });
  return group.id;
}

/** Cap group system calls, by name. */
export const capGroupSyscalls = {
  cap_group_create(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const call = "cap_group_create";
    const name = stringArg(call, args, 0, "name", 32, /^[\w.-]+$/);
    const self = k.table.expect(t.rec.group, ObjKind.CAP_GROUP);
    const spare = self.quotaPages - self.usedPages;
    const quota = intArg(call, args, 1, "quotaPages", 1, Math.max(1, spare));
    if (quota > spare) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `${call}: quota ${quota} pages exceeds the caller's spare ${spare} pages`,
        { quota, spare },
      );
    }
    // What is carved out must leave the caller room for the records the call charges it.
    const spareObjects = self.quotaObjects - self.usedObjects - GROUP_CREATE_RECORDS;
    const objects = optIntArg(call, args, 2, "quotaObjects", 1, RECORDS_MAX) ??
      Math.min(GROUP_OBJECTS_DEFAULT, spareObjects);
    if (objects < 1 || objects > spareObjects) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `${call}: quota ${Math.max(objects, 1)} objects exceeds the caller's spare ${
          Math.max(spareObjects, 0)
        } (what its object quota has left after the ${GROUP_CREATE_RECORDS} records the new group costs it)`,
        { quota: objects, spare: spareObjects },
      );
    }
    // The group, its VM space and the caller's capability to it (charged to the caller); the
    // group's capability to itself is charged to the group, out of the `objects` it gets.
    const g = self.id;
    checkRoom(k, { slots: [[g, 1]], records: [g, g, g, 0] });
    k.table.update(self, {
      quotaPages: self.quotaPages - quota,
      quotaObjects: self.quotaObjects - objects,
    });
    const group = createCapGroup(k, name, quota, objects, t.rec.group);
    k.caps.insertOriginal(group, group, RIGHTS_ALL, 0);
    return k.caps.insertOriginal(t.rec.group, group, RIGHTS_ALL);
  },
};
