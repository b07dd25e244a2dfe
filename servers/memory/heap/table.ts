/**
 * The object table: one entry per slot (generation, size, address, name
 * link), a free-slot list threaded through free entries, and the object
 * life cycle on top of slabs.ts: {@link allocLocked} takes a slot and the
 * bytes and publishes the object with its size word last;
 * {@link freeLocked} unpublishes it first, then drops its name and gives
 * the bytes back. Both run under the writer lock.
 *
 * - {@link liveSlot}: the slot of a live ref, or the error saying why not.
 * - {@link checkOwner}, {@link recOfSlot}: who an object is charged to.
 *
 * @module
 */

import { Err } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { HeapCore } from "./core.ts";
import {
  CLASS_OF,
  CLASS_SIZE,
  Desc,
  DescFlag,
  Entry,
  fail,
  HeapWord,
  Owner,
  REF_GEN_MASK,
  SLOT_SCALE,
  SMALL_OBJECT_BYTES_MAX,
} from "./layout.ts";
import { dropName } from "./names.ts";
import { ownerRecord } from "./owners.ts";
import {
  allocLarge,
  allocSmall,
  pageOfAddr,
  push,
  releasePage,
  releaseRun,
  slabLive,
  unlink,
} from "./slabs.ts";

/** Throws E_BAD_ARGUMENT for an object size outside [1, maxSize] in call `where`. */
export function badSize(h: HeapCore, where: string, size: unknown): never {
  fail(
    Err.E_BAD_ARGUMENT,
    where,
    `size ${String(size)} must be an integer in [1, ${h.maxSize}]`,
    {
      size: String(size),
    },
  );
}

/**
 * Allocates an object of `size` bytes for `owner` with name link `aux`
 * (name index + 1, 0: anonymous) and publishes it (size word last); returns
 * its ref. E_LIMIT when the table is full, before any page is taken. Caller
 * holds the writer lock and has checked `size`.
 */
export function allocLocked(h: HeapCore, size: number, owner: number, aux: number): number {
  const words = h.words;
  const rec = owner === h.lastOwner ? h.lastRec : ownerRecord(h, owner, true);
  // A slot must be available before any page is taken.
  const freeSlot = words[HeapWord.FREE_SLOT];
  const hw = words[HeapWord.HIGH_WATER];
  if (freeSlot === 0 && hw >= h.maxObjects) {
    fail(Err.E_LIMIT, "alloc", `object table full (${h.maxObjects} objects)`, {
      maxObjects: h.maxObjects,
    });
  }
  const addr = size <= SMALL_OBJECT_BYTES_MAX
    ? allocSmall(h, CLASS_OF[(size + 15) >> 4], rec)
    : allocLarge(h, size, rec);
  let slot: number;
  let e: number;
  if (freeSlot !== 0) {
    slot = freeSlot - 1;
    e = h.table + slot * Entry.WORDS;
    h.set(HeapWord.FREE_SLOT, words[e + Entry.AUX]);
  } else {
    slot = hw;
    e = h.table + slot * Entry.WORDS;
    h.set(HeapWord.HIGH_WATER, hw + 1);
  }
  if (words[e + Entry.AUX] !== aux) h.set(e + Entry.AUX, aux);
  h.set(e + Entry.ADDR, addr);
  h.set(e + Entry.SIZE, size); // publishes the object
  return (words[e + Entry.GEN] & REF_GEN_MASK) * SLOT_SCALE + slot;
}

/**
 * Slot of a live ref, or the error that says why not: E_BAD_ARGUMENT for a
 * value that is no ref, E_NOT_FOUND for an object that never existed or
 * (except when freeing) was freed, E_DOUBLE_FREE when freeing a freed one.
 */
