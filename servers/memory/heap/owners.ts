/**
 * Owner records of the object heap: one per cap group that allocated, in an
 * open-addressing table keyed by owner id + 1, holding its quota and the
 * pages charged to it (slabs and runs), plus its current and partial slabs
 * per size class (used by slabs.ts).
 *
 * - {@link ownerRecord}: find (or create, under the writer lock) a record;
 *   the last one found is cached in the HeapCore for the allocation path.
 * - {@link charge}: E_NO_MEMORY when more pages would exceed the quota.
 * - {@link usage}: pages charged and quota of an owner.
 *
 * @module
 */

import { Err } from "../../../kernel/abi/errors.ts";
import type { HeapCore } from "./core.ts";
import { fail, HeapWord, Owner } from "./layout.ts";

/** E_BAD_ARGUMENT unless `owner` is an integer in [0, 2^32-2]. */
export function checkOwnerId(owner: number, where: string): void {
  if (!((owner >>> 0) === owner && owner !== 0xffffffff)) {
    fail(Err.E_BAD_ARGUMENT, where, `owner ${String(owner)} must be an integer in [0, 2^32-2]`, {
      owner: String(owner),
    });
  }
}

/** Word index of `owner`'s record; creates it (under the lock) when `create`. -1 if absent. */
export function ownerRecord(h: HeapCore, owner: number, create: boolean): number {
  checkOwnerId(owner, "owner");
  const key = (owner + 1) | 0;
  const mask = h.ownerMask;
  let i = (Math.imul(owner, 0x9e3779b1) >>> 0) & mask;
  for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
    const r = h.owners + i * Owner.WORDS;
    const k = h.words[r + Owner.KEY];
    if (k === key) {
      h.lastOwner = owner;
      h.lastRec = r;
      return r;
    }
    if (k === 0) {
      if (!create) return -1;
      h.mem.fill(r << 2, Owner.WORDS * 4, 0);
      h.set(r + Owner.QUOTA, -1);
      h.set(r + Owner.KEY, key);
      h.set(HeapWord.OWNER_COUNT, h.words[HeapWord.OWNER_COUNT] + 1);
      h.lastOwner = owner;
      h.lastRec = r;
      return r;
    }
  }
  if (!create) return -1;
  return fail(Err.E_LIMIT, "owner", `owner table full (${mask + 1} owners)`, { owner });
}

/** E_NO_MEMORY if `pages` more would exceed the owner's quota. */
export function charge(h: HeapCore, rec: number, pages: number): void {
  const q = h.words[rec + Owner.QUOTA];
  const used = h.words[rec + Owner.USED];
  if (q !== -1 && used + pages > q) {
    fail(
      Err.E_NO_MEMORY,
      "alloc",
      `owner ${h.words[rec + Owner.KEY] - 1} would exceed its quota of ${q} pages (uses ${used})`,
      {
        owner: h.words[rec + Owner.KEY] - 1,
        quota: q,
        used,
      },
    );
  }
}

/** Pages charged to `owner` and its quota (Infinity: none). */
export function usage(h: HeapCore, owner: number): { usedPages: number; quotaPages: number } {
  const rec = ownerRecord(h, owner, false);
  if (rec < 0) return { usedPages: 0, quotaPages: Infinity };
  const q = h.words[rec + Owner.QUOTA];
  return { usedPages: h.words[rec + Owner.USED], quotaPages: q === -1 ? Infinity : q };
}
