/**
 * Threads: one worker running one program in a cap group.
 *
 * A thread object names its cap group, program, arguments, restart policy
 * and console PMO; kernel/threads.ts is its volatile side (the worker), and
 * kernel/supervisor.ts restarts it by its policy. `thread_create` starts a
 * program in a cap group the caller holds with WRITE; `ready` says the
 * program reached its first safe point.
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { CONSOLE_RING_BYTES, PAGE_BYTES, RECORDS_MAX } from "../abi/limits.ts";
import { RESTART_POLICIES, type RestartPolicy } from "../abi/protocol.ts";
import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import { describeArg, objectArg, stringArg } from "../args.ts";
import type { KernelServices } from "../services.ts";
import { type LiveThread, PROGRAM_PATTERN } from "../threads.ts";
import { ObjKind, type ThreadRecord } from "./records.ts";
import { checkRoom } from "../room.ts";

/** Pages of a thread's console PMO: a header page, then the ring. */
export const CONSOLE_PAGES = 1 + CONSOLE_RING_BYTES / PAGE_BYTES;

/** Creates a thread object (and its console ring) in `group`; does not start it. */
export function createThread(
  k: KernelServices,
  group: number,
  program: string,
  args: Record<string, unknown>,
  policy: ThreadRecord["policy"],
  chargeTo: number,
): ThreadRecord {
  const console = k.pmos.create(CONSOLE_PAGES, "console", group);
  return k.table.create(ObjKind.THREAD, {
    group,
    program,
    args,
    policy,
    consolePmo: console.id,
    restarts: 0,
  }, chargeTo);
}

/** Thread system calls, by name. */
export const threadSyscalls = {
  async thread_create(k: KernelServices, t: LiveThread, args: unknown[]): Promise<number> {
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
    const thread = createThread(k, group.id, program, programArgs, policy, g);
    // The group's first thread sits in slot 1; a second thread of the same group anywhere free.
    const firstThread = !k.caps.list(group.id).some((c) => c.slot === 1);
    k.caps.insertOriginal(group.id, thread.id, RIGHTS_ALL, firstThread ? 1 : undefined);
    const slot = k.caps.insertOriginal(t.rec.group, thread.id, RIGHTS_ALL);
    await k.spawn(thread, false);
    return slot;
  },

  ready(k: KernelServices, t: LiveThread): null {
    if (!t.ready) {
      t.ready = true;
      t.readyAt = performance.now();
      k.log(
        `kernel: thread ${t.rec.id} (${t.rec.program}) ready in ${
          (performance.now() - t.spawnedAt).toFixed(1)
        } ms`,
      );
      k.onThreadReady();
    }
    return null;
  },
};
