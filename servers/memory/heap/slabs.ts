/**
 * Data pages of the object heap and their descriptors: size-class slabs
 * (one page each, a bitmap of its objects, owned by one owner) and runs of
 * whole pages for large objects, taken from and given back to LLFree.
 *
 * - {@link allocSmall}: an object of a class from the owner's current slab,
 *   taking a partial slab or a fresh page ({@link nextSlab}) when needed.
 * - {@link allocLarge}: a run of pages (LLFree.allocOrder, the rest of the
 *   aligned run given back) for one large object.
 * - {@link releasePage}, {@link releaseRun}: give pages back and uncharge.
 * - {@link push}, {@link unlink}: the owner's partial-slab list per class.
 * - {@link slabLive}, {@link setPaddingBits}: bitmap helpers, also used by
 *   recovery.
 *
 * @module
 */

import { Err } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { HeapCore } from "./core.ts";
import { charge } from "./owners.ts";
import {
  CLASS_CAP,
  CLASS_SIZE,
  CLASS_WORDS,
  Desc,
  DescFlag,
  fail,
  Owner,
  PageKind,
} from "./layout.ts";
import { popcount32 } from "../llfree.ts";

/**
 * Takes an object of class `cls` from owner record `rec`'s current slab
 * (taking another first if it has none); returns its byte offset in the PMO.
 * A slab that becomes full stops being current. Caller holds the writer lock.
 */
export function allocSmall(h: HeapCore, cls: number, rec: number): number {
  const words = h.words;
  const curW = rec + Owner.CUR + cls;
  let page = words[curW] - 1;
  if (page < 0) page = nextSlab(h, rec, cls);
  const d = h.desc + page * Desc.WORDS;
  const bm = d + Desc.BITMAP;
  const n = CLASS_WORDS[cls];
  for (let i = 0; i < n; i++) {
    const w = words[bm + i];
    if (w !== -1) {
      const bit = ~w & (w + 1);
      h.set(bm + i, w | bit);
      if ((w | bit) === -1 && fullFrom(h, bm, i + 1, n)) {
        // Full: it stops being current; a free puts it on the partial list.
        h.set(curW, 0);
        h.set(d + Desc.FLAGS, 0);
      }
      return h.dataByte + page * PAGE_BYTES +
        ((i << 5) + 31 - Math.clz32(bit)) * CLASS_SIZE[cls];
    }
  }
  return fail(
    Err.E_INTERNAL,
    "alloc",
    `current slab ${page} of class ${cls} is full; run recover()`,
  );
}

/** True if bitmap words [from, n) of `bm` are all set. */
export function fullFrom(h: HeapCore, bm: number, from: number, n: number): boolean {
  for (let j = from; j < n; j++) if (h.words[bm + j] !== -1) return false;
  return true;
}

/** Live objects of the slab with descriptor `d`: its set bitmap bits minus the padding. */
export function slabLive(h: HeapCore, d: number, cls: number): number {
  let bits = 0;
  for (let i = 0; i < CLASS_WORDS[cls]; i++) bits += popcount32(h.words[d + Desc.BITMAP + i]);
  return bits - (CLASS_WORDS[cls] * 32 - CLASS_CAP[cls]);
}

/** Sets the bitmap bits past the capacity of class `cls` in descriptor `d`, so no search finds them. */
export function setPaddingBits(h: HeapCore, d: number, cls: number): void {
  const words = h.words;
  for (let b = CLASS_CAP[cls]; b < CLASS_WORDS[cls] * 32; b++) {
    h.set(d + Desc.BITMAP + (b >> 5), words[d + Desc.BITMAP + (b >> 5)] | (1 << (b & 31)));
  }
}

/** Makes a partial slab, or a fresh page, the owner's current slab of `cls`. */
export function nextSlab(h: HeapCore, rec: number, cls: number): number {
  const words = h.words;
  const head = words[rec + Owner.PARTIAL + cls] - 1;
  let page: number;
  if (head >= 0) {
    page = head;
    unlink(h, rec, cls, page);
    h.set(h.desc + page * Desc.WORDS + Desc.FLAGS, DescFlag.CURRENT);
  } else {
    charge(h, rec, 1);
    page = h.pages.alloc4k();
    const d = h.desc + page * Desc.WORDS;
    h.mem.fill(d << 2, Desc.WORDS * 4, 0);
    setPaddingBits(h, d, cls);
    h.set(d + Desc.CLASS, cls);
    h.set(d + Desc.OWNER, rec);
    h.set(d + Desc.FLAGS, DescFlag.CURRENT);
    h.set(d + Desc.KIND, PageKind.SLAB);
    h.set(rec + Owner.USED, words[rec + Owner.USED] + 1);
  }
  h.set(rec + Owner.CUR + cls, page + 1);
  return page;
}

