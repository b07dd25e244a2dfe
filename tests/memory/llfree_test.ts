/**
 * LLFree: allocation, huge frames, runs, bad requests, two real workers
 * against a model, crashes at random writes and corrupted counters.
 *
 * Seeds are in the test names; a run seed changes every run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import {
  FRAME_PAGES,
  LLFree,
  LLFreeHeader,
  LLFreeSlot,
  LLFreeTree,
  WORKER_SLOTS,
} from "../../servers/memory/llfree.ts";
import { Prng, runSeed } from "./_prng.ts";
import { Crash, CrashingMemory, snapshot } from "./_crash_memory.ts";
import type { LLFreeWorkerJob, LLFreeWorkerResult } from "./_llfree_worker.ts";

function buffersFor(pageCount: number): PmoBuffers {
  return allocatePmoBuffers(1, Math.ceil(LLFree.metadataBytes(pageCount) / PAGE_BYTES));
}

function fresh(pageCount: number): { a: LLFree; buffers: PmoBuffers; mem: PersistentMemory } {
  const buffers = buffersFor(pageCount);
  const mem = new PersistentMemory(buffers);
  return { a: LLFree.format(mem, pageCount), buffers, mem };
}

function throwsCode(fn: () => unknown, code: Err, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TardigradeError, `${what}: not a TardigradeError: ${e}`);
    assert.equal(e.codeName, Err[code], `${what}: ${e.message}`);
    return true;
  });
}

/** Allocates every free page with alloc4k; returns them (all distinct, none allocated before). */
function drain(a: LLFree): number[] {
  const got: number[] = [];
  const seen = new Uint8Array(a.pageCount);
  for (;;) {
    let p: number;
    try {
      p = a.alloc4k();
    } catch (e) {
      if (e instanceof TardigradeError && e.code === Err.E_NO_MEMORY) break;
      throw e;
    }
    assert.ok(p >= 0 && p < a.pageCount, `page ${p} out of range`);
    assert.equal(seen[p], 0, `page ${p} handed out twice`);
    seen[p] = 1;
    got.push(p);
  }
  return got;
}

Deno.test("LLFree hands out every page once, then E_NO_MEMORY, and takes them all back", () => {
  const n = FRAME_PAGES * 3 + 100;
  const { a } = fresh(n);
  assert.equal(a.freePages(), n);
  a.check();
  const pages = drain(a);
  assert.equal(pages.length, n);
  assert.equal(a.freePages(), 0);
  a.check();
  throwsCode(() => a.alloc4k(), Err.E_NO_MEMORY, "alloc4k when full");
  throwsCode(() => a.alloc2m(), Err.E_NO_MEMORY, "alloc2m when full");
  for (const p of pages) a.free4k(p);
  assert.equal(a.freePages(), n);
  assert.equal(a.freePagesExact(), n);
  a.check();
});

Deno.test("LLFree huge frames: whole, aligned, never a partial or a used frame", () => {
  const n = FRAME_PAGES * 4 + 300; // 4 whole frames and a partial one
  const { a } = fresh(n);
  const small = a.alloc4k(); // makes one frame unusable for alloc2m
  const frames: number[] = [];
  for (;;) {
    try {
      frames.push(a.alloc2m());
    } catch (e) {
      assert.ok(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY);
      break;
    }
  }
  assert.equal(frames.length, 3);
  for (const f of frames) {
    assert.equal(f % FRAME_PAGES, 0);
    assert.notEqual(f >> 9, small >> 9);
    assert.ok(a.isAllocated(f + 17));
  }
  assert.equal(a.hugeFrames(), 3);
  a.check();
  assert.equal(a.freePages(), n - 1 - 3 * FRAME_PAGES);
  for (const f of frames) a.free2m(f);
  a.free4k(small);
  a.check();
  assert.equal(a.freePages(), n);
  // Now all four whole frames are free again.
  const again = [a.alloc2m(), a.alloc2m(), a.alloc2m(), a.alloc2m()];
  assert.equal(new Set(again).size, 4);
  throwsCode(() => a.alloc2m(), Err.E_NO_MEMORY, "fifth frame (only partial left)");
  for (const f of again) a.free2m(f);
  a.check();
});

