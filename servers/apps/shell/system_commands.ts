/**
 * The shell's system commands, over the system monitor (kernel/objects/
 * monitor.ts) the shell holds as its "monitor" capability: `ps`, `caps`,
 * `ipc`, `mem`, `uptime`, `epoch` read the system report (READ);
 * `checkpoint now`, `crash`, `inject`, `powerfail` act on the machine
 * (CONTROL, which init gives only on a machine formatted with
 * `--shell-control`; `crash` and `inject` also need `--fault-injection`).
 * A refusal is the kernel's named error as the status line
 * (`error E_NO_RIGHTS: …` says which flag allows it).
 *
 * Map of this file:
 * - {@link MonitorApi}, {@link monitorOf}: the monitor's calls.
 * - {@link SYSTEM_USAGE}: each command's one-line usage (`help` lists them
 *   after the file commands).
 * - {@link SystemCommands}: runs one; `checkpoint now` is a job (it waits
 *   for a checkpoint, like `sync`: commands.ts runs it first thing in a step).
 * - {@link columns}: aligned columns, the output of every table.
 *
 * @module
 */

import { TardigradeError } from "../../../kernel/abi/errors.ts";
import { FAULT_KINDS, type FaultKind } from "../../../kernel/abi/protocol.ts";
import type {
  CapReport,
  GroupReport,
  RecentCheckpoint,
  SystemReport,
} from "../../../kernel/abi/report.ts";
import { CapName } from "../../runtime/names.ts";
import type { Context } from "../../runtime/program.ts";
import { type Reply, type ShellState, UsageError } from "./session.ts";

/** The monitor's calls, as the system commands use them. */
export interface MonitorApi {
  /** The system report (`system_report`). */
  report(): Promise<SystemReport>;
  /** Takes a checkpoint and resolves once it committed (`checkpoint_now`; parks the worker). */
  checkpointNow(): Promise<RecentCheckpoint>;
  /** Makes component `target` commit `fault` (`fault_inject`); what was done. */
  inject(target: string, fault: FaultKind): Promise<string>;
  /** Arms a power cut at the commit covering this step (`power_cut`); that epoch. */
  powerCut(): Promise<number>;
}

/**
 * The monitor of the program of `ctx`, through its "monitor" capability.
 * The slot is looked up at each call, so a shell without one answers each
 * system command with the named error that says so.
 */
export function monitorOf(ctx: Context): MonitorApi {
  const slot = () => ctx.cap(CapName.MONITOR);
  return {
    report: () => ctx.sys.systemReport(slot()),
    checkpointNow: () => ctx.sys.checkpointNow(slot()),
    inject: (target, fault) => ctx.sys.faultInject(slot(), target, fault),
    powerCut: () => ctx.sys.powerCut(slot()),
  };
}

/** Every system command's one-line usage, in the order `help` lists them. */
export const SYSTEM_USAGE: Record<string, string> = {
  ps: "ps",
  caps: "caps GROUP (a cap group's name or id)",
  ipc: "ipc",
  mem: "mem",
  checkpoint: "checkpoint [now]",
  crash: "crash COMPONENT",
  inject: `inject COMPONENT FAULT (FAULT: ${FAULT_KINDS.join(", ")})`,
  powerfail: "powerfail",
  uptime: "uptime",
  epoch: "epoch",
};

/** Rows as aligned columns (each as wide as its widest cell, two spaces apart), one line each. */
export function columns(rows: Array<Array<string | number>>): string[] {
  const cells = rows.map((r) => r.map(String));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return cells.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join("  "));
}

/** A figure in microseconds, rounded. */
const us = (n: number) => n.toFixed(0);

/** A figure that may be unknown (a connection whose memory is not loaded). */
const known = (n: number | null) => n === null ? "?" : String(n);

/** The message of a kernel error without its code in front (the status line names it). */
function messageOf(e: TardigradeError): string {
  return e.message.replace(`${e.codeName}: `, "");
}

/** The system commands, over one monitor. */
export class SystemCommands {
  constructor(private readonly monitor: MonitorApi) {}

  /** True when `cmd` is a system command. */
  static has(cmd: string): boolean {
    return Object.hasOwn(SYSTEM_USAGE, cmd);
  }

  /**
   * Runs system command `cmd` with operands `args` for session `s`,
   * filling `out`. A kernel refusal is its error status; bad usage throws
   * UsageError (commands.ts answers the usage line).
   */
  async run(s: ShellState, cmd: string, args: string[], out: Reply): Promise<void> {
    try {
      await this.command(s, cmd, args, out);
    } catch (e) {
      if (!(e instanceof TardigradeError)) throw e;
      out.error(e.codeName, messageOf(e));
    }
  }

