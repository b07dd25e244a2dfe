/**
 * System-call entry: what a worker sends on its channel is read here.
 * A system call is looked up in kernel/syscalls.ts, run, and answered with
 * a value or an error value; an exception never leaves this module, so
 * nothing a worker sends can disturb the kernel. A log line is passed on
 * to the board, named after its sender; an `output` hint goes to the
 * checkpoint manager (group commit).
 *
 * @module
 */

import { Err, type ErrorValue, TardigradeError, toErrorValue } from "./abi/errors.ts";
import type { SyscallReply, SyscallRequest, WorkerMessage } from "./abi/protocol.ts";
import { describeArg } from "./args.ts";
import { ObjKind } from "./objects/records.ts";
import type { KernelServices } from "./services.ts";
import { SYSCALLS } from "./syscalls.ts";
import { type LiveThread, sendToWorker } from "./threads.ts";

/** Longest log line a worker may send, in characters; the rest is cut. */
const LOG_LINE_CHARS_MAX = 4000;

/** Handles one message from `live`'s worker (a dead one's are dropped). Never throws. */
export function onWorkerMessage(k: KernelServices, live: LiveThread, msg: WorkerMessage): void {
  if (live.dead) return;
  if (msg?.t === "syscall") runSyscall(k, live, msg);
  else if (msg?.t === "output") k.onOutput();
  else if (msg?.t === "log") {
    // Whatever a worker sends is cloned data it chose: never format it unchecked.
    const text = typeof msg.text === "string"
      ? msg.text.slice(0, LOG_LINE_CHARS_MAX)
      : describeArg(msg.text);
    const group = k.table.get(live.rec.group);
    const name = group?.kind === ObjKind.CAP_GROUP ? group.name : "?";
    k.post({ t: "log", text, from: `${name}#${live.rec.id}` });
  }
}

/** Runs one system call and posts its reply (unless the caller died meanwhile). Never throws. */
export async function runSyscall(
  k: KernelServices,
  live: LiveThread,
  req: SyscallRequest,
): Promise<void> {
  let reply: SyscallReply;
  const op = describeArg(req.op);
  try {
    const handler = typeof req.op === "string" ? SYSCALLS[req.op] : undefined;
    if (!handler || !Array.isArray(req.args)) {
      throw new TardigradeError(
        Err.E_NOT_SUPPORTED,
        `no system call named ${op} (or args is not an array)`,
        { op },
      );
    }
    const value = await handler(k, live, req.args);
    reply = { t: "sysret", id: req.id, ok: true, value };
  } catch (e) {
    const error: ErrorValue = toErrorValue(e);
    if (error.code === Err.E_INTERNAL) k.log(`kernel: ${op} failed: ${error.message}`);
    reply = { t: "sysret", id: req.id, ok: false, error };
  }
  if (!live.dead) sendToWorker(live, reply);
}
