/**
 * Notifications.
 *
 * A notification is a word of pending signal bits in a one-page PMO (so it
 * is captured by checkpoints like any memory). `notification_signal` (SEND)
 * ORs the capability's badge (or 1) into it and wakes the bound thread;
 * `notification_bind` (RECEIVE) binds it to the caller, whose runtime
 * consumes the bits between handlers. Timer IRQs signal them too
 * (kernel/objects/irq.ts).
 *
 * Map of this file:
 * - {@link signalNotification}: OR bits in, wake the bound thread.
 * - {@link signalPending}: does a thread have bits waiting (resume's dormancy)?
 * - {@link destroyNotification}: a notification nothing names any more goes.
 * - {@link notificationSyscalls}: create, bind, signal.
 *
 * @module
 */

import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import { ringDoorbell } from "../abi/doorbell.ts";
import type { PmoBuffers } from "../abi/layout.ts";
import { PersistentMemory } from "../abi/pmem.ts";
import type { KernelServices } from "../services.ts";
import type { LiveThread } from "../threads.ts";
import { type NotificationRecord, ObjKind } from "./records.ts";
import { checkRoom } from "../room.ts";

/**
 * ORs `bits` into a notification's word and wakes the thread bound to it
 * (starting it if dormant). A word whose page is not loaded yet is loaded
 * first. An id that is no notification (any more) is ignored.
 */
export function signalNotification(k: KernelServices, notificationId: number, bits: number): void {
  const n = k.table.get(notificationId);
  if (!n || n.kind !== ObjKind.NOTIFICATION) return;
  k.wake(n.boundThread);
  const bufs = k.pmos.loadedBuffers(n.pmo);
  if (!bufs) {
    k.pmos.ensureLoaded(n.pmo).then(() => signalNotification(k, notificationId, bits));
    return;
  }
  new PersistentMemory(bufs).atomicOr(0, bits);
  const live = k.threads.get(n.boundThread);
  if (live && !live.dead) ringDoorbell(live.doorbellWords);
}

/** Resolves true when a notification bound to `threadId` has signal bits waiting. */
export async function signalPending(k: KernelServices, threadId: number): Promise<boolean> {
  const checks: Array<Promise<boolean>> = [];
  for (const n of k.table.ofKind(ObjKind.NOTIFICATION)) {
    if (n.boundThread !== threadId) continue;
    checks.push(k.pmos.ensureLoaded(n.pmo).then((b) => new Int32Array(b.data)[0] !== 0));
  }
  return (await Promise.all(checks)).some((pending) => pending);
}

/** Destroys a notification with its timer bindings (IRQ objects naming it) and its word's PMO. */
export function destroyNotification(k: KernelServices, n: NotificationRecord): void {
  for (const irq of [...k.table.ofKind(ObjKind.IRQ)]) {
    if (irq.notification === n.id) k.table.remove(irq.id);
  }
  k.pmos.destroy(k.table.expect(n.pmo, ObjKind.PMO));
  k.table.remove(n.id);
}

/** Notification system calls, by name. */
export const notificationSyscalls = {
  notification_create(k: KernelServices, t: LiveThread): number {
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

  async notification_bind(k: KernelServices, t: LiveThread, args: unknown[]): Promise<PmoBuffers> {
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

  notification_signal(k: KernelServices, t: LiveThread, args: unknown[]): null {
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
};