  /** `checkpoint now`, first thing in a step of its own (its wait lets the checkpoint cut the step). */
  async checkpointJob(out: Reply): Promise<void> {
    try {
      const c = await this.monitor.checkpointNow();
      out.line(
        `checkpoint ${c.epoch} committed: pause ${us(c.pauseUs)} us, commit ${
          us(c.commitUs)
        } us, ` +
          `${c.dirtyPages} pages captured (${c.cowPages} copy-on-write), ${c.objectRecords} records`,
      );
      out.ok();
    } catch (e) {
      if (!(e instanceof TardigradeError)) throw e;
      out.error(e.codeName, messageOf(e));
    }
  }

  private async command(s: ShellState, cmd: string, args: string[], out: Reply): Promise<void> {
    const arity = (min: number, max = min) => {
      if (args.length < min || args.length > max) {
        throw new UsageError(`usage: ${SYSTEM_USAGE[cmd]}`);
      }
    };
    switch (cmd) {
      case "ps":
        arity(0);
        return this.ps(await this.monitor.report(), out);
      case "caps":
        arity(1);
        return this.caps(await this.monitor.report(), args[0], out);
      case "ipc":
        arity(0);
        return this.ipc(await this.monitor.report(), out);
      case "mem":
        arity(0);
        return this.mem(await this.monitor.report(), out);
      case "checkpoint":
        arity(0, 1);
        if (args[0] === "now") {
          s.job = { k: "checkpoint" };
          return;
        }
        if (args.length === 1) throw new UsageError(`usage: ${SYSTEM_USAGE[cmd]}`);
        return this.checkpoints(await this.monitor.report(), out);
      case "crash":
        arity(1);
        out.line(await this.monitor.inject(args[0], "throw"));
        return out.ok();
      case "inject":
        arity(2);
        if (!FAULT_KINDS.includes(args[1] as FaultKind)) {
          throw new UsageError(`usage: ${SYSTEM_USAGE[cmd]}`);
        }
        out.line(await this.monitor.inject(args[0], args[1] as FaultKind));
        return out.ok();
      case "powerfail": {
        arity(0);
        const epoch = await this.monitor.powerCut();
        out.line(`power cut once checkpoint ${epoch} commits; the session resumes after it`);
        return out.ok();
      }
      case "uptime": {
        arity(0);
        const r = await this.monitor.report();
        out.line(
          `up ${(r.uptimeMs / 1000).toFixed(1)} s since this ${r.resumed ? "resume" : "boot"}, ` +
            `${r.groups.length} cap groups, ` +
            `${r.groups.reduce((n, g) => n + g.threads.length, 0)} threads`,
        );
        return out.ok();
      }
      case "epoch":
        arity(0);
        out.line(`epoch ${(await this.monitor.report()).epoch}`);
        return out.ok();
    }
  }

  /** `ps`: a row per thread, with its cap group's policy, restarts and use. */
  private ps(r: SystemReport, out: Reply): void {
    const rows: Array<Array<string | number>> = [
      ["GROUP", "ID", "THREAD", "STATE", "POLICY", "RESTARTS", "PAGES", "OBJECTS", "PROGRAM"],
    ];
    for (const g of r.groups) {
      for (const t of g.threads) {
        rows.push([
          g.name,
          g.id,
          t.id,
          t.state,
          t.policy,
          t.restarts,
          `${g.usedPages}/${g.quotaPages}`,
          `${g.usedObjects}/${g.quotaObjects}`,
          t.program,
        ]);
      }
      if (g.threads.length === 0) {
        rows.push([g.name, g.id, "-", "-", g.policy, g.restarts, "-", "-", "-"]);
      }
    }
    for (const line of columns(rows)) out.line(line);
    out.ok();
  }

  /** `caps GROUP`: the group's capabilities as a tree by derivation. */
  private caps(r: SystemReport, which: string, out: Reply): void {
    const g = r.groups.find((g) => g.name === which || String(g.id) === which);
    if (!g) {
      const names = r.groups.map((g) => `${g.name} (${g.id})`).join(", ");
      return out.error(
        "E_NOT_FOUND",
        `no cap group named or numbered ${which}; there are ${names}`,
      );
    }
    const rows: Array<Array<string | number>> = [
      ["SLOT", "KIND", "RIGHTS", "BADGE", "OBJECT", "DERIVED FROM"],
    ];
    for (const { cap, depth } of derivationOrder(g.caps)) {
      rows.push([
        `${"  ".repeat(depth)}${depth > 0 ? "└ " : ""}${cap.slot}`,
        cap.kind,
        cap.rights.join(",") || "none",
        cap.badge,
        cap.object,
        from(r, g, cap),
      ]);
    }
    for (const line of columns(rows)) out.line(line);
    if (g.capsOmitted > 0) out.line(`(${g.capsOmitted} more not listed)`);
    out.ok();
  }

