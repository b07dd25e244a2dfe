/**
 * Notifications and IRQs.
 *
 * A notification is a word of pending signal bits in a one-page PMO (so it
 * is captured by checkpoints like any memory). `notification_signal` (SEND)
 * ORs the capability's badge (or 1) into it and wakes the bound thread;
 * `notification_bind` (RECEIVE) binds it to the caller, whose runtime
 * consumes the bits between handlers. `irq_bind` on the timer IRQ creates a
 * binding (an IRQ object of its own) that signals a notification every
 * `periodMs`.
 *
 * @module
 */

import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import type { PmoBuffers } from "../abi/layout.ts";
import { intArg } from "../args.ts";
import { type Kernel, signalNotification } from "../kernel.ts";
import type { LiveThread } from "../threads.ts";
import { ObjKind } from "./records.ts";
import { checkRoom } from "../room.ts";

/** Notification and IRQ system calls, by name. */
export const notificationSyscalls = {
  notification_create(k: Kernel, t: LiveThread): number {
    const g = t.rec.group;
    // The word's PMO, the notification and its capability, all charged to the caller.
    checkRoom(k, { slots: [[g, 1]], pmo: [1, g], records: [g, g, g] });
    const pmo = k.pmos.create(1, "notification", g);
    const n = k.table.create(
      ObjKind.NOTIFICATION,
      { pmo: pmo.id, boundThread: 0, boundSlot: 0 },
      g,
    );
    return k.caps.insertOriginal(g, n.id, RIGHTS_ALL);
  },

  async notification_bind(k: Kernel, t: LiveThread, args: unknown[]): Promise<PmoBuffers> {
    const { obj: n, cap } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.NOTIFICATION,
      Right.RECEIVE,
      "notification_bind",
    );
    k.table.update(n, { boundThread: t.rec.id, boundSlot: cap.slot });
    return await k.pmos.ensureLoaded(n.pmo);
  },

  notification_signal(k: Kernel, t: LiveThread, args: unknown[]): null {
    const { obj: n, cap } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.NOTIFICATION,
      Right.SEND,
      "notification_signal",
    );
    signalNotification(k, n.id, cap.badge === 0 ? 1 : cap.badge);
    return null;
  },

  irq_bind(k: Kernel, t: LiveThread, args: unknown[]): null {
    const { obj: irq } = k.caps.lookup(t.rec.group, args[0], ObjKind.IRQ, Right.READ, "irq_bind");
    const { obj: n } = k.caps.lookup(
      t.rec.group,
      args[1],
      ObjKind.NOTIFICATION,
      Right.SEND,
      "irq_bind",
    );
    const periodMs = intArg("irq_bind", args, 2, "periodMs", 1, 3_600_000);
    // The timer line is a factory: each binding is an IRQ object of its own.
    k.table.create(ObjKind.IRQ, { line: irq.line, notification: n.id, periodMs }, t.rec.group);
    return null;
  },
};
