/**
 * Worker for the memory benchmark (tools/bench/memory.ts): runs one
 * page-frame throughput job at a time on a shared allocator — LLFree in a
 * PMO, or the naive spinlocked free list — and reports operations done.
 *
 * Protocol: the main thread posts a {@link FrameJob}; the worker attaches,
 * warms up, posts `{ ready: true }`, waits until word 0 of `go` becomes 1,
 * runs for `durationMs`, and posts a {@link FrameResult}.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { LLFree } from "../../servers/memory/llfree.ts";
import { NaiveAllocator } from "../../servers/memory/naive_allocator.ts";

/** One throughput job. */
export interface FrameJob {
  allocator: "llfree" | "naive";
  /** 4 KiB pages or 2 MiB frames. */
  unit: "4k" | "2m";
  /** LLFree: the PMO holding its metadata. */
  buffers?: PmoBuffers;
  /** Naive: its shared buffer. */
  naive?: SharedArrayBuffer;
  /** LLFree worker slot. */
  worker: number;
  /** Allocations per round; each round allocates this many, then frees them. */
  batch: number;
  warmupMs: number;
  durationMs: number;
  go: SharedArrayBuffer;
}

/** What a job measured: operations (each alloc and each free counts one) and time. */
export interface FrameResult {
  ops: number;
  ms: number;
  error?: string;
}

// Two copies of the loop, one per allocator class, so each stays monomorphic.

function roundsLLFree(
  a: LLFree,
  unit: string,
  held: Int32Array,
  batch: number,
  until: number,
): number {
  let ops = 0;
  do {
    if (unit === "4k") {
      for (let i = 0; i < batch; i++) held[i] = a.alloc4k();
      for (let i = 0; i < batch; i++) a.free4k(held[i]);
    } else {
      for (let i = 0; i < batch; i++) held[i] = a.alloc2m();
      for (let i = 0; i < batch; i++) a.free2m(held[i]);
    }
    ops += 2 * batch;
  } while (performance.now() < until);
  return ops;
}

function roundsNaive(
  a: NaiveAllocator,
  unit: string,
  held: Int32Array,
  batch: number,
  until: number,
): number {
  let ops = 0;
  do {
    if (unit === "4k") {
      for (let i = 0; i < batch; i++) held[i] = a.alloc4k();
      for (let i = 0; i < batch; i++) a.free4k(held[i]);
    } else {
      for (let i = 0; i < batch; i++) held[i] = a.alloc2m();
      for (let i = 0; i < batch; i++) a.free2m(held[i]);
    }
    ops += 2 * batch;
  } while (performance.now() < until);
  return ops;
}

self.onmessage = (ev: MessageEvent<FrameJob>) => {
  const job = ev.data;
  try {
    const held = new Int32Array(job.batch);
    let run: (until: number) => number;
    let done = () => {};
    if (job.allocator === "llfree") {
      const a = LLFree.attach(new PersistentMemory(job.buffers!), job.worker);
      run = (until) => roundsLLFree(a, job.unit, held, job.batch, until);
      done = () => a.release();
    } else {
      const a = NaiveAllocator.attach(job.naive!);
      run = (until) => roundsNaive(a, job.unit, held, job.batch, until);
    }
    run(performance.now() + job.warmupMs);
    self.postMessage({ ready: true });
    Atomics.wait(new Int32Array(job.go), 0, 0, 30_000);
    const t0 = performance.now();
    const ops = run(t0 + job.durationMs);
    const ms = performance.now() - t0;
    done();
    self.postMessage({ ops, ms } satisfies FrameResult);
  } catch (e) {
    self.postMessage({ ops: 0, ms: 0, error: String(e instanceof Error ? e.stack : e) });
  }
};
