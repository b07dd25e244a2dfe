/**
 * Reading the whole object heap: {@link heapStats} counts objects, names,
 * owners and pages; {@link checkHeap} asserts every invariant (E_INTERNAL
 * naming the first broken one), one function per table:
 *
 * - {@link checkObjects}: each live entry points into a slab with its bit
 *   set, or heads a run of its own;
 * - {@link checkPages}: descriptors vs LLFree, slab bitmaps vs live objects,
 *   CURRENT and LISTED flags;
 * - {@link checkOwners}: quota usage and partial lists;
 * - {@link checkFreeSlots}, {@link checkNames}: the free-slot list and the
 *   name table against the object table.
 *
 * @module
 */

import { assert } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { HeapCore } from "./core.ts";
import {
  CLASS_CAP,
  CLASS_COUNT,
  CLASS_SIZE,
  Desc,
  DescFlag,
  Entry,
  type HeapStats,
  HeapWord,
  Name,
  NameState,
  Owner,
  PageKind,
  SMALL_OBJECT_BYTES_MAX,
} from "./layout.ts";
import { pageOfAddr, slabLive } from "./slabs.ts";

const W = "ObjectHeap.check";

/** Counts (scans the tables). */
export function heapStats(h: HeapCore): HeapStats {
  const words = h.words;
  const hw = words[HeapWord.HIGH_WATER];
  let live = 0;
  for (let s = 0; s < hw; s++) if (words[h.table + s * Entry.WORDS + Entry.SIZE] !== 0) live++;
  let slab = 0;
  let large = 0;
  for (let p = 0; p < h.dataPages; p++) {
    const k = words[h.desc + p * Desc.WORDS + Desc.KIND];
    if (k === PageKind.SLAB) slab++;
    else if (k === PageKind.LARGE || k === PageKind.LARGE_TAIL) large++;
  }
  return {
    liveObjects: live,
    names: words[HeapWord.NAME_COUNT],
    owners: words[HeapWord.OWNER_COUNT],
    dataPages: h.dataPages,
    freePages: h.pages.freePages(),
    slabPages: slab,
    largePages: large,
    maxObjects: h.maxObjects,
    highWater: hw,
  };
}

/**
 * Asserts every invariant: the page allocator's counters, pages vs
 * descriptors, slab bitmaps and live counts vs the object table, lists,
 * quota usage, free slots and names. Only meaningful while no mutation is
 * in progress.
 */
export function checkHeap(h: HeapCore): void {
  h.pages.check();
  assert(h.words[HeapWord.LOCK] === 0 || h.lockDepth > 0, W, "writer lock is held");
  const { live, large } = checkObjects(h);
  const used = checkPages(h, live, large);
  checkOwners(h, used);
  checkFreeSlots(h);
  checkNames(h);
}

/** Live objects per slab page and the heads of runs, checked against the descriptors. */
function checkObjects(h: HeapCore): { live: Int32Array; large: Uint8Array } {
  const words = h.words;
  const P = h.dataPages;
  const hw = words[HeapWord.HIGH_WATER];
  const live = new Int32Array(P);
  const large = new Uint8Array(P);
  for (let s = 0; s < hw; s++) {
    const e = h.table + s * Entry.WORDS;
    const size = words[e + Entry.SIZE];
    if (size === 0) continue;
    const addr = words[e + Entry.ADDR];
    const page = pageOfAddr(h, addr);
    assert(addr >= h.dataByte && page < P, W, `slot ${s}: address ${addr} outside data`);
    const d = h.desc + page * Desc.WORDS;
    if (size <= SMALL_OBJECT_BYTES_MAX) {
      assert(words[d + Desc.KIND] === PageKind.SLAB, W, `slot ${s}: page ${page} is no slab`);
      const cls = words[d + Desc.CLASS];
      const rel = addr - h.dataByte - page * PAGE_BYTES;
      assert(CLASS_SIZE[cls] >= size && rel % CLASS_SIZE[cls] === 0, W, `slot ${s}: bad class`);
      const idx = rel / CLASS_SIZE[cls];
      assert(words[d + Desc.BITMAP + (idx >> 5)] & (1 << (idx & 31)), W, `slot ${s}: bit clear`);
      live[page]++;
    } else {
      assert(words[d + Desc.KIND] === PageKind.LARGE, W, `slot ${s}: page ${page} is no run`);
      assert(large[page] === 0, W, `slot ${s}: run ${page} shared`);
      large[page] = 1;
    }
  }
  return { live, large };
}

/** Checks every descriptor; returns the pages each owner record should be charged. */
function checkPages(h: HeapCore, live: Int32Array, large: Uint8Array): Map<number, number> {
  const words = h.words;
  const used = new Map<number, number>();
  for (let p = 0; p < h.dataPages; p++) {
    const d = h.desc + p * Desc.WORDS;
    const kind = words[d + Desc.KIND];
    assert(
      (kind !== PageKind.FREE) === h.pages.isAllocated(p),
      W,
      `page ${p}: kind ${kind} but allocator says ${h.pages.isAllocated(p)}`,
    );
    const rec = words[d + Desc.OWNER];
    if (kind === PageKind.SLAB) {
      checkSlab(h, p, d, live[p]);
      used.set(rec, (used.get(rec) ?? 0) + 1);
    } else if (kind === PageKind.LARGE) {
      assert(large[p] === 1, W, `run ${p}: no object`);
      used.set(rec, (used.get(rec) ?? 0) + words[d + Desc.CLASS]);
    } else if (kind === PageKind.LARGE_TAIL) {
      const head = words[d + Desc.CLASS];
      assert(
        words[h.desc + head * Desc.WORDS + Desc.KIND] === PageKind.LARGE,
        W,
        `tail ${p}: head ${head}`,
      );
    }
  }
  return used;
}

