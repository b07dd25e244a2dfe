/**
 * The decode step every creating system call shares: before it changes
 * anything, a call states what it will use (empty slots, pages of the PMO it
 * makes, kernel records and whom each is charged to) and `checkRoom` throws
 * what the first failing step would have, changing nothing. Only then does
 * the call act, and no step after can fail for want of room (seL4's
 * decode, then invoke). Checked in this order: empty slots (E_LIMIT), pages
 * (E_NO_MEMORY: the owner's page quota, or NVM space), kernel records
 * (E_LIMIT: the object table is full; E_NO_MEMORY: a group's object quota).
 *
 * @module
 */

import type { KernelServices } from "./services.ts";

/** What one creating call will use. */
export interface Room {
  /** Empty capability slots it fills, per cap group: [group, count]. */
  slots?: ReadonlyArray<readonly [group: number, count: number]>;
  /** The PMO it makes, if any: [pages, owner cap group]. */
  pmo?: readonly [pages: number, owner: number];
  /** One entry per kernel record it creates (PMO records included): the cap group charged (0: none). */
  records: readonly number[];
}

/** Throws E_LIMIT or E_NO_MEMORY, changing nothing, unless everything in `room` is free. */
export function checkRoom(k: Pick<KernelServices, "caps" | "pmos" | "table">, room: Room): void {
  for (const [group, count] of room.slots ?? []) k.caps.checkFreeSlots(group, count);
  if (room.pmo) k.pmos.check(room.pmo[0], room.pmo[1]);
  k.table.checkRoom(room.records);
}
