/**
 * The system monitor: one kernel object, made at a fresh boot in init's
 * slot INIT_MONITOR_SLOT, whose capability lets a program look at and act
 * on the whole machine. Init grants it to the shell only (a `monitor` need,
 * servers/init/config.ts), READ only unless the machine was formatted with
 * `--shell-control`.
 *
 * Rights (kernel/abi/report.ts MonitorRight): READ for `system_report`;
 * CONTROL (the WRITE right) for `checkpoint_now`, `fault_inject` and
 * `power_cut`. `fault_inject` also needs the machine to run with
 * `--fault-injection` (E_DENIED otherwise), as the board's command port does.
 * `checkpoint_now` waits for a checkpoint whose cut comes after the call (as
 * `checkpoint_wait` does: the caller parks meanwhile). `power_cut` answers
 * at once and cuts the power when that checkpoint has committed, so the
 * step that asked is in it whole and is not repeated after the resume.
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { FAULT_KINDS, type FaultKind } from "../abi/protocol.ts";
import { MonitorRight, type RecentCheckpoint, type SystemReport } from "../abi/report.ts";
import { intArg, stringArg } from "../args.ts";
import type { KernelServices } from "../services.ts";
import type { LiveThread } from "../threads.ts";
import { type MonitorRecord, ObjKind } from "./records.ts";

/** Creates the system monitor (charged to nobody). */
export function createMonitor(k: KernelServices): MonitorRecord {
  return k.table.create(ObjKind.MONITOR, {});
}

/** The caller's cap group name. */
function callerName(k: KernelServices, t: LiveThread): string {
  const g = k.table.get(t.rec.group);
  return g?.kind === ObjKind.CAP_GROUP ? g.name : "?";
}

/** Checks that `slot` holds a monitor capability with `right`; a missing CONTROL says how to get it. */
function monitorCap(
  k: KernelServices,
  t: LiveThread,
  args: unknown[],
  right: number,
  call: string,
): void {
  try {
    k.caps.lookup(t.rec.group, args[0], ObjKind.MONITOR, right, call);
  } catch (e) {
    if (!(e instanceof TardigradeError) || e.code !== Err.E_NO_RIGHTS) throw e;
    throw new TardigradeError(
      Err.E_NO_RIGHTS,
      `${call}: this monitor capability may only read (no CONTROL right); init gives the ` +
        `shell CONTROL on a machine formatted with --shell-control`,
      e.detail,
    );
  }
}

/** E_NOT_READY with checkpoints off: nothing would commit. */
function checkpointsOn(k: KernelServices, call: string): void {
  if (k.checkpoints.period === 0) {
    throw new TardigradeError(
      Err.E_NOT_READY,
      `${call}: checkpoints are off (checkpoint-ms 0); turn them on first`,
    );
  }
}

/** Monitor system calls, by name. */
export const monitorSyscalls = {
  /** The system report (READ). */
  system_report(k: KernelServices, t: LiveThread, args: unknown[]): SystemReport {
    monitorCap(k, t, args, MonitorRight.READ, "system_report");
    return k.report();
  },

  /** Takes a checkpoint now and answers once it committed, with its figures (CONTROL). */
  async checkpoint_now(
    k: KernelServices,
    t: LiveThread,
    args: unknown[],
  ): Promise<RecentCheckpoint> {
    monitorCap(k, t, args, MonitorRight.CONTROL, "checkpoint_now");
    checkpointsOn(k, "checkpoint_now");
    const epoch = await k.checkpoints.waitCovering(true);
    const stats = k.checkpoints.committed(epoch);
    if (!stats) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `checkpoint_now: epoch ${epoch} committed, but its figures are no longer kept`,
      );
    }
    const name = callerName(k, t);
    k.event(
      "checkpoint-now",
      name,
      `checkpoint ${epoch} taken for ${name}: pause ${stats.pauseUs.toFixed(0)} us, ` +
        `commit ${stats.commitUs.toFixed(0)} us, ${stats.dirtyPages} pages`,
      t.rec.id,
    );
    return stats;
  },

  /**
   * Makes component `target` (a cap group name) commit fault `fault`
   * (CONTROL; E_DENIED without --fault-injection). Returns what was done.
   * The caller's own component is refused (E_BAD_ARGUMENT).
   */
  fault_inject(k: KernelServices, t: LiveThread, args: unknown[]): string {
    monitorCap(k, t, args, MonitorRight.CONTROL, "fault_inject");
    const target = stringArg("fault_inject", args, 1, "target", 64, /^[\w.-]+$/);
    const fault = args[2];
    if (typeof fault !== "string" || !FAULT_KINDS.includes(fault as FaultKind)) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `fault_inject: argument fault must be one of ${FAULT_KINDS.join(", ")}`,
        { argument: "fault" },
      );
    }
    const seed = intArg("fault_inject", args, 3, "seed", 0, 0xffffffff, 1);
    if (target === callerName(k, t)) {
      // It would fail in the middle of the step that asked, and ask again after its restart.
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `fault_inject: "${target}" is the caller's own component; inject into it from the ` +
          `machine's command port instead (--fault-injection, then \`inject ${target} ${fault}\`)`,
        { argument: "target" },
      );
    }
    return k.inject(target, fault as FaultKind, seed);
  },

  /**
   * Arms a power cut (CONTROL): once the next checkpoint whose cut comes
   * after this call has committed, the board exits as a simulated power
   * failure (137). Answers at once with that checkpoint's epoch. Since a cut
   * falls between steps, the caller's whole step (its record of the request,
   * its reply) is in that checkpoint: after the resume it is not repeated.
   */
  power_cut(k: KernelServices, t: LiveThread, args: unknown[]): number {
    monitorCap(k, t, args, MonitorRight.CONTROL, "power_cut");
    checkpointsOn(k, "power_cut");
    const epoch = k.checkpoints.nextCaptureEpoch;
    const name = callerName(k, t);
    k.checkpoints.waitCovering(true).then((committed) => {
      const reason = `asked by ${name} (thread ${t.rec.id}), after epoch ${committed} committed`;
      k.event("power-cut", name, `power cut ${reason}`, t.rec.id);
      k.post({ t: "power-cut", reason });
    });
    return epoch;
  },
};
