/**
 * Worker for llfree_test.ts: random alloc/free on a shared LLFree, checked
 * against a shared ownership array (one Int32 per page: 0 free, else the
 * worker's tag). Claiming a page that another holder still owns is a
 * double hand-out.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { FRAME_PAGES, LLFree } from "../../servers/memory/llfree.ts";
import { Prng } from "./_prng.ts";

/** Start message. */
export interface LLFreeWorkerJob {
  buffers: PmoBuffers;
  worker: number;
  seed: number;
  ops: number;
  /** Int32Array over it: owner tag per page. */
  owners: SharedArrayBuffer;
  /** Share of operations that are 2 MiB allocations. */
  hugeRate: number;
  /** Largest number of 4 KiB pages held at once. */
  holdMax: number;
  /** Int32Array over it: word 0 becomes 1 to start all workers at once. */
  go: SharedArrayBuffer;
}

/** Result message. */
export interface LLFreeWorkerResult {
  errors: string[];
  allocs: number;
  frees: number;
  hugeAllocs: number;
  noMemory: number;
}

self.onmessage = (ev: MessageEvent<LLFreeWorkerJob>) => {
  const job = ev.data;
  const errors: string[] = [];
  const res: LLFreeWorkerResult = { errors, allocs: 0, frees: 0, hugeAllocs: 0, noMemory: 0 };
  try {
    const a = LLFree.attach(new PersistentMemory(job.buffers), job.worker);
    const own = new Int32Array(job.owners);
    const tag = job.worker + 1;
    const rnd = new Prng(job.seed);
    const held: number[] = [];
    const huge: number[] = [];
    self.postMessage({ ready: true });
    Atomics.wait(new Int32Array(job.go), 0, 0, 10_000);
    const claim = (page: number) => {
      const prev = Atomics.compareExchange(own, page, 0, tag);
      if (prev !== 0 && errors.length < 10) {
        errors.push(`page ${page} handed to worker ${tag} while worker ${prev} holds it`);
      }
    };
    for (let i = 0; i < job.ops; i++) {
      const r = rnd.float();
      try {
        if (r < job.hugeRate) {
          if (huge.length > 0 && rnd.float() < 0.5) {
            const p = huge.splice(rnd.int(huge.length), 1)[0];
            for (let k = 0; k < FRAME_PAGES; k++) Atomics.store(own, p + k, 0);
            a.free2m(p);
            res.frees++;
          } else {
            const p = a.alloc2m();
            if (p % FRAME_PAGES !== 0) errors.push(`alloc2m returned unaligned ${p}`);
            for (let k = 0; k < FRAME_PAGES; k++) claim(p + k);
            huge.push(p);
            res.hugeAllocs++;
          }
        } else if (held.length > 0 && (held.length >= job.holdMax || r > 0.55)) {
          const j = rnd.int(held.length);
          const p = held[j];
          held[j] = held[held.length - 1];
          held.pop();
          Atomics.store(own, p, 0);
          a.free4k(p);
          res.frees++;
        } else {
          const p = a.alloc4k();
          claim(p);
          held.push(p);
          res.allocs++;
        }
      } catch (e) {
        if (e instanceof TardigradeError && e.code === Err.E_NO_MEMORY) res.noMemory++;
        else throw e;
      }
    }
    for (const p of held) {
      Atomics.store(own, p, 0);
      a.free4k(p);
    }
    for (const p of huge) {
      for (let k = 0; k < FRAME_PAGES; k++) Atomics.store(own, p + k, 0);
      a.free2m(p);
    }
    a.release();
  } catch (e) {
    errors.push(String(e instanceof Error ? e.stack : e));
  }
  self.postMessage(res);
};
