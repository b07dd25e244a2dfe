/**
 * Persistent objects: allocation across size classes, bad requests,
 * persistent pointers and names across re-attach, quotas, two workers,
 * crashes at random writes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import {
  HeapWord,
  NAME_BYTES_MAX,
  OBJECT_BYTES_MAX,
  ObjectHeap,
  POINTER_BYTES,
  SIZE_CLASSES,
} from "../../servers/memory/objects.ts";
import { Prng, runSeed } from "./_prng.ts";
import { Crash, CrashingMemory } from "./_crash_memory.ts";
import type { HeapWorkerJob, HeapWorkerResult } from "./_heap_worker.ts";

function throwsCode(fn: () => unknown, code: Err, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TardigradeError, `${what}: not a TardigradeError: ${e}`);
    assert.equal(e.codeName, Err[code], `${what}: ${e.message}`);
    return true;
  });
}

function heapOf(pages: number, opts = {}): { heap: ObjectHeap; buffers: PmoBuffers } {
  const buffers = allocatePmoBuffers(1, pages);
  return { heap: ObjectHeap.format(new PersistentMemory(buffers), opts), buffers };
}

/** A new mapping of the same data buffer, as after a resume. */
function reattach(buffers: PmoBuffers): ObjectHeap {
  return ObjectHeap.attach(new PersistentMemory(buffers));
}

const bytesOf = (n: number, v: number) => new Uint8Array(n).fill(v);

Deno.test("objects of every size class and large ones: disjoint, resolvable, freed back to pages", () => {
  const { heap } = heapOf(1024);
  const total = heap.pages.freePages();
  const sizes = [
    1,
    15,
    16,
    17,
    31,
    32,
    33,
    ...SIZE_CLASSES,
    2049,
    4096,
    4097,
    12_345,
    OBJECT_BYTES_MAX,
  ];
  const refs: number[] = [];
  const spans: Array<[number, number]> = [];
  for (const [i, size] of sizes.entries()) {
    const ref = heap.alloc(size, 1);
    refs.push(ref);
    assert.equal(heap.sizeOf(ref), size);
    assert.equal(heap.ownerOf(ref), 1);
    const at = heap.resolveRef(ref, 0);
    assert.equal(heap.resolveRef(ref, size - 1), at + size - 1);
    assert.ok(at >= heap.dataByte && at + size <= heap.mem.byteLength);
    spans.push([at, at + size]);
    heap.write(ref, 0, bytesOf(size, i + 1));
    assert.match(heap.idOf(ref), /^[0-9a-f]{32}$/);
    assert.equal(heap.refOf(heap.idOf(ref)), ref);
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i - 1][1] <= spans[i][0], "objects overlap");
  }
  for (const [i, ref] of refs.entries()) {
    assert.ok(heap.view(ref).every((b) => b === i + 1), `object ${i} was overwritten`);
  }
  heap.check();
  assert.equal(heap.stats().liveObjects, sizes.length);
  for (const ref of refs) heap.free(ref, 1);
  heap.check();
  assert.equal(heap.stats().liveObjects, 0);
  // Empty slabs stay only as their owner's current slab; everything else went back.
  assert.equal(heap.pages.freePages() + heap.stats().slabPages, total);
  assert.equal(heap.usage(1).usedPages, heap.stats().slabPages);
});

