/**
 * The page side of the pause in process, as the memory mapped grows and
 * what is written does not: a loop of `PageCapture.capture` and `copyOut`
 * (kernel/page_capture.ts) over the kernel memory object and PMOs of 64 MiB
 * adding up to `mappedMb`, with {@link DIRTY_PER_CAPTURE} pages written
 * through the barrier (`PersistentMemory.setU32`, seeded spots) before each.
 * It measures the scan and the stop-and-copy of the hybrid method, without a
 * machine, the freeze or the cores other workers take: the part of the
 * pause that grows with the memory mapped (docs/BENCHMARKS.md,
 * "Checkpoints", "dirty summary").
 *
 * Map of this file: {@link measurePageScan} (one size), {@link pageScanRuns}
 * (the sweep, for `deno task bench checkpoint`), then the command line.
 *
 * Run: `deno run -A tools/bench/page_scan.ts` (the full sweep; prints one
 * JSON object per size).
 *
 * @module
 */

import { KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import { Prng } from "../../kernel/abi/prng.ts";
import { PageCapture } from "../../kernel/page_capture.ts";
import { type Dist, dist } from "./stats.ts";

/** Pages written before each capture (the FS bench's median checkpoint dirties 10–11). */
export const DIRTY_PER_CAPTURE = 10;
/** Pages of one PMO of the sweep (64 MiB, as large file-system segments are). */
const PMO_PAGES = 16384;
/** Captures before the timed ones (the JIT's warm-up). */
const WARMUP = 200;
/** Seed of the written spots: the same pages in every run. */
const SEED = 0x5ca9;

/** One size of the sweep: µs per capture (scan and stop-and-copy) and per capture plus copy-out. */
export interface PageScanResult {
  mappedMb: number;
  captures: number;
  capture: Dist;
  captureAndCopyOut: Dist;
  /** Median pages captured per checkpoint. */
  dirtyPages: number;
}

/**
 * Captures `captures` times over `mappedMb` MiB of PMOs (whole 64 MiB PMOs,
 * the last one smaller) beside a clean kernel memory object. Half the
 * written spots repeat from one capture to the next (hot pages, copied in
 * the pause), half move (cold, copied on write after it).
 */
export function measurePageScan(mappedMb: number, captures: number): PageScanResult {
  const kernelPmo = allocatePmoBuffers(0, KERNEL_PMO_PAGES);
  const loaded: Array<[{ nvmBase: number }, PmoBuffers]> = [];
  let pages = (mappedMb * 1024 * 1024) / PAGE_BYTES;
  for (let id = 1; pages > 0; id++) {
    const n = Math.min(pages, PMO_PAGES);
    loaded.push([{ nvmBase: KERNEL_PMO_PAGES + (id - 1) * PMO_PAGES }, allocatePmoBuffers(id, n)]);
    pages -= n;
  }
  const mems = loaded.map(([, b]) => new PersistentMemory(b));
  const capture = new PageCapture({ copyMethod: "hybrid", debugBarrier: false }, () => {});
  const prng = new Prng(SEED);
  const hot = Array.from({ length: DIRTY_PER_CAPTURE >> 1 }, () => spot(prng, mems));
  const captureUs: number[] = [];
  const totalUs: number[] = [];
  const dirty: number[] = [];
  for (let i = 0; i < WARMUP + captures; i++) {
    for (const [mem, page] of hot) mem.setU32(page * PAGE_BYTES, i);
    for (let j = hot.length; j < DIRTY_PER_CAPTURE; j++) {
      const [mem, page] = spot(prng, mems);
      mem.setU32(page * PAGE_BYTES, i);
    }
    const t0 = performance.now();
    const caught = capture.capture(kernelPmo, loaded);
    const t1 = performance.now();
    const out = capture.copyOut(caught);
    const t2 = performance.now();
    capture.recycle(out.pages);
    if (i < WARMUP) continue;
    captureUs.push((t1 - t0) * 1000);
    totalUs.push((t2 - t0) * 1000);
    dirty.push(caught.length);
  }
  return {
    mappedMb,
    captures,
    capture: dist(captureUs),
    captureAndCopyOut: dist(totalUs),
    dirtyPages: dist(dirty).median,
  };
}

/** A seeded page of one of the PMOs. */
function spot(prng: Prng, mems: PersistentMemory[]): [PersistentMemory, number] {
  const mem = prng.pick(mems);
  return [mem, prng.int(0, mem.pageCount - 1)];
}

/** Mapped sizes of the sweep, MiB: the FS bench's quick and full file systems, and 512 MiB. */
export const PAGE_SCAN_SIZES_MB = [36, 128, 428, 512];

/**
 * The sweep for `deno task bench checkpoint`: adds `page_scan_median_us_<MB>mb`
 * and `page_scan_p99_us_<MB>mb` (capture, in the pause) to `figures`.
 */
export function pageScanRuns(quick: boolean, figures: Record<string, number>): PageScanResult[] {
  const results = PAGE_SCAN_SIZES_MB.map((mb) => measurePageScan(mb, quick ? 500 : 3000));
  for (const r of results) {
    figures[`page_scan_median_us_${r.mappedMb}mb`] = r.capture.median;
    figures[`page_scan_p99_us_${r.mappedMb}mb`] = r.capture.p99;
  }
  return results;
}

if (import.meta.main) {
  for (const mb of PAGE_SCAN_SIZES_MB) console.log(JSON.stringify(measurePageScan(mb, 3000)));
}
