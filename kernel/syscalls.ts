/**
 * The system-call table: one entry per call, each a decode-then-invoke
 * handler from the module of its object kind (kernel/objects/). A handler
 * checks every argument and slot before it changes anything.
 *
 * @module
 */

import type { CheckpointInfo, SystemInfo } from "./abi/syscall_types.ts";
import type { SyscallOp } from "./abi/protocol.ts";
import type { KernelServices } from "./services.ts";
import type { LiveThread } from "./threads.ts";
import { capSyscalls } from "./objects/cap.ts";
import { capGroupSyscalls } from "./objects/cap_group.ts";
import { endpointSyscalls } from "./objects/endpoint.ts";
import { irqSyscalls } from "./objects/irq.ts";
import { notificationSyscalls } from "./objects/notification.ts";
import { pmoSyscalls } from "./objects/pmo.ts";
import { threadSyscalls } from "./objects/thread.ts";
import { monitorSyscalls } from "./objects/monitor.ts";
import { ObjKind } from "./objects/records.ts";

/** A system-call handler. */
export type SyscallHandler = (k: KernelServices, caller: LiveThread, args: unknown[]) => unknown;

const systemSyscalls = {
  system_info(k: KernelServices, t: LiveThread): SystemInfo {
    const g = k.table.expect(t.rec.group, ObjKind.CAP_GROUP);
    return {
      epoch: k.checkpoints.committedEpoch,
      objects: k.table.size,
      threads: [...k.threads.values()].filter((x) => !x.dead).length,
      pmos: k.pmos.count,
      checkpoints: { ...k.checkpoints.counters },
      threadId: t.rec.id,
      capGroupId: t.rec.group,
      usage: {
        usedPages: g.usedPages,
        quotaPages: g.quotaPages,
        usedObjects: g.usedObjects,
        quotaObjects: g.quotaObjects,
      },
    };
  },
  checkpoint_info(k: KernelServices): CheckpointInfo {
    return k.checkpoints.info();
  },
  /**
   * Answers once a checkpoint whose cut comes after the call has committed,
   * with its epoch (at once, with the last committed epoch, when checkpoints
   * are off). The caller does not count it as pending: it parks while it waits.
   */
  checkpoint_wait(k: KernelServices): Promise<number> {
    return k.checkpoints.waitCovering();
  },
};

/**
 * Every system call, by name. The table has no prototype, so a name a worker
 * sends such as "constructor" or "toString" finds no handler (E_NOT_SUPPORTED)
 * instead of an Object.prototype method.
 */
export const SYSCALLS: Record<SyscallOp, SyscallHandler> = Object.setPrototypeOf(
  {
    ...capSyscalls,
    ...capGroupSyscalls,
    ...threadSyscalls,
    ...pmoSyscalls,
    ...endpointSyscalls,
    ...notificationSyscalls,
    ...irqSyscalls,
    ...monitorSyscalls,
    ...systemSyscalls,
  } satisfies Record<SyscallOp, SyscallHandler>,
  null,
);