Deno.test("bad requests get their named error codes", () => {
  const { heap } = heapOf(256, { maxObjects: 50 });
  const badSizes: unknown[] = [
    0,
    -1,
    -32,
    1.5,
    NaN,
    Infinity,
    -Infinity,
    OBJECT_BYTES_MAX + 1,
    2 ** 31,
    2 ** 53,
    "32",
    null,
    undefined,
  ];
  for (const size of badSizes) {
    throwsCode(() => heap.alloc(size as number, 1), Err.E_BAD_ARGUMENT, `alloc(${String(size)})`);
    throwsCode(
      () => heap.create("x", size as number, 1),
      Err.E_BAD_ARGUMENT,
      `create size ${String(size)}`,
    );
  }
  for (const owner of [-1, 1.5, NaN, 2 ** 32, 0xffffffff]) {
    throwsCode(() => heap.alloc(8, owner), Err.E_BAD_ARGUMENT, `owner ${owner}`);
    throwsCode(() => heap.setQuota(owner, 1), Err.E_BAD_ARGUMENT, `setQuota owner ${owner}`);
  }
  throwsCode(() => heap.setQuota(1, -1), Err.E_BAD_ARGUMENT, "negative quota");
  throwsCode(() => heap.setQuota(1, 2.5), Err.E_BAD_ARGUMENT, "fractional quota");
  const ref = heap.alloc(32, 7);
  throwsCode(() => heap.free(ref, 8), Err.E_NOT_OWNER, "free by a non-owner");
  throwsCode(() => heap.free(ref, -3), Err.E_BAD_ARGUMENT, "free with a bad owner id");
  heap.free(ref, 7);
  throwsCode(() => heap.free(ref, 7), Err.E_DOUBLE_FREE, "double free");
  throwsCode(() => heap.free(ref, 8), Err.E_DOUBLE_FREE, "double free by someone else");
  throwsCode(() => heap.resolveRef(ref), Err.E_NOT_FOUND, "resolve of a freed ref");
  const again = heap.alloc(32, 7); // reuses the slot with a new generation
  assert.notEqual(again, ref);
  throwsCode(() => heap.free(ref, 7), Err.E_DOUBLE_FREE, "stale ref after reuse");
  throwsCode(() => heap.free(12345, 7), Err.E_NOT_FOUND, "never-allocated slot");
  throwsCode(() => heap.free(again + 2 ** 28 * 5, 7), Err.E_NOT_FOUND, "future generation");
  throwsCode(() => heap.free(-1, 7), Err.E_BAD_ARGUMENT, "negative ref");
  throwsCode(() => heap.free(0.5, 7), Err.E_BAD_ARGUMENT, "fractional ref");
  throwsCode(() => heap.resolveRef(again, 32), Err.E_BAD_ARGUMENT, "offset == size");
  throwsCode(() => heap.resolveRef(again, -1), Err.E_BAD_ARGUMENT, "negative offset");
  throwsCode(() => heap.write(again, 30, bytesOf(3, 1)), Err.E_BAD_ARGUMENT, "write past the end");
  throwsCode(() => heap.refOf("zz"), Err.E_BAD_ARGUMENT, "malformed id");
  throwsCode(() => heap.refOf("0".repeat(32)), Err.E_NOT_FOUND, "foreign id");
  // Object table full.
  const many: number[] = [];
  for (let i = 0; i < 49; i++) many.push(heap.alloc(16, 1));
  throwsCode(() => heap.alloc(16, 1), Err.E_LIMIT, "object table full");
  for (const r of many) heap.free(r, 1);
  heap.free(again, 7);
  heap.check();
  throwsCode(
    () => ObjectHeap.attach(new PersistentMemory(allocatePmoBuffers(2, 4))),
    Err.E_NOT_FOUND,
    "attach to an unformatted PMO",
  );
  throwsCode(
    () => ObjectHeap.format(new PersistentMemory(allocatePmoBuffers(2, 4))),
    Err.E_BAD_ARGUMENT,
    "format a PMO too small",
  );
});

