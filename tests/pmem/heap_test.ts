/**
 * The persistent heap (servers/pmem/heap.ts): blocks are
 * reused once freed; a seeded random churn of small and page-sized blocks
 * gives every byte back; an allocation that cannot be served throws
 * E_NO_MEMORY and leaves every byte of the heap as it was; a heap attached
 * from a copy of its bytes sees the same roots, seed and figures, and a
 * memory object that holds no heap is refused with a code.
 *
 * Run: `deno test tests/pmem/heap_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import { Prng } from "../../kernel/abi/prng.ts";
import { HEAP_ROOTS, PersistentHeap, SIZE_CLASSES } from "../../servers/pmem/heap.ts";

/** A zeroed memory object of `pages` pages. */
function memory(pages: number): PersistentMemory {
  return new PersistentMemory(allocatePmoBuffers(1, pages));
}

/** A memory object holding a copy of `mem`'s bytes (what a resume maps). */
function copyOf(mem: PersistentMemory): PersistentMemory {
  const data = new SharedArrayBuffer(mem.byteLength);
  new Uint8Array(data).set(mem.bytes);
  return new PersistentMemory(allocatePmoBuffers(2, mem.pageCount, data));
}

Deno.test("heap: a freed block is reused, small and page-sized alike", () => {
  const heap = PersistentHeap.format(memory(64), 7);
  const start = heap.usedBytes();
  const a = heap.alloc(100);
  assert.equal(heap.sizeOf(a), 112);
  assert.equal(a % 8, 0);
  assert.equal(heap.usedBytes(), start + 112);
  heap.free(a);
  assert.equal(heap.usedBytes(), start);
  assert.equal(heap.alloc(100), a);
  const big = heap.alloc(10_000);
  assert.equal(heap.sizeOf(big), 3 * 4096);
  heap.free(big);
  assert.equal(heap.alloc(9_000), big);
});

Deno.test("heap: freed neighbouring extents coalesce into one", () => {
  const heap = PersistentHeap.format(memory(64), 7);
  const [a, b, c] = [heap.alloc(3 * 4096), heap.alloc(3 * 4096), heap.alloc(3 * 4096)];
  assert.deepEqual([b - a, c - b], [3 * 4096, 3 * 4096]);
  heap.free(a);
  heap.free(c);
  heap.free(b); // merges with both neighbours
  const all = heap.alloc(heap.freePages() * 4096);
  assert.equal(all, a);
  heap.free(all);
  assert.equal(heap.alloc(9 * 4096), a);
});

Deno.test("heap: a seeded random churn gives every byte back and runs on in a fixed heap", () => {
  const seed = 0x5eed;
  console.log(`heap churn seed ${seed}`);
  const random = new Prng(seed);
  const heap = PersistentHeap.format(memory(256), seed);
  const start = heap.usedBytes();
  const live: number[] = [];
  let liveBytes = 0;
  const budget = heap.capacityBytes() / 4;
  for (let op = 0; op < 30_000; op++) {
    if (live.length > 0 && (liveBytes > budget || random.int(0, 1) === 0)) {
      const i = random.int(0, live.length - 1);
      liveBytes -= heap.sizeOf(live[i]);
      heap.free(live[i]);
      live[i] = live[live.length - 1];
      live.pop();
    } else {
      const bytes = random.int(0, 9) === 0 ? random.int(2049, 20_000) : random.int(1, 2048);
      const a = heap.alloc(bytes);
      assert.ok(heap.sizeOf(a) >= bytes, `op ${op}: ${heap.sizeOf(a)} < ${bytes}`);
      live.push(a);
      liveBytes += heap.sizeOf(a);
    }
    assert.equal(heap.usedBytes(), start + liveBytes, `op ${op}`);
    if (op % 1000 === 0) heap.check();
  }
  heap.check();
  for (const a of live) heap.free(a);
  assert.equal(heap.usedBytes(), start);
  // The pages came back, bar the runs a class keeps (at most two pages' worth of free blocks),
  // and they serve page-sized blocks again.
  assert.ok(heap.freePages() >= heap.dataPages() - 2 * SIZE_CLASSES, `${heap.freePages()} free`);
  const pages: number[] = [];
  while (pages.length < heap.freePages() + pages.length && heap.freePages() > 0) {
    pages.push(heap.alloc(4096));
  }
  assert.ok(pages.length >= heap.dataPages() - 2 * SIZE_CLASSES);
  for (const a of pages) heap.free(a);
  assert.equal(heap.usedBytes(), start);
});

Deno.test("heap: an allocation that cannot be served throws E_NO_MEMORY and changes no byte", () => {
  const mem = memory(32);
  const heap = PersistentHeap.format(mem, 1);
  const blocks: number[] = [];
  for (;;) { // fill it with 64-byte blocks
    try {
      blocks.push(heap.alloc(64));
    } catch (e) {
      assert.ok(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY);
      break;
    }
  }
  heap.free(blocks.pop()!);
  heap.alloc(64); // the last free one
  const before = mem.bytes.slice();
  for (const bytes of [64, 16, 5000, 1 << 20]) {
    assert.throws(() => heap.alloc(bytes), (e: unknown) => {
      assert.ok(e instanceof TardigradeError);
      assert.equal(e.code, Err.E_NO_MEMORY);
      assert.match(e.message, new RegExp(`asked for ${bytes} bytes; \\d+ of \\d+ bytes are free`));
      return true;
    });
    assert.deepEqual(mem.bytes, before, `alloc(${bytes}) changed the heap`);
  }
});

Deno.test("heap: attached from a copy of its bytes it has the same roots, seed and figures", () => {
  const mem = memory(64);
  const heap = PersistentHeap.format(mem, 0xabcdef);
  const blocks = [heap.alloc(40), heap.alloc(5000)];
  for (let i = 0; i < HEAP_ROOTS; i++) heap.setRoot(i, 8 * (i + 1));
  heap.setRoot(3, blocks[0]);
  const again = PersistentHeap.attach(copyOf(mem));
  assert.equal(again.seed, 0xabcdef);
  assert.equal(again.usedBytes(), heap.usedBytes());
  assert.equal(again.capacityBytes(), 64 * 4096);
  for (let i = 0; i < HEAP_ROOTS; i++) {
    assert.equal(again.root(i), i === 3 ? blocks[0] : 8 * (i + 1));
  }
  assert.equal(again.sizeOf(blocks[1]), 8192);
  again.free(blocks[1]); // its free lists came along too
  assert.equal(again.alloc(5000), blocks[1]);
});

Deno.test("heap: a memory object without a heap, or of another layout version, is refused", () => {
  const mem = memory(16);
  assert.throws(() => PersistentHeap.attach(mem), (e: unknown) => {
    assert.ok(e instanceof TardigradeError && e.code === Err.E_IMAGE_CORRUPT);
    assert.match(e.message, /not a persistent heap.*--fresh/);
    return true;
  });
  PersistentHeap.format(mem, 1);
  mem.setU32(4, 99);
  assert.throws(() => PersistentHeap.attach(mem), (e: unknown) => {
    assert.ok(e instanceof TardigradeError && e.code === Err.E_IMAGE_VERSION);
    assert.match(e.message, /version 99/);
    return true;
  });
});
