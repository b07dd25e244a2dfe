/**
 * Cap groups (processes) and threads.
 *
 * `cap_group_create` makes a new process whose page quota is carved out of
 * the caller's; `thread_create` starts a program in a cap group the caller
 * holds with WRITE. A new group gets its own cap group capability in slot 0
 * and its first thread's capability in slot 1 (later threads: the lowest free slot).
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import { describeArg, intArg, objectArg, optIntArg, stringArg } from "../args.ts";
import { GROUP_OBJECTS_DEFAULT } from "../abi/limits.ts";
import { RECORDS_MAX } from "../object_table.ts";
import type { Kernel } from "../kernel.ts";
import { type LiveThread, PROGRAM_PATTERN } from "../threads.ts";
import { ObjKind } from "./records.ts";
import { RESTART_POLICIES, type RestartPolicy } from "../abi/protocol.ts";

/** Cap group and thread system calls, by name. */
export const capGroupSyscalls = {
  cap_group_create(k: Kernel, t: LiveThread, args: unknown[]): number {
    const name = stringArg("cap_group_create", args, 0, "name", 32, /^[\w.-]+$/);
    const self = k.table.expect(t.rec.group, ObjKind.CAP_GROUP);
    const spare = self.quotaPages - self.usedPages;
    const quota = intArg("cap_group_create", args, 1, "quotaPages", 1, Math.max(1, spare));
    if (quota > spare) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `cap_group_create: quota ${quota} pages exceeds the caller's spare ${spare} pages`,
        { quota, spare },
      );
    }
    const spareObjects = self.quotaObjects - self.usedObjects;
    const objects = optIntArg("cap_group_create", args, 2, "quotaObjects", 1, RECORDS_MAX) ??
      Math.min(GROUP_OBJECTS_DEFAULT, spareObjects);
    if (objects > spareObjects) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `cap_group_create: quota ${objects} objects exceeds the caller's spare ${spareObjects}`,
        { quota: objects, spare: spareObjects },
      );
    }
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
    const thread = k.createThread(group.id, program, programArgs, policy, t.rec.group);
    // The group's first thread sits in slot 1; a second thread of the same group anywhere free.
    const firstThread = !k.caps.list(group.id).some((c) => c.slot === 1);
    k.caps.insertOriginal(group.id, thread.id, RIGHTS_ALL, firstThread ? 1 : undefined);
    const slot = k.caps.insertOriginal(t.rec.group, thread.id, RIGHTS_ALL);
    await k.spawn(thread, false);
    return slot;
  },
};