Deno.test("persistent pointers resolve after re-attach, across handles, and die with their object", () => {
  const { heap, buffers } = heapOf(512);
  const a = heap.alloc(100, 1);
  const b = heap.alloc(5000, 1);
  heap.write(a, 40, new TextEncoder().encode("hello"));
  const p = heap.pointer(a, 40);
  assert.equal(p.length, POINTER_BYTES);
  const q = heap.pointer(b, 4999);
  // A pointer stored inside another object.
  const holder = heap.alloc(POINTER_BYTES * 2, 2);
  heap.storePointer(heap.resolveRef(holder, 0), a, 40);
  heap.storePointer(heap.resolveRef(holder, POINTER_BYTES), b, 4999);
  const at = heap.resolve(p);
  const atB = heap.resolve(q);

  const resumed = reattach(buffers); // a new mapping of the same buffer: a resume
  assert.equal(resumed.resolve(p), at);
  assert.equal(resumed.resolve(q), atB);
  const h = resumed.resolveRef(resumed.refOf(heap.idOf(holder)), 0);
  assert.equal(resumed.resolveAt(h), at);
  assert.equal(resumed.resolveAt(h + POINTER_BYTES), atB);
  assert.equal(new TextDecoder().decode(resumed.mem.read(resumed.resolve(p), 5)), "hello");
  const other = ObjectHeap.attach(new PersistentMemory(buffers), { worker: 5 });
  assert.equal(other.resolve(p), at);

  // Offset past the end, crafted by hand.
  const bad = p.slice();
  new DataView(bad.buffer).setUint32(16, 100, true);
  throwsCode(() => resumed.resolve(bad), Err.E_BAD_ARGUMENT, "pointer offset == size");
  throwsCode(() => heap.pointer(a, 100), Err.E_BAD_ARGUMENT, "pointer(offset == size)");
  throwsCode(() => resumed.resolve(p.subarray(0, 10)), Err.E_BAD_ARGUMENT, "short pointer");
  // Freed: the generation moved on.
  resumed.free(a, 1);
  throwsCode(() => resumed.resolve(p), Err.E_NOT_FOUND, "pointer to a freed object");
  throwsCode(() => heap.resolveAt(h), Err.E_NOT_FOUND, "stored pointer to a freed object");
  const a2 = resumed.alloc(100, 1); // same slot again, new generation
  throwsCode(() => heap.resolve(p), Err.E_NOT_FOUND, "old pointer after the slot is reused");
  assert.notEqual(heap.idOf(a2), "");
  // Another heap's pointer.
  const { heap: foreign } = heapOf(128);
  throwsCode(() => foreign.resolve(q), Err.E_NOT_FOUND, "pointer into another heap");
  resumed.check();
});

Deno.test("names: create, open, delete, limits, and found again after re-attach", () => {
  const { heap, buffers } = heapOf(512, { nameCapacity: 16 });
  const cfg = heap.create("config", 64, 3);
  heap.write(cfg, 0, bytesOf(64, 9));
  const big = heap.create("καλημέρα/log", 20_000, 3);
  assert.equal(heap.open("config"), cfg);
  throwsCode(() => heap.create("config", 8, 3), Err.E_EXISTS, "name taken");
  throwsCode(() => heap.open("missing"), Err.E_NOT_FOUND, "unknown name");
  throwsCode(() => heap.delete("missing", 3), Err.E_NOT_FOUND, "delete unknown");
  throwsCode(() => heap.create("", 8, 3), Err.E_BAD_ARGUMENT, "empty name");
  throwsCode(() => heap.open(""), Err.E_BAD_ARGUMENT, "open empty name");
  const max = "n".repeat(NAME_BYTES_MAX);
  heap.create(max, 8, 3);
  throwsCode(() => heap.create(max + "n", 8, 3), Err.E_BAD_ARGUMENT, "65-byte name");
  throwsCode(
    () => heap.create("é".repeat(33), 8, 3),
    Err.E_BAD_ARGUMENT,
    "66 bytes of UTF-8 in 33 chars",
  );
  throwsCode(
    () => heap.create(42 as unknown as string, 8, 3),
    Err.E_BAD_ARGUMENT,
    "non-string name",
  );
  throwsCode(() => heap.delete("config", 4), Err.E_NOT_OWNER, "delete by a non-owner");

  const resumed = reattach(buffers);
  assert.equal(resumed.open("config"), cfg);
  assert.equal(resumed.open("καλημέρα/log"), big);
  assert.equal(resumed.open(max), heap.open(max));
  assert.ok(resumed.view(resumed.open("config")).every((b) => b === 9));
  assert.deepEqual(resumed.listNames().sort(), ["config", max, "καλημέρα/log"].sort());
  resumed.delete("config", 3);
  throwsCode(() => resumed.open("config"), Err.E_NOT_FOUND, "deleted name");
  throwsCode(() => resumed.resolveRef(cfg), Err.E_NOT_FOUND, "object of a deleted name");
  // Freeing a named object by ref drops its name too.
  resumed.free(big, 3);
  throwsCode(() => resumed.open("καλημέρα/log"), Err.E_NOT_FOUND, "name of a freed object");
  // The name table fills up (capacity 16 keeps one entry empty).
  const made: string[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      resumed.create(`n${i}`, 8, 1);
      made.push(`n${i}`);
    }
    assert.fail("name table never filled");
  } catch (e) {
    assert.ok(e instanceof TardigradeError && e.code === Err.E_LIMIT, String(e));
  }
  assert.equal(made.length, 14);
  for (const n of made) resumed.delete(n, 1);
  resumed.create("config", 8, 1); // reuses a tombstone
  resumed.check();
});

