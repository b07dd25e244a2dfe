/**
 * System calls on capabilities themselves: info, list, copy, mint, delete,
 * revoke, grant (into another cap group) and transfer (to a connection's
 * server). Rights needed: GRANT on the source for every derivation; WRITE on
 * the target cap group for grant.
 *
 * @module
 */

import type { CapInfo } from "../abi/syscall_types.ts";
import { Err, TardigradeError } from "../abi/errors.ts";
import { BADGE_MAX, CAP_SLOTS_MAX } from "../abi/limits.ts";
import { Right } from "../abi/rights.ts";
import { intArg, optIntArg, rightsArg } from "../args.ts";
import type { KernelServices } from "../services.ts";
import type { LiveThread } from "../threads.ts";
import { type CapRecord, ObjKind } from "./records.ts";
import { closeConnection } from "./endpoint.ts";
import { destroyNotification } from "./notification.ts";
import { destroyPmo } from "./pmo.ts";

const SLOT_MAX = CAP_SLOTS_MAX - 1;

function info(k: KernelServices, cap: CapRecord): CapInfo {
  const obj = k.table.get(cap.obj);
  return {
    slot: cap.slot,
    kind: obj ? ObjKind[obj.kind] : "DEAD",
    rights: cap.rights,
    badge: cap.badge,
    object: cap.obj,
  };
}

/**
 * Undo what removed capabilities held: a connection closes when the capability
 * it was made through is revoked, or when no capability names it any more;
 * objects nothing names are reclaimed.
 */
export function onCapsRemoved(k: KernelServices, removed: CapRecord[]): void {
  const named = new Set<number>();
  for (const c of k.table.ofKind(ObjKind.CAP)) named.add(c.obj);
  for (const cap of removed) {
    for (const c of k.table.ofKind(ObjKind.CONNECTION)) {
      if (c.closed) continue;
      // Revoking the capability it connected through closes it; so does losing its last capability.
      if (c.viaCap === cap.id) closeConnection(k, c, "capability revoked");
      else if (c.id === cap.obj && !named.has(c.id)) closeConnection(k, c, "capability deleted");
    }
  }
  reclaimUnreferenced(k, removed);
}

/**
 * Destroys the objects among `removed`'s that no capability names any more
 * and nothing else uses: data PMOs (with their mappings; their pages go
 * back to the owner's quota, their NVM extent is freed), notifications
 * (with their word's PMO and timer bindings) and endpoints no connection
 * uses. Their records stop counting against their group's object quota. A
 * worker that still has a buffer of one keeps memory nothing checkpoints.
 */
function reclaimUnreferenced(k: KernelServices, removed: CapRecord[]): void {
  const candidates = new Set<number>();
  for (const cap of removed) {
    const obj = k.table.get(cap.obj);
    if (
      (obj?.kind === ObjKind.PMO && obj.role === "data") || obj?.kind === ObjKind.NOTIFICATION ||
      obj?.kind === ObjKind.ENDPOINT
    ) candidates.add(obj.id);
  }
  if (candidates.size === 0) return;
  for (const c of k.table.ofKind(ObjKind.CAP)) candidates.delete(c.obj);
  for (const c of k.table.ofKind(ObjKind.CONNECTION)) candidates.delete(c.endpoint);
  for (const id of candidates) {
    const obj = k.table.get(id);
    if (obj?.kind === ObjKind.PMO) destroyPmo(k, obj);
    else if (obj?.kind === ObjKind.NOTIFICATION) destroyNotification(k, obj);
    else k.table.remove(id);
  }
}

/** Capability system calls, by name. */
export const capSyscalls = {
  cap_info(k: KernelServices, t: LiveThread, args: unknown[]): CapInfo {
    return info(k, k.caps.lookup(t.rec.group, args[0], undefined, 0, "cap_info").cap);
  },

  cap_list(k: KernelServices, t: LiveThread): CapInfo[] {
    return k.caps.list(t.rec.group).map((c) => info(k, c));
  },

  cap_copy(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const { cap } = k.caps.lookup(t.rec.group, args[0], undefined, Right.GRANT, "cap_copy");
    const rights = rightsArg("cap_copy", args, 1, cap.rights);
    const dest = optIntArg("cap_copy", args, 2, "destSlot", 0, SLOT_MAX);
    return k.caps.derive(cap, t.rec.group, rights, undefined, dest);
  },

  cap_mint(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const { cap } = k.caps.lookup(t.rec.group, args[0], undefined, Right.GRANT, "cap_mint");
    const rights = rightsArg("cap_mint", args, 1, cap.rights);
    const badge = intArg("cap_mint", args, 2, "badge", 1, BADGE_MAX);
    const dest = optIntArg("cap_mint", args, 3, "destSlot", 0, SLOT_MAX);
    return k.caps.derive(cap, t.rec.group, rights, badge, dest);
  },

  cap_delete(k: KernelServices, t: LiveThread, args: unknown[]): null {
    const { cap } = k.caps.lookup(t.rec.group, args[0], undefined, 0, "cap_delete");
    k.caps.deleteCap(cap);
    onCapsRemoved(k, [cap]);
    return null;
  },

  cap_revoke(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const { cap } = k.caps.lookup(t.rec.group, args[0], undefined, 0, "cap_revoke");
    const removed = k.caps.revoke(cap);
    onCapsRemoved(k, removed);
    return removed.length;
  },

  cap_grant(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const call = "cap_grant";
    const { obj: group } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.CAP_GROUP,
      Right.WRITE,
      call,
    );
    const { cap } = k.caps.lookup(t.rec.group, args[1], undefined, Right.GRANT, call);
    const rights = rightsArg(call, args, 2, cap.rights);
    const badge = optIntArg(call, args, 3, "badge", 1, BADGE_MAX);
    const dest = optIntArg(call, args, 4, "destSlot", 0, SLOT_MAX);
    return k.caps.derive(cap, group.id, rights, badge, dest);
  },

  cap_transfer(k: KernelServices, t: LiveThread, args: unknown[]): number {
    const call = "cap_transfer";
    const { obj: conn } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.CONNECTION,
      Right.GRANT,
      call,
    );
    const { cap } = k.caps.lookup(t.rec.group, args[1], undefined, Right.GRANT, call);
    const rights = rightsArg(call, args, 2, cap.rights);
    if (conn.closed) {
      throw new TardigradeError(Err.E_PEER_DIED, `${call}: connection ${conn.id} is closed`, {
        conn: conn.id,
      });
    }
    const server = k.table.expect(conn.server, ObjKind.THREAD);
    const slot = k.caps.derive(cap, server.group, rights, undefined);
    k.postEvent(server.id, { t: "cap", connId: conn.id, slot, badge: conn.badge });
    return slot;
  },
};