/** Checks slab `p` (descriptor `d`) holding `live` objects: bitmap, CURRENT and LISTED flags. */
function checkSlab(h: HeapCore, p: number, d: number, live: number): void {
  const words = h.words;
  const rec = words[d + Desc.OWNER];
  const cls = words[d + Desc.CLASS];
  const bits = slabLive(h, d, cls);
  assert(bits === live, W, `slab ${p}: bitmap has ${bits} bits, ${live} objects`);
  const flags = words[d + Desc.FLAGS];
  const isCur = words[rec + Owner.CUR + cls] === p + 1;
  assert(((flags & DescFlag.CURRENT) !== 0) === isCur, W, `slab ${p}: CURRENT flag ${flags}`);
  const shouldList = !isCur && live > 0 && live < CLASS_CAP[cls];
  assert(((flags & DescFlag.LISTED) !== 0) === shouldList, W, `slab ${p}: LISTED flag ${flags}`);
  assert(isCur || live > 0, W, `slab ${p}: empty but kept`);
}

/** Checks each owner's usage against `used` and walks its partial lists. */
function checkOwners(h: HeapCore, used: Map<number, number>): void {
  const words = h.words;
  for (let i = 0; i <= h.ownerMask; i++) {
    const r = h.owners + i * Owner.WORDS;
    if (words[r + Owner.KEY] === 0) continue;
    assert(
      words[r + Owner.USED] === (used.get(r) ?? 0),
      W,
      `owner ${words[r + Owner.KEY] - 1}: used ${words[r + Owner.USED]} != ${used.get(r) ?? 0}`,
    );
    for (let c = 0; c < CLASS_COUNT; c++) checkPartialList(h, r, c);
  }
}

/** Walks owner record `r`'s partial list of class `c`: links, class, owner, no cycle. */
function checkPartialList(h: HeapCore, r: number, c: number): void {
  const words = h.words;
  let prev = 0;
  let n = 0;
  for (
    let p = words[r + Owner.PARTIAL + c];
    p !== 0;
    p = words[h.desc + (p - 1) * Desc.WORDS + Desc.NEXT]
  ) {
    const d = h.desc + (p - 1) * Desc.WORDS;
    assert(words[d + Desc.PREV] === prev, W, `partial list of class ${c}: bad prev at ${p - 1}`);
    assert(
      words[d + Desc.CLASS] === c && words[d + Desc.OWNER] === r,
      W,
      `partial list: foreign slab ${p - 1}`,
    );
    assert(++n <= h.dataPages, W, "partial list has a cycle");
    prev = p;
  }
}

/** The free-slot list holds only free slots, and free + live slots make the high water. */
function checkFreeSlots(h: HeapCore): void {
  const words = h.words;
  const hw = words[HeapWord.HIGH_WATER];
  let free = 0;
  for (
    let s = words[HeapWord.FREE_SLOT];
    s !== 0;
    s = words[h.table + (s - 1) * Entry.WORDS + Entry.AUX]
  ) {
    assert(
      s - 1 < hw && words[h.table + (s - 1) * Entry.WORDS + Entry.SIZE] === 0,
      W,
      `free slot ${s - 1} is live`,
    );
    assert(++free <= hw, W, "free-slot list has a cycle");
  }
  let liveCount = 0;
  for (let s = 0; s < hw; s++) {
    if (words[h.table + s * Entry.WORDS + Entry.SIZE] !== 0) liveCount++;
  }
  assert(free + liveCount === hw, W, `${free} free + ${liveCount} live slots != high water ${hw}`);
}

/** Every used name has its live object linked back, the count is right, every link has its name. */
function checkNames(h: HeapCore): void {
  const words = h.words;
  let names = 0;
  for (let i = 0; i <= h.nameMask; i++) {
    const e = h.names + i * Name.WORDS;
    if (words[e + Name.STATE] !== NameState.USED) continue;
    const te = h.table + words[e + Name.SLOT] * Entry.WORDS;
    assert(
      words[te + Entry.SIZE] !== 0 && words[te + Entry.AUX] === i + 1 &&
        words[te + Entry.GEN] === words[e + Name.GEN],
      W,
      `name ${i}: object gone`,
    );
    names++;
  }
  const count = words[HeapWord.NAME_COUNT];
  assert(names === count, W, `name count ${count} != ${names}`);
  const hw = words[HeapWord.HIGH_WATER];
  for (let s = 0; s < hw; s++) {
    const e = h.table + s * Entry.WORDS;
    const link = words[e + Entry.AUX];
    if (words[e + Entry.SIZE] === 0 || link === 0) continue;
    const ne = h.names + (link - 1) * Name.WORDS;
    assert(
      words[ne + Name.STATE] === NameState.USED && words[ne + Name.SLOT] === s,
      W,
      `slot ${s}: name ${link - 1} missing`,
    );
  }
}