Deno.test("quotas: exhausting one owner's quota leaves the others allocating", () => {
  const { heap } = heapOf(512);
  heap.setQuota(10, 3);
  const mine: number[] = [];
  try {
    for (;;) mine.push(heap.alloc(100, 10));
  } catch (e) {
    assert.ok(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY, String(e));
    assert.equal(e.detail.owner, 10);
  }
  assert.equal(mine.length, 3 * 36, "three slab pages of 112-byte slots");
  assert.deepEqual(heap.usage(10), { usedPages: 3, quotaPages: 3 });
  throwsCode(() => heap.alloc(5000, 10), Err.E_NO_MEMORY, "large object over quota");
  throwsCode(() => heap.create("q", 100, 10), Err.E_NO_MEMORY, "named object over quota");
  // Other owners are unaffected.
  const theirs = Array.from({ length: 200 }, () => heap.alloc(100, 11));
  heap.alloc(60_000, 12);
  assert.equal(heap.usage(12).usedPages, 15);
  // A smaller class needs a new slab page: also refused.
  throwsCode(() => heap.alloc(16, 10), Err.E_NO_MEMORY, "new slab over quota");
  // Freeing makes room again; raising the quota too.
  for (const r of mine.slice(0, 36)) heap.free(r, 10); // the first slab, emptied
  assert.equal(heap.usage(10).usedPages, 2);
  heap.alloc(16, 10);
  heap.setQuota(10, Infinity);
  heap.alloc(5000, 10);
  for (const r of theirs) heap.free(r, 11);
  heap.check();
});