Deno.test("LLFree runs of 2^order pages are aligned and disjoint; pages free one by one", () => {
  const { a } = fresh(FRAME_PAGES * 2);
  const taken = new Set<number>();
  const runs: Array<[number, number]> = [];
  for (let order = 1; order <= 5; order++) {
    for (let k = 0; k < 6; k++) {
      const p = a.allocOrder(order);
      assert.equal(p % (1 << order), 0, `order ${order} run at ${p} unaligned`);
      for (let i = 0; i < 1 << order; i++) {
        assert.ok(!taken.has(p + i), `page ${p + i} in two runs`);
        taken.add(p + i);
      }
      runs.push([p, order]);
    }
  }
  a.check();
  assert.equal(a.freePages(), FRAME_PAGES * 2 - taken.size);
  const [p5] = runs[runs.length - 1];
  for (let i = 0; i < 32; i++) a.free4k(p5 + i); // a run freed page by page
  for (const [p, order] of runs.slice(0, -1)) a.freeOrder(p, order);
  a.check();
  assert.equal(a.freePages(), FRAME_PAGES * 2);
});

Deno.test("LLFree bad requests get their named error codes", () => {
  const { a, mem } = fresh(FRAME_PAGES * 2 + 10);
  const n = a.pageCount;
  for (const bad of [-1, n, n + 1, 1.5, NaN, Infinity, 2 ** 40]) {
    throwsCode(() => a.free4k(bad), Err.E_BAD_ARGUMENT, `free4k(${bad})`);
    throwsCode(() => a.free2m(bad), Err.E_BAD_ARGUMENT, `free2m(${bad})`);
  }
  throwsCode(() => a.free4k(5), Err.E_DOUBLE_FREE, "free of a never-allocated page");
  const p = a.alloc4k();
  a.free4k(p);
  throwsCode(() => a.free4k(p), Err.E_DOUBLE_FREE, "double free4k");
  throwsCode(() => a.free2m(FRAME_PAGES + 1), Err.E_BAD_ARGUMENT, "unaligned free2m");
  throwsCode(() => a.free2m(FRAME_PAGES), Err.E_DOUBLE_FREE, "free2m of a free frame");
  const h = a.alloc2m();
  throwsCode(() => a.free4k(h + 3), Err.E_BAD_ARGUMENT, "free4k inside a huge frame");
  a.free2m(h);
  throwsCode(() => a.free2m(h), Err.E_DOUBLE_FREE, "double free2m");
  const q = a.alloc4k();
  throwsCode(() => a.free2m(q & ~(FRAME_PAGES - 1)), Err.E_BAD_ARGUMENT, "free2m of a 4k frame");
  a.free4k(q);
  throwsCode(() => a.allocOrder(6), Err.E_BAD_ARGUMENT, "allocOrder(6)");
  throwsCode(() => a.allocOrder(-1), Err.E_BAD_ARGUMENT, "allocOrder(-1)");
  const r = a.allocOrder(2);
  throwsCode(() => a.freeOrder(r + 1, 2), Err.E_BAD_ARGUMENT, "unaligned freeOrder");
  a.free4k(r + 1);
  throwsCode(() => a.freeOrder(r, 2), Err.E_BAD_ARGUMENT, "freeOrder of a partly freed run");
  a.free4k(r);
  a.free4k(r + 2);
  a.free4k(r + 3);
  throwsCode(() => a.freeOrder(r, 2), Err.E_DOUBLE_FREE, "freeOrder of a freed run");
  throwsCode(() => LLFree.attach(mem, WORKER_SLOTS), Err.E_BAD_ARGUMENT, "worker index too big");
  throwsCode(() => LLFree.attach(mem, -1), Err.E_BAD_ARGUMENT, "negative worker index");
  throwsCode(() => LLFree.attach(mem, 0, 64), Err.E_NOT_FOUND, "attach where nothing is");
  throwsCode(() => LLFree.format(mem, 0), Err.E_BAD_ARGUMENT, "format 0 pages");
  throwsCode(() => LLFree.format(mem, 1e9), Err.E_BAD_ARGUMENT, "format too many pages");
  throwsCode(() => LLFree.metadataBytes(-3), Err.E_BAD_ARGUMENT, "metadataBytes(-3)");
  a.check();
  assert.equal(a.freePages(), n);
});

