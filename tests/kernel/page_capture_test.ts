/**
 * The page scan with the dirty summary (kernel/page_capture.ts over the
 * summary kernel/abi/pmem.ts sets): a page far from the others, the first
 * and last page of every chunk, a store across a chunk boundary, a PMO
 * nothing touched (skipped: no chunk read), a write during copy-out caught
 * by the next checkpoint, the hot bits of skipped chunks, a PMO made dirty
 * whole or restored clean, and the debug barrier.
 */

import assert from "node:assert/strict";
import {
  DIRTY_CHUNK_PAGES,
  dirtyChunks,
  PageState,
  type PmoBuffers,
} from "../../kernel/abi/layout.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { allocatePmoBuffers, markAllDirty, PersistentMemory } from "../../kernel/abi/pmem.ts";
import type { CopyMethod } from "../../kernel/abi/protocol.ts";
import { type Capture, PageCapture } from "../../kernel/page_capture.ts";

/** Chunks of the big PMO, and two pages more, so its last chunk is short and ends off a word. */
const BIG_PAGES = 40 * DIRTY_CHUNK_PAGES + 2;

/** A kernel memory object of one chunk, a big PMO (id 1, NVM 1000) and a small one (id 2, NVM 9000). */
function machine(method: CopyMethod = "stop-and-copy", debugBarrier = false) {
  const kernelPmo = allocatePmoBuffers(0, DIRTY_CHUNK_PAGES);
  const big = allocatePmoBuffers(1, BIG_PAGES);
  const small = allocatePmoBuffers(2, 3);
  const loaded: Array<[{ nvmBase: number }, PmoBuffers]> = [
    [{ nvmBase: 1000 }, big],
    [{ nvmBase: 9000 }, small],
  ];
  const violations: Array<[number, number]> = [];
  const pages = new PageCapture(
    { copyMethod: method, debugBarrier },
    (pmo, page) => violations.push([pmo, page]),
  );
  /** One checkpoint: capture and copy-out; the NVM pages and contents captured, and the cow count. */
  const checkpoint = (between?: (captures: Capture[]) => void) => {
    const captures = pages.capture(kernelPmo, loaded);
    between?.(captures);
    const out = pages.copyOut(captures);
    const bytes = new Uint8Array(out.pages);
    return {
      nvmPages: [...out.nvmPages],
      firstBytes: captures.map((_, i) => bytes[i * PAGE_BYTES]),
      cow: captures.map((c) => c.cow),
      scanned: pages.scannedChunks,
      scannedPmos: pages.scannedPmos,
    };
  };
  return {
    pages,
    checkpoint,
    big,
    small,
    bigMem: new PersistentMemory(big),
    smallMem: new PersistentMemory(small),
    violations,
  };
}

Deno.test("page scan: a page dirtied far from any other is captured, and only its chunk is read", () => {
  const m = machine();
  m.checkpoint(); // nothing dirty yet
  const far = 37 * DIRTY_CHUNK_PAGES + 13;
  m.bigMem.setU8(far * PAGE_BYTES + 7, 0x42);
  const c = m.checkpoint();
  assert.deepEqual(c.nvmPages, [1000 + far]);
  assert.equal(m.big.data.byteLength, BIG_PAGES * PAGE_BYTES);
  assert.equal(c.scanned, 1, "one chunk read of the 41 + 1 + 1 mapped");
  assert.equal(new Uint8Array(m.big.pageState)[far], PageState.CLEAN);
  const next = m.checkpoint();
  assert.deepEqual(next.nvmPages, [], "captured once: the next cut finds nothing");
  assert.deepEqual([next.scanned, next.scannedPmos], [0, 0], "the scan cleared the summary");
  m.bigMem.setU8(2 * PAGE_BYTES, 1); // another chunk of the same PMO
  const other = m.checkpoint();
  assert.deepEqual(other.nvmPages, [1002]);
  assert.equal(other.scanned, 1, "the far page's chunk flag was cleared by the cut that read it");
});

Deno.test("page scan: the first and last page of every chunk, and the short last chunk's last page, are captured", () => {
  const m = machine();
  m.checkpoint();
  const expected: number[] = [];
  for (let c = 0; c < dirtyChunks(BIG_PAGES); c++) {
    const first = c * DIRTY_CHUNK_PAGES;
    const last = Math.min(first + DIRTY_CHUNK_PAGES, BIG_PAGES) - 1;
    for (const p of new Set([first, last])) {
      m.bigMem.setU8(p * PAGE_BYTES + PAGE_BYTES - 1, c + 1);
      expected.push(1000 + p);
    }
  }
  m.smallMem.setU8(2 * PAGE_BYTES, 9); // the small PMO's last page, in the tail past its words
  const c = m.checkpoint();
  assert.deepEqual(c.nvmPages, [...expected, 9002]);
  assert.equal(c.scanned, dirtyChunks(BIG_PAGES) + 1);
});

