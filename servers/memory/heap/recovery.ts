/**
 * Recovery of the object heap after an unclean stop. There is no log: the
 * object table and LLFree's bitfields are the truth, and everything else is
 * rebuilt from them, in this order (each step a function below):
 *
 * 1. {@link breakLock}, then LLFree's own recovery.
 * 2. {@link recoverPages}: a descriptor counts only if LLFree agrees; slab
 *    state is reset and large runs are validated.
 * 3. {@link recoverObjects}: each live table entry must point at a valid
 *    slab object or run; its bitmap bit or live flag is set again; others
 *    are dropped.
 * 4. {@link recountOwners}: quota usage and partial lists from the pages;
 *    allocated pages nothing reaches are reclaimed.
 * 5. {@link rebuildFreeSlots}: the free-slot list, lowest slot first.
 * 6. {@link recoverNames}, {@link freeOrphans}: a name needs its object, an
 *    object marked named needs its name.
 *
 * @module
 */

import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { LLFreeRecovery } from "../llfree.ts";
import type { HeapCore } from "./core.ts";
import {
  CLASS_CAP,
  CLASS_COUNT,
  CLASS_SIZE,
  Desc,
  Entry,
  HeapWord,
  Name,
  NameState,
  Owner,
  PageKind,
  SMALL_OBJECT_BYTES_MAX,
} from "./layout.ts";
import { pageOfAddr, push, setPaddingBits, slabLive } from "./slabs.ts";
import { freeLocked } from "./table.ts";

/** Result of {@link recoverHeap} (and `ObjectHeap.recover`). */
export interface HeapRecovery {
  llfree: LLFreeRecovery;
  /** Object-table entries that pointed at nothing valid. */
  objectsDropped: number;
  /** Named objects whose name was never published (or was already deleted). */
  orphansFreed: number;
  /** Pages allocated but not reachable from any object (reclaimed). */
  pagesReclaimed: number;
  /** Name entries whose object was gone. */
  namesDropped: number;
  /** 1 if the writer lock was held (a mutation was cut short). */
  lockBroken: number;
}

/**
 * Rebuilds everything from the object table and LLFree (see the module
 * map). No other handle may be in use.
 */
export function recoverHeap(h: HeapCore): HeapRecovery {
  const lockBroken = breakLock(h);
  const llfree = h.pages.recover();
  const headOf = recoverPages(h);
  let objectsDropped = recoverObjects(h, headOf);
  const owners = recountOwners(h);
  objectsDropped += owners.objectsDropped;
  rebuildFreeSlots(h);
  const namesDropped = recoverNames(h);
  const orphansFreed = freeOrphans(h);
  return {
    llfree,
    objectsDropped,
    orphansFreed,
    pagesReclaimed: owners.pagesReclaimed,
    namesDropped,
    lockBroken,
  };
}

/** Clears the writer lock and this handle's lock and owner caches; 1 if it was held. */
function breakLock(h: HeapCore): number {
  const lockBroken = h.words[HeapWord.LOCK] !== 0 ? 1 : 0;
  h.mem.atomicStore(HeapWord.LOCK, 0);
  h.lockDepth = 0;
  h.lastOwner = NaN;
  return lockBroken;
}

/**
 * Step 2: frees descriptors LLFree does not back, resets slab state (lists,
 * flags, bitmap to its padding bits) and validates large runs. Returns, per
 * page, the page itself for the head of a valid run, else -1.
 */
function recoverPages(h: HeapCore): Int32Array {
  const words = h.words;
  const P = h.dataPages;
  const headOf = new Int32Array(P).fill(-1);
  for (let p = 0; p < P; p++) {
    const d = h.desc + p * Desc.WORDS;
    const kind = words[d + Desc.KIND];
    if (kind !== PageKind.FREE && !h.pages.isAllocated(p)) {
      h.set(d + Desc.KIND, PageKind.FREE);
      continue;
    }
    if (kind === PageKind.SLAB) {
      const cls = words[d + Desc.CLASS];
      if (!(cls >= 0 && cls < CLASS_COUNT)) {
        h.set(d + Desc.KIND, PageKind.FREE);
        continue;
      }
      h.mem.fill((d + Desc.LIVE) << 2, (Desc.WORDS - Desc.LIVE) * 4, 0);
      setPaddingBits(h, d, cls);
    } else if (kind === PageKind.LARGE) {
      if (runIsWhole(h, p, d)) {
        headOf[p] = p;
        h.set(d + Desc.LIVE, 0);
      } else h.set(d + Desc.KIND, PageKind.FREE);
    }
  }
  return headOf;
}