Deno.test("LLFree handles: another worker frees my pages; release and re-attach adopt slots", () => {
  const { a, mem } = fresh(FRAME_PAGES * 40);
  const b = LLFree.attach(mem, 1);
  const pa = Array.from({ length: 700 }, () => a.alloc4k());
  const pb = Array.from({ length: 700 }, () => b.alloc4k());
  // Each reserved its own tree.
  assert.notEqual(pa[0] >> 14, pb[0] >> 14);
  a.check();
  for (const p of pa) b.free4k(p);
  a.check();
  // A re-attached handle for slot 1 continues with b's credits.
  const b2 = LLFree.attach(mem, 1);
  const p = b2.alloc4k();
  assert.ok(!pb.includes(p));
  a.check();
  b2.free4k(p);
  for (const q of pb) a.free4k(q);
  b2.release();
  a.release();
  a.check();
  assert.equal(a.freePages(), FRAME_PAGES * 40);
});

// ---------------------------------------------------------------------------
// Two real workers
// ---------------------------------------------------------------------------

function startWorker(job: LLFreeWorkerJob): {
  ready: Promise<void>;
  done: Promise<LLFreeWorkerResult>;
  worker: Worker;
} {
  const worker = new Worker(new URL("./_llfree_worker.ts", import.meta.url), { type: "module" });
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const done = new Promise<LLFreeWorkerResult>((resolve, reject) => {
    worker.onmessage = (ev) => {
      if (ev.data?.ready) readyResolve();
      else resolve(ev.data as LLFreeWorkerResult);
    };
    worker.onerror = (ev) => {
      ev.preventDefault();
      reject(new Error(`worker failed: ${ev.message}`));
    };
  });
  worker.postMessage(job);
  return { ready, done, worker };
}

/** Recovers a snapshot, checks it, allocates everything free and frees it again. */
function checkSnapshot(buffers: PmoBuffers, what: string): void {
  const a = LLFree.attach(new PersistentMemory(buffers), 0);
  a.recover();
  a.check();
  const free = a.freePages();
  assert.equal(free, a.freePagesExact(), `${what}: counters after recover`);
  const got = drain(a);
  assert.equal(got.length, free, `${what}: drained ${got.length} of ${free} free pages`);
  for (const p of got) a.free4k(p);
  a.check();
  assert.equal(a.freePages(), free, `${what}: free pages after drain and refill`);
}

const WORKER_CASES = [
  // 3 trees, a partial frame: each worker reserves its own tree.
  { name: "3 trees", pages: FRAME_PAGES * 70 + 77, holdMax: 12_000, seed: 0x5eed0001 },
  // One small tree, nearly full: both workers allocate from the same frames and words.
  { name: "1 crowded tree", pages: FRAME_PAGES * 6 + 33, holdMax: 1_700, seed: 0x5eed0002 },
];

for (const c of WORKER_CASES.flatMap((c) => [c, { ...c, seed: runSeed() }])) {
  const seed = c.seed;
  Deno.test(`LLFree two workers random alloc/free against a model, ${c.name}, snapshots recover (seed ${seed})`, async () => {
    const n = c.pages;
    const buffers = buffersFor(n);
    const a = LLFree.format(new PersistentMemory(buffers), n);
    const owners = new SharedArrayBuffer(n * 4);
    const go = new SharedArrayBuffer(4);
    const rnd = new Prng(seed);
    const jobs = [1, 2].map((w): LLFreeWorkerJob => ({
      buffers,
      worker: w,
      seed: rnd.next(),
      ops: 60_000,
      owners,
      hugeRate: 0.02,
      holdMax: c.holdMax,
      go,
    }));
    const ws = jobs.map(startWorker);
    try {
      await Promise.all(ws.map((w) => w.ready));
      Atomics.store(new Int32Array(go), 0, 1);
      Atomics.notify(new Int32Array(go), 0);
      // Snapshots of the data buffer at seeded moments while both run: unclean stops.
      const snaps: PmoBuffers[] = [];
      let finished = false;
      const all = Promise.all(ws.map((w) => w.done)).finally(() => (finished = true));
      while (!finished && snaps.length < 4) {
        await new Promise((r) => setTimeout(r, rnd.int(4)));
        if (!finished) snaps.push(snapshot(buffers));
      }
      const results = await all;
      for (const [i, r] of results.entries()) {
        assert.deepEqual(r.errors, [], `worker ${i + 1}: ${r.errors.join("; ")}`);
        assert.ok(r.allocs > 10_000, `worker ${i + 1} made only ${r.allocs} allocations`);
      }
      a.check();
      assert.equal(a.freePages(), n, "pages lost");
      assert.equal(a.freePagesExact(), n);
      assert.ok(new Int32Array(owners).every((v) => v === 0));
      for (const [i, s] of snaps.entries()) checkSnapshot(s, `snapshot ${i}`);
    } finally {
      for (const w of ws) w.worker.terminate();
    }
  });
}