Deno.test("random alloc/free/create/delete against a model, with checks and a re-attach", () => {
  const seed = 4242;
  const rnd = new Prng(seed);
  const { heap, buffers } = heapOf(2048, { nameCapacity: 256 });
  const live = new Map<number, { size: number; owner: number; fill: number }>();
  const names = new Map<string, number>();
  let h = heap;
  for (let i = 0; i < 30_000; i++) {
    const r = rnd.float();
    const owner = 1 + rnd.int(3);
    try {
      if (r < 0.5 || live.size === 0) {
        const size = rnd.float() < 0.9 ? 1 + rnd.int(300) : 1 + rnd.int(30_000);
        const ref = h.alloc(size, owner);
        assert.ok(!live.has(ref));
        const fill = i & 0xff;
        h.write(ref, 0, bytesOf(size, fill));
        live.set(ref, { size, owner, fill });
      } else if (r < 0.9) {
        const k = [...live.keys()][rnd.int(live.size)];
        const o = live.get(k)!;
        const v = h.view(k);
        assert.ok(v.length === o.size && v[0] === o.fill && v[o.size - 1] === o.fill, "content");
        h.free(k, o.owner);
        live.delete(k);
        for (const [n, ref] of names) if (ref === k) names.delete(n);
      } else if (r < 0.96) {
        const name = `obj-${rnd.int(200)}`;
        if (names.has(name)) {
          throwsCode(() => h.create(name, 8, owner), Err.E_EXISTS, "model name");
        } else {
          const ref = h.create(name, 8, owner);
          h.write(ref, 0, bytesOf(8, 7));
          names.set(name, ref);
          live.set(ref, { size: 8, owner, fill: 7 });
        }
      } else if (names.size > 0) {
        const name = [...names.keys()][rnd.int(names.size)];
        const ref = names.get(name)!;
        h.delete(name, live.get(ref)!.owner);
        names.delete(name);
        live.delete(ref);
      }
    } catch (e) {
      if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
    }
    if (i % 5000 === 0) h.check();
    if (i === 15_000) h = reattach(buffers);
  }
  h.check();
  assert.equal(h.stats().liveObjects, live.size);
  assert.equal(h.stats().names, names.size);
  for (const [n, ref] of names) assert.equal(h.open(n), ref);
  for (const [ref, o] of live) h.free(ref, o.owner);
  h.check();
  assert.equal(h.stats().liveObjects, 0);
  assert.equal(h.stats().names, 0);
});

Deno.test("two workers allocate and free in one heap at once", async () => {
  const buffers = allocatePmoBuffers(1, 4096);
  const heap = ObjectHeap.format(new PersistentMemory(buffers));
  const go = new SharedArrayBuffer(4);
  const workers = [1, 2].map((w) => {
    const worker = new Worker(new URL("./_heap_worker.ts", import.meta.url), { type: "module" });
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = new Promise<HeapWorkerResult>((resolve, reject) => {
      worker.onmessage = (ev) => ev.data?.ready ? ready() : resolve(ev.data);
      worker.onerror = (ev) => {
        ev.preventDefault();
        reject(new Error(ev.message));
      };
    });
    const job: HeapWorkerJob = {
      buffers,
      worker: w,
      owner: 100 + w,
      seed: 77 + w,
      ops: 20_000,
      go,
    };
    worker.postMessage(job);
    return { worker, isReady, done };
  });
  try {
    await Promise.all(workers.map((w) => w.isReady));
    Atomics.store(new Int32Array(go), 0, 1);
    Atomics.notify(new Int32Array(go), 0);
    const results = await Promise.all(workers.map((w) => w.done));
    heap.check();
    let alive = 0;
    for (const [i, r] of results.entries()) {
      assert.deepEqual(r.errors, [], `worker ${i + 1}`);
      assert.ok(r.allocs > 5000);
      for (const o of r.alive) {
        const ref = heap.refOf(o.id);
        const v = heap.view(ref);
        assert.ok(v.length === o.size && v.every((b) => b === o.fill), `object ${o.id}`);
        assert.equal(heap.ownerOf(ref), 101 + i);
        heap.free(ref, 101 + i);
        alive++;
      }
    }
    assert.ok(alive > 0);
    heap.check();
    assert.equal(heap.stats().liveObjects, 0);
  } finally {
    for (const w of workers) w.worker.terminate();
  }
});

