/**
 * Worker for objects_test.ts: allocates, writes, checks and frees objects of
 * a shared ObjectHeap (its own LLFree worker slot, the heap's writer lock per
 * call), then reports the objects it left alive with their contents.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { ObjectHeap } from "../../servers/memory/objects.ts";
import { Prng } from "./_prng.ts";

/** Start message. */
export interface HeapWorkerJob {
  buffers: PmoBuffers;
  worker: number;
  owner: number;
  seed: number;
  ops: number;
  go: SharedArrayBuffer;
}

/** Result message: errors, and the ids left alive with their first byte value. */
export interface HeapWorkerResult {
  errors: string[];
  allocs: number;
  alive: Array<{ id: string; size: number; fill: number }>;
}

self.onmessage = (ev: MessageEvent<HeapWorkerJob>) => {
  const job = ev.data;
  const errors: string[] = [];
  const res: HeapWorkerResult = { errors, allocs: 0, alive: [] };
  try {
    const heap = ObjectHeap.attach(new PersistentMemory(job.buffers), { worker: job.worker });
    const rnd = new Prng(job.seed);
    const held: Array<{ ref: number; size: number; fill: number }> = [];
    const buf = new Uint8Array(4096);
    const verify = (o: { ref: number; size: number; fill: number }) => {
      const v = heap.view(o.ref);
      if (v.length !== o.size || v[0] !== o.fill || v[o.size - 1] !== o.fill) {
        if (errors.length < 10) errors.push(`object ${heap.idOf(o.ref)} was overwritten`);
      }
    };
    self.postMessage({ ready: true });
    Atomics.wait(new Int32Array(job.go), 0, 0, 10_000);
    for (let i = 0; i < job.ops; i++) {
      if (held.length > 0 && rnd.float() < 0.45) {
        const j = rnd.int(held.length);
        const o = held[j];
        held[j] = held[held.length - 1];
        held.pop();
        verify(o);
        heap.free(o.ref, job.owner);
      } else {
        const size = 1 + (rnd.float() < 0.9 ? rnd.int(200) : rnd.int(4000));
        const ref = heap.alloc(size, job.owner);
        const fill = (job.worker * 37 + i) & 0xff;
        buf.fill(fill, 0, size);
        heap.write(ref, 0, buf.subarray(0, size));
        held.push({ ref, size, fill });
        res.allocs++;
      }
    }
    for (const o of held) {
      verify(o);
      res.alive.push({ id: heap.idOf(o.ref), size: o.size, fill: o.fill });
    }
    heap.pages.release();
  } catch (e) {
    errors.push(String(e instanceof Error ? e.stack : e));
  }
  self.postMessage(res);
};