// ---------------------------------------------------------------------------
// Crashes at a random write
// ---------------------------------------------------------------------------

type InFlight =
  | { kind: "alloc"; pages: number }
  | { kind: "free"; first: number; pages: number }
  | { kind: "none" };

function crashRun(seed: number): void {
  const rnd = new Prng(seed);
  const n = FRAME_PAGES * 36 + rnd.int(FRAME_PAGES); // 2 trees
  const buffers = buffersFor(n);
  const cm = new CrashingMemory(buffers);
  const hs = [LLFree.format(cm, n), LLFree.attach(cm, 1), LLFree.attach(cm, 2)];
  const small = new Set<number>();
  const huge = new Set<number>();
  const runs = new Map<number, number>(); // first page -> order
  const warm = rnd.int(4000);
  let inflight: InFlight = { kind: "none" };
  let ops = 0;
  const pick = <T>(s: Set<T> | Map<T, unknown>): T => {
    const k = rnd.int(s.size);
    let i = 0;
    for (const v of s.keys()) if (i++ === k) return v;
    throw new Error("empty");
  };
  try {
    for (;; ops++) {
      if (ops === warm) cm.budget = rnd.int(3000);
      if (ops > warm + 20_000) break;
      const h = hs[rnd.int(hs.length)];
      const r = rnd.float();
      inflight = { kind: "none" };
      try {
        if (r < 0.04) {
          inflight = { kind: "alloc", pages: FRAME_PAGES };
          huge.add(h.alloc2m());
        } else if (r < 0.08 && huge.size > 0) {
          const p = pick(huge);
          inflight = { kind: "free", first: p, pages: FRAME_PAGES };
          h.free2m(p);
          huge.delete(p);
        } else if (r < 0.12) {
          const order = 1 + rnd.int(4);
          inflight = { kind: "alloc", pages: 1 << order };
          runs.set(h.allocOrder(order), order);
        } else if (r < 0.16 && runs.size > 0) {
          const p = pick(runs);
          const order = runs.get(p)!;
          inflight = { kind: "free", first: p, pages: 1 << order };
          h.freeOrder(p, order);
          runs.delete(p);
        } else if (r < 0.6 || small.size === 0) {
          inflight = { kind: "alloc", pages: 1 };
          small.add(h.alloc4k());
        } else {
          const p = pick(small);
          inflight = { kind: "free", first: p, pages: 1 };
          h.free4k(p);
          small.delete(p);
        }
      } catch (e) {
        if (e instanceof TardigradeError && e.code === Err.E_NO_MEMORY) continue;
        throw e;
      }
    }
  } catch (e) {
    if (!(e instanceof Crash)) throw e;
  }
  assert.ok(cm.crashed, `seed ${seed}: never crashed`);
  // Power back: a new mapping of the same data buffer.
  const a = LLFree.attach(new PersistentMemory(buffers), 0);
  a.recover();
  a.check();
  const model = new Uint8Array(n);
  for (const p of small) model[p] = 1;
  for (const f of huge) model.fill(1, f, f + FRAME_PAGES);
  for (const [p, o] of runs) model.fill(1, p, p + (1 << o));
  let extra = 0;
  let missing = 0;
  for (let p = 0; p < n; p++) {
    const got = a.isAllocated(p);
    if (got && !model[p]) extra++;
    if (!got && model[p]) {
      const f = inflight.kind === "free" ? inflight : undefined;
      assert.ok(f && p >= f.first && p < f.first + f.pages, `seed ${seed}: page ${p} lost`);
      missing++;
    }
  }
  // Only the operation cut short may have left pages allocated the model does not know.
  const slack = inflight.kind === "alloc" ? inflight.pages : 0;
  assert.ok(
    extra <= slack,
    `seed ${seed}: ${extra} unknown pages allocated (in flight: ${JSON.stringify(inflight)})`,
  );
  assert.equal(
    a.freePages(),
    n -
      (small.size + huge.size * FRAME_PAGES +
        [...runs.values()].reduce((s, o) => s + (1 << o), 0)) -
      extra + missing,
  );
  // Allocation continues correctly: everything free can be taken, once, and given back.
  const free = a.freePages();
  const got = drain(a);
  assert.equal(got.length, free);
  for (const p of got) {
    const f = inflight.kind === "free" ? inflight : undefined;
    const wasFreeing = f !== undefined && p >= f.first && p < f.first + f.pages;
    assert.ok(!model[p] || wasFreeing, `seed ${seed}: page ${p} was still allocated`);
  }
  for (const p of got) a.free4k(p);
  a.check();
  assert.equal(a.freePages(), free);
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, runSeed()]) {
  Deno.test(`LLFree crash at a random write: recover() gives a consistent allocator (seed ${seed})`, () => {
    crashRun(seed);
  });
}