Deno.test("derived state lost (bitmaps, lists, usage, free slots): recover() rebuilds it from the table", () => {
  const { heap, buffers } = heapOf(1024);
  const rnd = new Prng(99);
  const live = new Map<number, number>();
  for (let i = 0; i < 6000; i++) {
    if (live.size > 0 && rnd.float() < 0.4) {
      const k = [...live.keys()][rnd.int(live.size)];
      heap.free(k, live.get(k)!);
      live.delete(k);
    } else {
      const owner = 1 + rnd.int(2);
      live.set(heap.alloc(1 + rnd.int(rnd.float() < 0.95 ? 500 : 9000), owner), owner);
    }
  }
  const used = [heap.usage(1).usedPages, heap.usage(2).usedPages];
  const m = heap.mem;
  const w = m.words;
  // Wipe descriptor bitmaps, list links and flags; owner usage, current slabs and
  // lists (keeping each record's key and quota); the free-slot list head.
  const desc = w[HeapWord.DESC_BYTE] >> 2;
  for (let p = 0; p < heap.dataPages; p++) m.fill((desc + p * 16 + 3) << 2, 13 * 4, 0);
  const owners = w[HeapWord.OWNERS_BYTE] >> 2;
  for (let i = 0; i < w[HeapWord.OWNER_CAPACITY]; i++) {
    m.fill((owners + i * 40 + 2) << 2, 38 * 4, 0);
  }
  m.setU32(HeapWord.FREE_SLOT << 2, 0);
  const h = reattach(buffers);
  const r = h.recover();
  h.check();
  assert.ok(r.pagesReclaimed >= 0);
  assert.deepEqual([h.usage(1).usedPages, h.usage(2).usedPages], used);
  for (const [ref, owner] of live) assert.equal(h.ownerOf(ref), owner);
  for (const [ref, owner] of live) h.free(ref, owner);
  h.check();
  assert.equal(h.stats().liveObjects, 0);
});

// ---------------------------------------------------------------------------
// Crashes at a random write
// ---------------------------------------------------------------------------

type Op =
  | { kind: "alloc" }
  | { kind: "free"; ref: number }
  | { kind: "create"; name: string }
  | { kind: "delete"; name: string; ref: number }
  | { kind: "write"; ref: number }
  | { kind: "none" };