/** True if the run headed by page `p` (descriptor `d`) has all its tails, allocated. */
function runIsWhole(h: HeapCore, p: number, d: number): boolean {
  const words = h.words;
  const n = words[d + Desc.CLASS];
  let ok = n >= 1 && p + n <= h.dataPages;
  for (let q = p + 1; ok && q < p + n; q++) {
    const dq = h.desc + q * Desc.WORDS;
    ok = words[dq + Desc.KIND] === PageKind.LARGE_TAIL && words[dq + Desc.CLASS] === p &&
      h.pages.isAllocated(q);
  }
  return ok;
}

/** Step 3: re-marks every valid live object on its page; drops the rest. Returns how many dropped. */
function recoverObjects(h: HeapCore, headOf: Int32Array): number {
  const words = h.words;
  let dropped = 0;
  const hw = words[HeapWord.HIGH_WATER];
  for (let s = 0; s < hw; s++) {
    const e = h.table + s * Entry.WORDS;
    if (words[e + Entry.SIZE] === 0) continue;
    if (!remarkObject(h, e, headOf)) {
      dropEntry(h, e);
      dropped++;
    }
  }
  return dropped;
}

/** Sets the bitmap bit (slab) or live flag (run) of live entry `e`; false if it points at nothing valid. */
function remarkObject(h: HeapCore, e: number, headOf: Int32Array): boolean {
  const words = h.words;
  const size = words[e + Entry.SIZE];
  const addr = words[e + Entry.ADDR];
  const page = pageOfAddr(h, addr);
  const d = h.desc + page * Desc.WORDS;
  const rel = addr - h.dataByte - page * PAGE_BYTES;
  if (!(addr >= h.dataByte && page < h.dataPages && size >= 1 && size <= h.maxSize)) return false;
  if (size <= SMALL_OBJECT_BYTES_MAX) {
    const cls = words[d + Desc.CLASS];
    const idx = (rel / CLASS_SIZE[cls]) | 0;
    const bw = d + Desc.BITMAP + (idx >> 5);
    const bit = 1 << (idx & 31);
    const ok = words[d + Desc.KIND] === PageKind.SLAB && CLASS_SIZE[cls] >= size &&
      rel % CLASS_SIZE[cls] === 0 && idx < CLASS_CAP[cls] && (words[bw] & bit) === 0;
    if (ok) h.set(bw, words[bw] | bit);
    return ok;
  }
  const ok = rel === 0 && headOf[page] === page && words[d + Desc.LIVE] === 0 &&
    words[d + Desc.CLASS] >= Math.ceil(size / PAGE_BYTES);
  if (ok) h.set(d + Desc.LIVE, 1);
  return ok;
}

/** Unpublishes table entry `e` (size 0, generation moved on). */
function dropEntry(h: HeapCore, e: number): void {
  h.set(e + Entry.SIZE, 0);
  h.set(e + Entry.GEN, h.words[e + Entry.GEN] + 1);
}

/**
 * Step 4: zeroes every owner's usage, current slabs and lists, then charges
 * each reachable slab or run to its owner and lists partial slabs; frees
 * allocated pages nothing reaches (dropping objects on a slab whose owner
 * record is invalid).
 */
function recountOwners(h: HeapCore): { objectsDropped: number; pagesReclaimed: number } {
  const words = h.words;
  for (let i = 0; i <= h.ownerMask; i++) {
    const r = h.owners + i * Owner.WORDS;
    if (words[r + Owner.KEY] === 0) continue;
    h.mem.fill((r + Owner.USED) << 2, (Owner.WORDS - Owner.USED) * 4, 0);
  }
  let objectsDropped = 0;
  let pagesReclaimed = 0;
  for (let p = 0; p < h.dataPages; p++) {
    const d = h.desc + p * Desc.WORDS;
    const kind = words[d + Desc.KIND];
    const rec = words[d + Desc.OWNER];
    const recOk = isOwnerRecord(h, rec);
    const live = kind === PageKind.SLAB ? slabLive(h, d, words[d + Desc.CLASS]) : 0;
    if (live > 0 && recOk) {
      h.set(rec + Owner.USED, words[rec + Owner.USED] + 1);
      const cls = words[d + Desc.CLASS];
      if (live < CLASS_CAP[cls]) push(h, rec, cls, p);
    } else if (kind === PageKind.LARGE && words[d + Desc.LIVE] === 1 && recOk) {
      h.set(rec + Owner.USED, words[rec + Owner.USED] + words[d + Desc.CLASS]);
      p += words[d + Desc.CLASS] - 1;
    } else if (h.pages.isAllocated(p)) {
      // Taken but unreachable: a slab emptied or a run or page whose owner never got it.
      if (live > 0) {
        // Objects on a page without a valid owner record: drop them.
        objectsDropped += dropObjectsOn(h, p);
      }
      h.set(d + Desc.KIND, PageKind.FREE);
      h.pages.free4k(p);
      pagesReclaimed++;
    } else if (kind !== PageKind.FREE) {
      h.set(d + Desc.KIND, PageKind.FREE);
    }
  }
  return { objectsDropped, pagesReclaimed };
}

