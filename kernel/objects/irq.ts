/**
 * IRQs: interrupt lines that signal notifications.
 *
 * The root task holds the timer line's IRQ object (made at boot). It is a
 * factory: `irq_bind` (READ on the IRQ, SEND on a notification) creates a
 * binding, an IRQ object of its own, that signals the notification every
 * `periodMs`. The timer chip's tick drives them (`TimerIrqs.fire`).
 *
 * The NIC's line ("nic", made at boot beside the NIC's PMOs) is one device
 * interrupt: `irq_bind` binds its one IRQ object to the notification (the
 * period is ignored), and the board raising the line signals it
 * ({@link fireLine}).
 *
 * @module
 */

import { IRQ_PERIOD_MS_MAX, periodElapsed } from "../abi/limits.ts";
import { Right } from "../abi/rights.ts";
import { intArg } from "../args.ts";
import type { KernelServices } from "../services.ts";
import type { LiveThread } from "../threads.ts";
import { type IrqRecord, ObjKind } from "./records.ts";
import { signalNotification } from "./notification.ts";

/** Creates the timer line's IRQ object (unbound: a factory of bindings), charged to nobody. */
export function createTimerIrq(k: KernelServices): IrqRecord {
  return k.table.create(ObjKind.IRQ, { line: "timer", periodMs: 0, notification: 0 });
}

/** Creates the NIC's IRQ object (line "nic", bound to no notification yet), charged to nobody. */
export function createNicIrq(k: KernelServices): IrqRecord {
  return k.table.create(ObjKind.IRQ, { line: "nic", periodMs: 0, notification: 0 });
}

/** Creates the console input device's IRQ object (line "console-in", kernel/console_in.ts), charged to nobody. */
export function createConsoleInIrq(k: KernelServices): IrqRecord {
  return k.table.create(ObjKind.IRQ, { line: "console-in", periodMs: 0, notification: 0 });
}

/** A device line fired: signals the notification bound to each IRQ object of `line`. */
export function fireLine(k: KernelServices, line: IrqRecord["line"]): void {
  for (const irq of k.table.ofKind(ObjKind.IRQ)) {
    if (irq.line === line && irq.notification !== 0) signalNotification(k, irq.notification, 1);
  }
}

/** When each timer binding last fired (volatile: a resume fires each at its next period). */
export class TimerIrqs {
  /** Milliseconds since boot of the last fire, per IRQ id. */
  private readonly lastFired = new Map<number, number>();

  /** A timer tick at `nowMs`: signals the notification of every binding whose period is due. */
  fire(k: KernelServices, nowMs: number): void {
    for (const irq of k.table.ofKind(ObjKind.IRQ)) {
      if (irq.periodMs === 0 || irq.notification === 0) continue;
      const last = this.lastFired.get(irq.id) ?? 0;
      if (!periodElapsed(nowMs, last, irq.periodMs)) continue;
      this.lastFired.set(irq.id, nowMs);
      signalNotification(k, irq.notification, 1);
    }
  }
}

/** IRQ system calls, by name. */
export const irqSyscalls = {
  irq_bind(k: KernelServices, t: LiveThread, args: unknown[]): null {
    const { obj: irq } = k.caps.lookup(t.rec.group, args[0], ObjKind.IRQ, Right.READ, "irq_bind");
    const { obj: n } = k.caps.lookup(
      t.rec.group,
      args[1],
      ObjKind.NOTIFICATION,
      Right.SEND,
      "irq_bind",
    );
    if (irq.line !== "timer") {
      k.table.update(irq, { notification: n.id });
      return null;
    }
    const periodMs = intArg("irq_bind", args, 2, "periodMs", 1, IRQ_PERIOD_MS_MAX);
    // The timer line is a factory: each binding is an IRQ object of its own.
    k.table.create(ObjKind.IRQ, { line: irq.line, notification: n.id, periodMs }, t.rec.group);
    return null;
  },
};
