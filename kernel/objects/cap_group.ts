/**
 * Cap groups (processes) and threads.
 *
 * `cap_group_create` makes a new process whose page quota is carved out of
 * the caller's; `thread_create` starts a program in a cap group the caller
 * holds with WRITE. A new group gets its own cap group capability in slot 0
 * and its first thread's capability in slot 1 (later threads: the lowest free slot).
 * Both check every quota, slot and record they will use before they change
 * anything (kernel/room.ts).
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import { describeArg, intArg, objectArg, optIntArg, stringArg } from "../args.ts";
import { GROUP_OBJECTS_DEFAULT, RECORDS_MAX } from "../abi/limits.ts";
import type { Kernel } from "../kernel.ts";
import { type LiveThread, PROGRAM_PATTERN } from "../threads.ts";
import { ObjKind } from "./records.ts";
import { RESTART_POLICIES, type RestartPolicy } from "../abi/protocol.ts";
import { CONSOLE_PAGES } from "../kernel.ts";
import { checkRoom } from "../room.ts";

/** Records `cap_group_create` charges to the caller: the group, its VM space, the caller's capability. */
const GROUP_CREATE_RECORDS = 3;

/** Cap group and thread system calls, by name. */
export const capGroupSyscalls = {
  cap_group_create(k: Kernel, t: LiveThread, args: unknown[]): number {
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
    const group = k.createCapGroup(name, quota, objects, t.rec.group);
    k.caps.insertOriginal(group, group, RIGHTS_ALL, 0);
    return k.caps.insertOriginal(t.rec.group, group, RIGHTS_ALL);
  },

  async thread_create(k: Kernel, t: LiveThread, args: unknown[]): Promise<number> {
    const call = "thread_create";
    const { obj: group } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.CAP_GROUP,
      Right.WRITE,
      call,
    );
    const program = stringArg(call, args, 1, "program", 96, PROGRAM_PATTERN);
    const programArgs = objectArg(call, args, 2, "args", 128);
    const policy = (args[3] ?? "fresh") as RestartPolicy;
    if (!RESTART_POLICIES.includes(policy)) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `${call}: policy must be one of ${RESTART_POLICIES.join(", ")}, got ${
          describeArg(args[3])
        }`,
        { argument: "policy" },
      );
    }
    // The console PMO and the thread's capability in `group` are charged to it; the thread
    // record and the caller's capability to it, to the caller (which may be `group` itself).
    const g = t.rec.group;
    k.table.checkFits(ObjKind.THREAD, {
      group: group.id,
      program,
      args: programArgs,
      policy,
      consolePmo: RECORDS_MAX,
      restarts: 0,
    }, g);
    checkRoom(k, {
      slots: group.id === g ? [[g, 2]] : [[group.id, 1], [g, 1]],
      pmo: [CONSOLE_PAGES, group.id],
      records: [group.id, g, group.id, g],
    });
    const thread = k.createThread(group.id, program, programArgs, policy, g);
    // The group's first thread sits in slot 1; a second thread of the same group anywhere free.
    const firstThread = !k.caps.list(group.id).some((c) => c.slot === 1);
    k.caps.insertOriginal(group.id, thread.id, RIGHTS_ALL, firstThread ? 1 : undefined);
    const slot = k.caps.insertOriginal(t.rec.group, thread.id, RIGHTS_ALL);
    await k.spawn(thread, false);
    return slot;
  },
};