Deno.test("page scan: a store across a chunk boundary marks the last page of one chunk and the first of the next", () => {
  const m = machine();
  m.checkpoint();
  m.bigMem.setF64(5 * DIRTY_CHUNK_PAGES * PAGE_BYTES - 4, 1.5);
  const c = m.checkpoint();
  assert.deepEqual(c.nvmPages, [1000 + 5 * DIRTY_CHUNK_PAGES - 1, 1000 + 5 * DIRTY_CHUNK_PAGES]);
  assert.equal(c.scanned, 2);
});

Deno.test("page scan: a PMO nothing wrote is skipped without reading a chunk; the one written is read", () => {
  const m = machine();
  const first = m.checkpoint();
  assert.equal(first.nvmPages.length, 0, "fresh buffers are clean and their summary too");
  assert.deepEqual([first.scanned, first.scannedPmos], [0, 0], "nothing read at all");
  m.smallMem.setU32(0, 1);
  const c = m.checkpoint();
  assert.deepEqual(c.nvmPages, [9000]);
  assert.deepEqual(
    [c.scanned, c.scannedPmos],
    [1, 1],
    "the big PMO and the kernel's were skipped whole",
  );
});

Deno.test("page scan: a PMO made dirty whole (new or rolled back) is captured whole; one restored is clean", () => {
  const m = machine();
  markAllDirty(m.small);
  const c = m.checkpoint();
  assert.deepEqual(c.nvmPages, [9000, 9001, 9002]);
  const restored = allocatePmoBuffers(3, 5, new SharedArrayBuffer(5 * PAGE_BYTES));
  new Uint8Array(restored.data).fill(7);
  const pages = new PageCapture({ copyMethod: "cow", debugBarrier: false }, () => {});
  assert.deepEqual(
    pages.capture(restored, []),
    [],
    "restored contents: clean states, clean summary",
  );
});

Deno.test("page scan: a write during copy-out is saved for this checkpoint and captured by the next", () => {
  const m = machine("cow");
  m.checkpoint();
  m.bigMem.setU8(3 * PAGE_BYTES, 1);
  const c = m.checkpoint((captures) => {
    assert.deepEqual(captures.map((x) => x.cow), [true]);
    // After the thaw, before copy-out reaches it: the writer saves the page and dirties it.
    m.bigMem.setU8(3 * PAGE_BYTES, 2);
  });
  assert.deepEqual(c.nvmPages, [1003]);
  assert.deepEqual(c.firstBytes, [1], "this checkpoint holds the bytes at its cut");
  const next = m.checkpoint();
  assert.deepEqual(next.nvmPages, [1003], "the write after the cut goes in the next");
  assert.deepEqual(next.firstBytes, [2]);
  assert.deepEqual(m.checkpoint().nvmPages, []);
});

Deno.test("page scan: a chunk or a PMO skipped loses its hot bits, as a scan of clean pages would", () => {
  const m = machine("hybrid");
  const page = 20 * DIRTY_CHUNK_PAGES + 1;
  const round = () => {
    m.bigMem.setU8(page * PAGE_BYTES, 1);
    return m.checkpoint().cow;
  };
  assert.deepEqual(round(), [true], "first time: cold");
  assert.deepEqual(round(), [false], "dirty again: hot, copied in the pause");
  m.bigMem.setU8(0, 1); // the PMO is read, the page's chunk is skipped
  m.checkpoint();
  assert.deepEqual(round(), [true], "its chunk was skipped: cold again");
  round(); // hot again
  m.checkpoint(); // the whole PMO is skipped
  assert.deepEqual(round(), [true], "its PMO was skipped: cold again");
});

Deno.test("page scan, debug barrier: a write that skipped the barrier is found in a PMO the summary skips", () => {
  const m = machine("stop-and-copy", true);
  m.checkpoint(); // the shadow copies
  new Uint8Array(m.big.data)[30 * DIRTY_CHUNK_PAGES * PAGE_BYTES + 5] = 1;
  const c = m.checkpoint();
  assert.equal(c.scanned, 0, "the summary shows nothing");
  assert.deepEqual(m.violations, [[1, 30 * DIRTY_CHUNK_PAGES]]);
});

Deno.test("page scan, debug barrier: a page made DIRTY around the barrier (no summary) is reported", () => {
  const m = machine("stop-and-copy", true);
  m.checkpoint();
  new Uint8Array(m.small.pageState)[1] = PageState.DIRTY;
  m.checkpoint();
  assert.deepEqual(m.violations, [[2, 1]]);
});