export function liveSlot(h: HeapCore, ref: number, where: string, freeing = false): number {
  if (!(ref >= 0 && ref < 2 ** 53 && Math.floor(ref) === ref)) {
    fail(Err.E_BAD_ARGUMENT, where, `ref ${String(ref)} is not an object ref`);
  }
  const g = (ref / SLOT_SCALE) | 0;
  const slot = ref - g * SLOT_SCALE;
  if (slot >= h.words[HeapWord.HIGH_WATER]) {
    fail(Err.E_NOT_FOUND, where, `no object with ref ${ref}`, { ref });
  }
  const e = h.table + slot * Entry.WORDS;
  const cur = h.words[e + Entry.GEN] & REF_GEN_MASK;
  const size = h.words[e + Entry.SIZE];
  if (cur === g && size !== 0) return slot;
  // Freed: the generation moved on, or (a free cut short by a crash) not yet.
  const age = (cur - g) & REF_GEN_MASK;
  if (age < 2 ** 24 && (age > 0 || size === 0)) {
    fail(freeing ? Err.E_DOUBLE_FREE : Err.E_NOT_FOUND, where, `object ${ref} was freed`, {
      ref,
    });
  }
  return fail(Err.E_NOT_FOUND, where, `no object with ref ${ref}`, { ref });
}

/** E_NOT_OWNER unless live object `slot` is charged to `owner`. */
export function checkOwner(h: HeapCore, slot: number, owner: number, where: string): void {
  const rec = recOfSlot(h, slot);
  const key = h.words[rec + Owner.KEY] - 1;
  if (key !== owner) {
    fail(
      Err.E_NOT_OWNER,
      where,
      `object slot ${slot} belongs to owner ${key >>> 0}, not ${owner}`,
      {
        slot,
        owner: String(owner),
      },
    );
  }
}

/** Owner record (word index) of live object `slot`, from its page descriptor. */
export function recOfSlot(h: HeapCore, slot: number): number {
  const addr = h.words[h.table + slot * Entry.WORDS + Entry.ADDR];
  return h.words[h.desc + pageOfAddr(h, addr) * Desc.WORDS + Desc.OWNER];
}

/**
 * Frees live object `slot`: unpublishes it first (size 0, generation moved
 * on, onto the free list), drops its name, then gives its bytes back to its
 * slab or its run to LLFree. Caller holds the writer lock.
 */
export function freeLocked(h: HeapCore, slot: number): void {
  const words = h.words;
  const e = h.table + slot * Entry.WORDS;
  const addr = words[e + Entry.ADDR];
  const size = words[e + Entry.SIZE];
  const nameLink = words[e + Entry.AUX];
  // Unpublish first: from here on the object does not exist.
  h.set(e + Entry.SIZE, 0);
  h.set(e + Entry.GEN, words[e + Entry.GEN] + 1);
  h.set(e + Entry.AUX, words[HeapWord.FREE_SLOT]);
  h.set(HeapWord.FREE_SLOT, slot + 1);
  if (nameLink !== 0) dropName(h, nameLink - 1, slot);
  const page = pageOfAddr(h, addr);
  const d = h.desc + page * Desc.WORDS;
  const rec = words[d + Desc.OWNER];
  if (size > SMALL_OBJECT_BYTES_MAX) {
    releaseRun(h, page, rec);
    return;
  }
  const cls = words[d + Desc.CLASS];
  const idx = ((addr - h.dataByte - page * PAGE_BYTES) / CLASS_SIZE[cls]) | 0;
  const bw = d + Desc.BITMAP + (idx >> 5);
  h.set(bw, words[bw] & ~(1 << (idx & 31)));
  const flags = words[d + Desc.FLAGS];
  if (flags & DescFlag.CURRENT) return; // stays current, even when empty
  if (slabLive(h, d, cls) === 0) {
    if (flags & DescFlag.LISTED) unlink(h, rec, cls, page);
    releasePage(h, page, rec);
  } else if (!(flags & DescFlag.LISTED)) {
    push(h, rec, cls, page); // was full
  }
}