function heapCrashRun(seed: number): void {
  const rnd = new Prng(seed);
  const buffers = allocatePmoBuffers(1, 160);
  const cm = new CrashingMemory(buffers);
  const heap = ObjectHeap.format(cm, { maxObjects: 4000, nameCapacity: 64, ownerCapacity: 8 });
  heap.setQuota(2, 25);
  type Obj = {
    size: number;
    owner: number;
    fill: number;
    written: boolean;
    addr: number;
    id: string;
  };
  const live = new Map<number, Obj>();
  const names = new Map<string, number>();
  let op: Op = { kind: "none" };
  const warm = rnd.int(3000);
  const pickRef = () => [...live.keys()][rnd.int(live.size)];
  try {
    for (let i = 0;; i++) {
      if (i === warm) cm.budget = rnd.int(2500);
      if (i > warm + 10_000) break;
      const r = rnd.float();
      const owner = 1 + rnd.int(3);
      op = { kind: "none" };
      try {
        if (r < 0.45 || live.size === 0) {
          const size = rnd.float() < 0.85 ? 1 + rnd.int(200) : 1 + rnd.int(20_000);
          op = { kind: "alloc" };
          const ref = heap.alloc(size, owner);
          const o = {
            size,
            owner,
            fill: 1 + rnd.int(250),
            written: false,
            addr: heap.resolveRef(ref),
            id: heap.idOf(ref),
          };
          live.set(ref, o);
          op = { kind: "write", ref };
          heap.write(ref, 0, bytesOf(size, o.fill));
          o.written = true;
        } else if (r < 0.85) {
          const ref = pickRef();
          op = { kind: "free", ref };
          heap.free(ref, live.get(ref)!.owner);
          live.delete(ref);
          for (const [n, x] of names) if (x === ref) names.delete(n);
        } else if (r < 0.93) {
          const name = `k${rnd.int(40)}`;
          if (names.has(name)) continue;
          op = { kind: "create", name };
          const ref = heap.create(name, 16, owner);
          live.set(ref, {
            size: 16,
            owner,
            fill: 0,
            written: false,
            addr: heap.resolveRef(ref),
            id: heap.idOf(ref),
          });
          names.set(name, ref);
        } else if (names.size > 0) {
          const name = [...names.keys()][rnd.int(names.size)];
          const ref = names.get(name)!;
          op = { kind: "delete", name, ref };
          heap.delete(name, live.get(ref)!.owner);
          names.delete(name);
          live.delete(ref);
        }
      } catch (e) {
        if (
          e instanceof TardigradeError && (e.code === Err.E_NO_MEMORY || e.code === Err.E_LIMIT)
        ) {
          continue;
        }
        throw e;
      }
    }
  } catch (e) {
    if (!(e instanceof Crash)) throw e;
  }
  assert.ok(cm.crashed, `seed ${seed}: never crashed`);

  const h = reattach(buffers);
  h.recover();
  h.check();
  const cut = op;
  const cutRef = cut.kind === "free" || cut.kind === "delete" ? cut.ref : -1;
  for (const [ref, o] of live) {
    if (ref === cutRef) {
      // The operation cut short may or may not have happened.
      try {
        h.resolveRef(ref);
      } catch (e) {
        assert.ok(e instanceof TardigradeError && e.code === Err.E_NOT_FOUND, String(e));
      }
      continue;
    }
    assert.equal(h.resolveRef(ref), o.addr, `seed ${seed}: object ${o.id} moved or vanished`);
    assert.equal(h.sizeOf(ref), o.size);
    assert.equal(h.ownerOf(ref), o.owner);
    assert.equal(h.idOf(ref), o.id);
    if (o.written) {
      const v = h.view(ref);
      assert.ok(
        v[0] === o.fill && v[o.size - 1] === o.fill,
        `seed ${seed}: object ${o.id} contents`,
      );
    }
  }
  // Only the cut operation may have left one object or name the model does not know.
  const extra = h.stats().liveObjects - live.size;
  assert.ok(
    extra >= (cutRef >= 0 ? -1 : 0) &&
      extra <= (cut.kind === "alloc" || cut.kind === "create" ? 1 : 0),
    `seed ${seed}: ${extra} extra objects after ${JSON.stringify(cut)}`,
  );
  for (const [n, ref] of names) {
    if (ref === cutRef) continue; // its delete or free was cut short
    assert.equal(h.open(n), ref, `seed ${seed}: name ${n}`);
  }
  for (const n of h.listNames()) {
    assert.ok(
      names.has(n) || (cut.kind === "create" && cut.name === n),
      `seed ${seed}: unknown name ${n}`,
    );
  }
  // Life goes on: free everything known, allocate afresh, and nothing is lost.
  const named = new Set(names.values());
  for (const [ref, o] of live) if (ref !== cutRef && !named.has(ref)) h.free(ref, o.owner);
  for (const n of h.listNames()) h.delete(n, h.ownerOf(h.open(n)));
  if (cutRef >= 0 && !named.has(cutRef)) {
    try {
      h.free(cutRef, live.get(cutRef)!.owner);
    } catch (e) {
      assert.ok(e instanceof TardigradeError && e.code === Err.E_DOUBLE_FREE, String(e));
    }
  }
  h.check();
  // At most the object whose allocation was cut short (its ref never returned) remains.
  assert.ok(
    h.stats().liveObjects <= (cut.kind === "alloc" ? 1 : 0),
    `seed ${seed}: objects leaked`,
  );
  if (h.stats().liveObjects === 0) {
    assert.equal(
      h.pages.freePages() + h.stats().slabPages,
      h.dataPages,
      `seed ${seed}: pages leaked`,
    );
  }
  const more = Array.from({ length: 300 }, () => h.alloc(64, 1));
  h.check();
  for (const r of more) h.free(r, 1);
  h.check();
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, runSeed()]) {
  Deno.test(`object heap crash at a random write: recover() keeps every finished object (seed ${seed})`, () => {
    heapCrashRun(seed);
  });
}
