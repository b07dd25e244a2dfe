/**
 * Memory-server benchmark: the persistent object heap and the LLFree
 * page-frame allocator against naive baselines, in the same run.
 *
 * - Objects: 2 million 32-byte allocations in one worker (200 000 with
 *   `quick`), one `alloc` call each: total time with the heap's writer lock
 *   held per batch of 1000 calls (`alloc_2m_objects_ms`) and taken by every
 *   call (`alloc_2m_objects_lock_per_call_ms`); per-allocation latency from
 *   the time of each batch of 1000 (median, p99); the naive heap (JS Map of
 *   string ids) as the baseline.
 * - Frames: 4 KiB and 2 MiB alloc+free throughput from 1 and 2 real Workers
 *   sharing the allocator's SharedArrayBuffer; each worker repeats "allocate
 *   a batch, free it", and every alloc and every free counts as one op.
 *
 * Run: `deno run -A tools/bench/memory.ts [--quick] [--json]`.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import { runBenchCli } from "./cli.ts";
import { type Dist, dist } from "./stats.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import { LLFree } from "../../servers/memory/llfree.ts";
import { NaiveAllocator, NaiveObjectHeap } from "../../servers/memory/naive_allocator.ts";
import { ObjectHeap } from "../../servers/memory/objects.ts";
import type { FrameJob, FrameResult } from "./memory_worker.ts";

/** Options of {@link benchMemory}. */
export interface MemoryBenchOptions {
  /** Smaller counts and shorter runs (a few seconds in all). */
  quick: boolean;
  /** No progress line (--json). */
  quiet?: boolean;
}

const OBJECT_BYTES = 32;
const BATCH = 1000;

function heapFor(n: number): ObjectHeap {
  const pages = Math.ceil((n * (OBJECT_BYTES + 16)) / PAGE_BYTES * 1.05) + 256;
  return ObjectHeap.format(new PersistentMemory(allocatePmoBuffers(1, pages)), {
    maxObjects: n + BATCH,
  });
}

/** Allocates n objects one call at a time; returns total ms and per-batch ms. */
function runPerCall(n: number): { ms: number; batches: Float64Array } {
  const heap = heapFor(n);
  const batches = new Float64Array(Math.floor(n / BATCH));
  const t0 = performance.now();
  for (let b = 0; b < batches.length; b++) {
    const s = performance.now();
    for (let i = 0; i < BATCH; i++) heap.alloc(OBJECT_BYTES, 1);
    batches[b] = performance.now() - s;
  }
  return { ms: performance.now() - t0, batches };
}

/** Allocates n objects, holding the writer lock for each batch of 1000 calls. */
function runBatched(n: number): { ms: number; batches: Float64Array } {
  const heap = heapFor(n);
  const batches = new Float64Array(Math.floor(n / BATCH));
  const t0 = performance.now();
  for (let b = 0; b < batches.length; b++) {
    const s = performance.now();
    heap.acquireWriter();
    for (let i = 0; i < BATCH; i++) heap.alloc(OBJECT_BYTES, 1);
    heap.releaseWriter();
    batches[b] = performance.now() - s;
  }
  return { ms: performance.now() - t0, batches };
}

function runNaive(n: number): { ms: number; batches: Float64Array } {
  const heap = new NaiveObjectHeap(Math.ceil((n * OBJECT_BYTES) / PAGE_BYTES / 512 + 2) * 512);
  const batches = new Float64Array(Math.floor(n / BATCH));
  const t0 = performance.now();
  for (let b = 0; b < batches.length; b++) {
    const s = performance.now();
    for (let i = 0; i < BATCH; i++) heap.alloc(OBJECT_BYTES, 1);
    batches[b] = performance.now() - s;
  }
  return { ms: performance.now() - t0, batches };
}

/** Median and p99 of the per-object time of `batches` (ms per BATCH objects), in ns. */
function latency(batches: Float64Array): Dist {
  const d = dist(batches);
  return { median: (d.median / BATCH) * 1e6, p99: (d.p99 / BATCH) * 1e6 };
}