for (const seed of [101, 102, 103, runSeed()]) {
  Deno.test(`LLFree counters zeroed or garbled, bitfields kept: recover() rebuilds them (seed ${seed})`, () => {
    const rnd = new Prng(seed);
    const n = FRAME_PAGES * 70 + 5;
    const { a, mem, buffers } = fresh(n);
    const b = LLFree.attach(mem, 3);
    const held = new Set<number>();
    const huge: number[] = [];
    for (let i = 0; i < 30_000; i++) {
      const h = rnd.float() < 0.5 ? a : b;
      if (rnd.float() < 0.01 && huge.length < 12) huge.push(h.alloc2m());
      else if (held.size > 0 && rnd.float() < 0.4) {
        const p = held.values().next().value!;
        held.delete(p);
        h.free4k(p);
      } else held.add(h.alloc4k());
    }
    // Garble every counter: frame counts (not the HUGE truth), trees, slots.
    const w = mem.words;
    const frames = w[LLFreeHeader.FRAMES];
    const trees = w[LLFreeHeader.TREES];
    const slots = w[LLFreeHeader.SLOTS];
    const mode = rnd.int(2);
    for (let f = 0; f < a.frameCount; f++) {
      const huge = (w[frames + f] & (1 << 12)) !== 0;
      mem.setU32((frames + f) << 2, (huge ? 1 << 12 : 0) | (mode ? rnd.int(513) : 0));
    }
    for (let t = 0; t < a.treeCount; t++) {
      mem.setU32((trees + t * LLFreeTree.WORDS) << 2, mode ? rnd.int(20000) : 0);
      mem.setU32((trees + t * LLFreeTree.WORDS + LLFreeTree.RESERVED_BY) << 2, rnd.int(3));
    }
    for (let s = 0; s < 4; s++) {
      mem.setU32((slots + s * LLFreeSlot.WORDS + LLFreeSlot.CREDITS) << 2, rnd.int(100));
    }
    const fixed = LLFree.attach(new PersistentMemory(buffers), 0);
    const r = fixed.recover();
    assert.ok(r.framesFixed > 0 && r.treesFixed > 0, JSON.stringify(r));
    fixed.check();
    assert.equal(fixed.freePages(), n - held.size - huge.length * FRAME_PAGES);
    for (const p of held) assert.ok(fixed.isAllocated(p));
    for (const p of held) fixed.free4k(p);
    for (const f of huge) fixed.free2m(f);
    fixed.check();
    assert.equal(fixed.freePages(), n);
  });
}