/**
 * Takes a run of whole pages for an object of `size` bytes (an aligned
 * power-of-two run, the pages past the object given back), charged to `rec`;
 * returns its byte offset. E_NO_MEMORY past the quota. Caller holds the lock.
 */
export function allocLarge(h: HeapCore, size: number, rec: number): number {
  const n = Math.ceil(size / PAGE_BYTES);
  const order = 32 - Math.clz32(n - 1);
  charge(h, rec, n);
  const first = h.pages.allocOrder(order);
  for (let p = first + n; p < first + (1 << order); p++) h.pages.free4k(p);
  for (let p = first + 1; p < first + n; p++) {
    const d = h.desc + p * Desc.WORDS;
    h.mem.fill(d << 2, Desc.WORDS * 4, 0);
    h.set(d + Desc.CLASS, first);
    h.set(d + Desc.OWNER, rec);
    h.set(d + Desc.KIND, PageKind.LARGE_TAIL);
  }
  const d = h.desc + first * Desc.WORDS;
  h.mem.fill(d << 2, Desc.WORDS * 4, 0);
  h.set(d + Desc.CLASS, n);
  h.set(d + Desc.OWNER, rec);
  h.set(d + Desc.LIVE, 1);
  h.set(d + Desc.KIND, PageKind.LARGE);
  h.set(rec + Owner.USED, h.words[rec + Owner.USED] + n);
  return h.dataByte + first * PAGE_BYTES;
}

/** Page number of the data page holding byte `addr` of the PMO. */
export function pageOfAddr(h: HeapCore, addr: number): number {
  return ((addr - h.dataByte) / PAGE_BYTES) | 0;
}

/** Gives an emptied slab page back to LLFree and uncharges `rec`. */
export function releasePage(h: HeapCore, page: number, rec: number): void {
  h.set(h.desc + page * Desc.WORDS + Desc.KIND, PageKind.FREE);
  h.set(rec + Owner.USED, h.words[rec + Owner.USED] - 1);
  h.pages.free4k(page);
}

/** Gives the run headed by `first` back to LLFree and uncharges `rec`. */
export function releaseRun(h: HeapCore, first: number, rec: number): void {
  const n = h.words[h.desc + first * Desc.WORDS + Desc.CLASS];
  h.set(h.desc + first * Desc.WORDS + Desc.KIND, PageKind.FREE);
  for (let p = first + 1; p < first + n; p++) {
    h.set(h.desc + p * Desc.WORDS + Desc.KIND, PageKind.FREE);
  }
  h.set(rec + Owner.USED, h.words[rec + Owner.USED] - n);
  for (let p = first; p < first + n; p++) h.pages.free4k(p);
}

/** Puts slab `page` at the head of `rec`'s partial list of class `cls`. */
export function push(h: HeapCore, rec: number, cls: number, page: number): void {
  const hw = rec + Owner.PARTIAL + cls;
  const head = h.words[hw];
  const d = h.desc + page * Desc.WORDS;
  h.set(d + Desc.NEXT, head);
  h.set(d + Desc.PREV, 0);
  if (head !== 0) h.set(h.desc + (head - 1) * Desc.WORDS + Desc.PREV, page + 1);
  h.set(d + Desc.FLAGS, DescFlag.LISTED);
  h.set(hw, page + 1);
}

/** Takes slab `page` off `rec`'s partial list of class `cls` and clears its flags. */
export function unlink(h: HeapCore, rec: number, cls: number, page: number): void {
  const d = h.desc + page * Desc.WORDS;
  const next = h.words[d + Desc.NEXT];
  const prev = h.words[d + Desc.PREV];
  if (prev !== 0) h.set(h.desc + (prev - 1) * Desc.WORDS + Desc.NEXT, next);
  else h.set(rec + Owner.PARTIAL + cls, next);
  if (next !== 0) h.set(h.desc + (next - 1) * Desc.WORDS + Desc.PREV, prev);
  h.set(d + Desc.NEXT, 0);
  h.set(d + Desc.PREV, 0);
  h.set(d + Desc.FLAGS, 0);
}