  /** `ipc`: endpoints, then connections with their traffic. */
  private ipc(r: SystemReport, out: Reply): void {
    const name = groupNames(r);
    const who = (group: number, thread: number) => `${name(group)}#${thread}`;
    const eps: Array<Array<string | number>> = [["ENDPOINT", "SERVER", "CONNECTIONS"]];
    for (const e of r.ipc.endpoints) {
      eps.push([
        e.id,
        e.serverThread === 0 ? "-" : who(e.serverGroup, e.serverThread),
        e.connections,
      ]);
    }
    for (const line of columns(eps)) out.line(line);
    const conns: Array<Array<string | number>> = [[
      "CONN",
      "ENDPOINT",
      "CLIENT",
      "SERVER",
      "STATE",
      "PENDING",
      "REQUESTS",
      "RESPONSES",
      "REQ BYTES",
      "RESP BYTES",
    ]];
    for (const c of r.ipc.connections) {
      conns.push([
        c.id,
        c.endpoint,
        who(c.clientGroup, c.clientThread),
        who(c.serverGroup, c.serverThread),
        c.closed ? "closed" : "open",
        `${known(c.pendingRequests)}/${known(c.pendingResponses)}`,
        known(c.requests),
        known(c.responses),
        known(c.requestBytes),
        known(c.responseBytes),
      ]);
    }
    out.line("");
    for (const line of columns(conns)) out.line(line);
    if (r.ipc.connectionsOmitted > 0) out.line(`(${r.ipc.connectionsOmitted} more not listed)`);
    out.ok();
  }

  /** `mem`: NVM and kernel objects, then each cap group's quotas and memory objects. */
  private mem(r: SystemReport, out: Reply): void {
    const m = r.memory;
    out.line(
      `NVM: ${m.nvmPages - m.nvmFreePages} of ${m.nvmPages} pages used, ${m.nvmFreePages} free; ` +
        `kernel objects: ${m.objects} of ${m.objectsMax}`,
    );
    const rows: Array<Array<string | number>> = [
      ["GROUP", "ID", "PAGES", "QUOTA", "OBJECTS", "QUOTA", "PMOS", "PMO PAGES", "LOADED"],
    ];
    for (const g of r.groups) {
      const own = m.pmos.filter((p) => p.owner === g.id);
      rows.push([
        g.name,
        g.id,
        g.usedPages,
        g.quotaPages,
        g.usedObjects,
        g.quotaObjects,
        own.length,
        own.reduce((n, p) => n + p.pages, 0),
        own.filter((p) => p.loaded).length,
      ]);
    }
    for (const line of columns(rows)) out.line(line);
    if (m.pmosOmitted > 0) out.line(`(${m.pmosOmitted} memory objects not counted)`);
    out.ok();
  }

  /** `checkpoint`: the period, the counters and the recent checkpoints. */
  private checkpoints(r: SystemReport, out: Reply): void {
    const c = r.checkpoints;
    out.line(
      `period ${c.periodMs === 0 ? "off" : `${c.periodMs} ms`}, epoch ${r.epoch}, ` +
        Object.entries(c.counters).map(([k, v]) => `${k} ${v}`).join(", "),
    );
    const rows: Array<Array<string | number>> = [
      ["EPOCH", "PAUSE US", "COMMIT US", "PAGES", "COW", "RECORDS"],
    ];
    for (const s of c.recent) {
      rows.push([
        s.epoch,
        us(s.pauseUs),
        us(s.commitUs),
        s.dirtyPages,
        s.cowPages,
        s.objectRecords,
      ]);
    }
    for (const line of columns(rows)) out.line(line);
    out.ok();
  }
}

/** A cap group's name by id ("?" for one not in the report). */
function groupNames(r: SystemReport): (id: number) => string {
  const names = new Map(r.groups.map((g) => [g.id, g.name]));
  return (id) => names.get(id) ?? "?";
}

/** Where `cap` was derived from: "-" for an original, else GROUP:SLOT. */
function from(r: SystemReport, g: GroupReport, cap: CapReport): string {
  if (cap.parent === 0) return "-";
  if (cap.parentGroup === undefined) return `cap ${cap.parent}`;
  const name = cap.parentGroup === g.id ? "" : `${groupNames(r)(cap.parentGroup)}:`;
  return `${name}${cap.parentSlot}`;
}

/**
 * `caps` in tree order: each capability derived from another of the same
 * group right after it, one level deeper; the others (originals, and those
 * derived from another group's) at the top, by slot.
 */
export function derivationOrder(caps: CapReport[]): Array<{ cap: CapReport; depth: number }> {
  const here = new Set(caps.map((c) => c.id));
  const children = new Map<number, CapReport[]>();
  const roots: CapReport[] = [];
  for (const c of caps) {
    if (c.parent !== 0 && here.has(c.parent)) {
      children.set(c.parent, [...(children.get(c.parent) ?? []), c]);
    } else roots.push(c);
  }
  const order: Array<{ cap: CapReport; depth: number }> = [];
  const visit = (c: CapReport, depth: number) => {
    order.push({ cap: c, depth });
    for (const child of children.get(c.id) ?? []) visit(child, depth + 1);
  };
  for (const c of roots) visit(c, 0);
  return order;
}