/** True if word index `rec` is the start of a used owner record. */
function isOwnerRecord(h: HeapCore, rec: number): boolean {
  return rec >= h.owners && (rec - h.owners) % Owner.WORDS === 0 &&
    rec < h.owners + (h.ownerMask + 1) * Owner.WORDS && h.words[rec + Owner.KEY] !== 0;
}

/** Drops every live object on data page `page`; returns how many. */
function dropObjectsOn(h: HeapCore, page: number): number {
  let n = 0;
  const hw = h.words[HeapWord.HIGH_WATER];
  for (let s = 0; s < hw; s++) {
    const e = h.table + s * Entry.WORDS;
    if (h.words[e + Entry.SIZE] !== 0 && pageOfAddr(h, h.words[e + Entry.ADDR]) === page) {
      dropEntry(h, e);
      n++;
    }
  }
  return n;
}

/** Step 5: threads every free slot below the high water onto the free list, lowest first. */
function rebuildFreeSlots(h: HeapCore): void {
  const words = h.words;
  let head = 0;
  for (let s = words[HeapWord.HIGH_WATER] - 1; s >= 0; s--) {
    const e = h.table + s * Entry.WORDS;
    if (words[e + Entry.SIZE] !== 0) continue;
    h.set(e + Entry.AUX, head);
    head = s + 1;
  }
  h.set(HeapWord.FREE_SLOT, head);
}

/** Step 6a: tombstones names whose object is gone; recounts names and tombstones. Returns names dropped. */
function recoverNames(h: HeapCore): number {
  const words = h.words;
  const hw = words[HeapWord.HIGH_WATER];
  let namesDropped = 0;
  let count = 0;
  let tombs = 0;
  for (let i = 0; i <= h.nameMask; i++) {
    const e = h.names + i * Name.WORDS;
    const state = words[e + Name.STATE];
    if (state === NameState.TOMBSTONE) tombs++;
    if (state !== NameState.USED) continue;
    const slot = words[e + Name.SLOT];
    const te = h.table + slot * Entry.WORDS;
    if (
      slot >= 0 && slot < hw && words[te + Entry.SIZE] !== 0 &&
      words[te + Entry.GEN] === words[e + Name.GEN] && words[te + Entry.AUX] === i + 1
    ) {
      count++;
    } else {
      h.set(e + Name.STATE, NameState.TOMBSTONE);
      tombs++;
      namesDropped++;
    }
  }
  h.set(HeapWord.NAME_COUNT, count);
  h.set(HeapWord.NAME_TOMBSTONES, tombs);
  return namesDropped;
}

/** Step 6b: frees live objects linked to a name that is not theirs (creation cut short); returns how many. */
function freeOrphans(h: HeapCore): number {
  const words = h.words;
  const hw = words[HeapWord.HIGH_WATER];
  let orphansFreed = 0;
  for (let s = 0; s < hw; s++) {
    const e = h.table + s * Entry.WORDS;
    const link = words[e + Entry.AUX];
    if (words[e + Entry.SIZE] === 0 || link === 0) continue;
    const ne = h.names + (link - 1) * Name.WORDS;
    const named = link - 1 <= h.nameMask && words[ne + Name.STATE] === NameState.USED &&
      words[ne + Name.SLOT] === s && words[ne + Name.GEN] === words[e + Entry.GEN];
    if (!named) {
      h.set(e + Entry.AUX, 0);
      h.lock();
      try {
        freeLocked(h, s);
      } finally {
        h.unlock();
      }
      orphansFreed++;
    }
  }
  return orphansFreed;
}