function objectFigures(n: number): Record<string, number> {
  // Warm the JIT on small runs first.
  runPerCall(100_000);
  runBatched(100_000);
  runNaive(100_000);
  const perCall = runPerCall(n);
  const batched = runBatched(n);
  const naive = runNaive(n);
  const lat = latency(perCall.batches);
  const latB = latency(batched.batches);
  const latN = latency(naive.batches);
  return {
    alloc_2m_objects_ms: batched.ms,
    alloc_object_median_ns: latB.median,
    alloc_object_p99_ns: latB.p99,
    alloc_2m_objects_lock_per_call_ms: perCall.ms,
    alloc_object_lock_per_call_median_ns: lat.median,
    alloc_object_lock_per_call_p99_ns: lat.p99,
    naive_alloc_2m_objects_ms: naive.ms,
    naive_alloc_object_median_ns: latN.median,
    naive_alloc_object_p99_ns: latN.p99,
  };
}

// ---------------------------------------------------------------------------
// Frame throughput in workers
// ---------------------------------------------------------------------------

interface BenchWorker {
  worker: Worker;
  run(job: FrameJob): { ready: Promise<void>; done: Promise<FrameResult> };
}

function startWorker(): BenchWorker {
  const worker = new Worker(new URL("./memory_worker.ts", import.meta.url), { type: "module" });
  let onReady: () => void = () => {};
  let onDone: (r: FrameResult) => void = () => {};
  let onFail: (e: Error) => void = () => {};
  worker.onmessage = (ev) => {
    if (ev.data?.ready) onReady();
    else onDone(ev.data as FrameResult);
  };
  worker.onerror = (ev) => {
    ev.preventDefault();
    onFail(new Error(`memory_worker: ${ev.message}`));
  };
  return {
    worker,
    run(job) {
      const ready = new Promise<void>((r) => (onReady = r));
      const done = new Promise<FrameResult>((resolve, reject) => {
        onDone = resolve;
        onFail = reject;
      });
      worker.postMessage(job);
      return { ready, done };
    },
  };
}

async function throughput(
  workers: BenchWorker[],
  count: number,
  base: Omit<FrameJob, "worker" | "go">,
): Promise<number> {
  const go = new SharedArrayBuffer(4);
  const runs = workers.slice(0, count).map((w, i) => w.run({ ...base, worker: i + 1, go }));
  await Promise.all(runs.map((r) => r.ready));
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const results = await Promise.all(runs.map((r) => r.done));
  let opsPerS = 0;
  for (const r of results) {
    if (r.error) throw new Error(r.error);
    opsPerS += (r.ops / r.ms) * 1000;
  }
  return opsPerS;
}

async function frameFigures(
  quick: boolean,
  step: (line: string) => void,
): Promise<Record<string, number>> {
  const durationMs = quick ? 150 : 1000;
  const warmupMs = quick ? 50 : 200;
  const workers = [startWorker(), startWorker()];
  const figures: Record<string, number> = {};
  try {
    for (const unit of ["4k", "2m"] as const) {
      // 4 GiB of abstract pages for 4 KiB runs, 512 MiB (256 frames, 8 trees) for 2 MiB.
      const pages = unit === "4k" ? 1 << 20 : 256 * 512;
      const batch = unit === "4k" ? 64 : 4;
      for (const count of [1, 2]) {
        step(`frames of ${unit}, ${count} worker(s), LLFree then naive`);
        const bytes = LLFree.metadataBytes(pages);
        const buffers = allocatePmoBuffers(1, Math.ceil(bytes / PAGE_BYTES));
        const a = LLFree.format(new PersistentMemory(buffers), pages);
        figures[`frames_${unit}_ops_per_s_${count}w`] = await throughput(workers, count, {
          allocator: "llfree",
          unit,
          buffers,
          batch,
          warmupMs,
          durationMs,
        });
        a.check();
        if (a.freePages() !== pages) throw new Error(`LLFree lost pages in the ${unit} run`);
        const naive = NaiveAllocator.create(pages);
        figures[`naive_frames_${unit}_ops_per_s_${count}w`] = await throughput(workers, count, {
          allocator: "naive",
          unit,
          naive: naive.buffer,
          batch,
          warmupMs,
          durationMs,
        });
      }
    }
  } finally {
    for (const w of workers) w.worker.terminate();
  }
  return figures;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function fmt(v: number, unit: string): string {
  if (unit === "ops/s") return `${(v / 1e6).toFixed(2)} M/s`;
  if (unit === "ns") return `${v.toFixed(0)} ns`;
  return `${v.toFixed(1)} ms`;
}

/**
 * The report's rows for `n` objects, as data: label, figure, naive baseline
 * figure, unit, and whether higher is better.
 */
function reportRows(n: number): Array<[string, string, string, string, boolean]> {
  return [
    [
      `alloc ${n / 1e6}M objects (lock per 1000)`,
      "alloc_2m_objects_ms",
      "naive_alloc_2m_objects_ms",
      "ms",
      false,
    ],
    [
      "alloc latency median (lock per 1000)",
      "alloc_object_median_ns",
      "naive_alloc_object_median_ns",
      "ns",
      false,
    ],
    [
      "alloc latency p99 (lock per 1000)",
      "alloc_object_p99_ns",
      "naive_alloc_object_p99_ns",
      "ns",
      false,
    ],
    [
      `alloc ${n / 1e6}M objects (lock per call)`,
      "alloc_2m_objects_lock_per_call_ms",
      "naive_alloc_2m_objects_ms",
      "ms",
      false,
    ],
    [
      "alloc latency median (lock per call)",
      "alloc_object_lock_per_call_median_ns",
      "naive_alloc_object_median_ns",
      "ns",
      false,
    ],
    [
      "alloc latency p99 (lock per call)",
      "alloc_object_lock_per_call_p99_ns",
      "naive_alloc_object_p99_ns",
      "ns",
      false,
    ],
    [
      "4 KiB frames, 1 worker",
      "frames_4k_ops_per_s_1w",
      "naive_frames_4k_ops_per_s_1w",
      "ops/s",
      true,
    ],
    [
      "4 KiB frames, 2 workers",
      "frames_4k_ops_per_s_2w",
      "naive_frames_4k_ops_per_s_2w",
      "ops/s",
      true,
    ],
    [
      "2 MiB frames, 1 worker",
      "frames_2m_ops_per_s_1w",
      "naive_frames_2m_ops_per_s_1w",
      "ops/s",
      true,
    ],
    [
      "2 MiB frames, 2 workers",
      "frames_2m_ops_per_s_2w",
      "naive_frames_2m_ops_per_s_2w",
      "ops/s",
      true,
    ],
  ];
}

/**
 * Runs the memory benchmark; returns the figures (see the module doc) and a
 * human-readable table with the ratio to the naive baseline of each.
 */
export async function benchMemory(
  opts: MemoryBenchOptions,
): Promise<{ figures: Record<string, number>; report: string }> {
  const n = opts.quick ? 200_000 : 2_000_000;
  // Objects (one step, in this thread), then 4 KiB and 2 MiB frames in 1 and 2 workers.
  const bar = new Progress({ name: "bench memory", total: 5, quiet: opts.quiet });
  const step = bar.stepLog();
  step(`${n} objects, three heaps`);
  const figures: Record<string, number> = {
    ...objectFigures(n),
    ...(await frameFigures(opts.quick, step).finally(() => bar.end())),
  };
  const rows = reportRows(n);
  const lines = [
    `memory benchmark${opts.quick ? " (quick)" : ""}: tardigrade vs naive baseline`,
    `${"figure".padEnd(38)} ${"tardigrade".padStart(12)} ${"naive".padStart(12)} ${
      "speedup".padStart(8)
    }`,
  ];
  for (const [label, key, naiveKey, unit, higher] of rows) {
    const v = figures[key];
    const b = figures[naiveKey];
    const speedup = higher ? v / b : b / v;
    figures[`${key}_vs_naive`] = speedup;
    lines.push(
      `${label.padEnd(38)} ${fmt(v, unit).padStart(12)} ${fmt(b, unit).padStart(12)} ${
        (speedup.toFixed(2) + "x").padStart(8)
      }`,
    );
  }
  lines.push(
    "objects: 32 bytes each, one worker, one alloc() call each; the heap's writer lock is held",
    "  per batch of 1000 calls (acquireWriter) or taken by every call (2 atomics, the default);",
    "  latency = time of a batch of 1000 calls / 1000",
    "frames: each worker repeats alloc batch (64 pages / 4 frames) then frees it; op = one alloc or one free",
    "goals: 2M objects <= 200 ms; 4 KiB frames >= 20 M ops/s in 1 worker, no collapse in 2",
  );
  return { figures, report: lines.join("\n") };
}

if (import.meta.main) await runBenchCli(benchMemory);
