/**
 * The memory server: persistent objects and page frames for every other
 * component, served over its endpoint (its capability named "service"). Protocol:
 * servers/memory/protocol.ts; client library: servers/memory/client.ts.
 *
 * ## State
 *
 * All of it lives in two PMOs of the server's own cap group, so a resume
 * (or a restart after a failure) finds it again; the JS heap holds only
 * handles and counters:
 *
 * - "heap": the object heap (objects.ts) of {@link HEAP_PAGES} pages:
 *   objects, names, per-owner quotas.
 * - "frames": the {@link FramePool}: an LLFree instance over
 *   {@link FRAME_POOL_PAGES} abstract page numbers (no memory behind them:
 *   they stand for physical frames), with an owner per allocation.
 *
 * Both PMOs are created on the first start and kept by name in the
 * server's slot record (`lastingPmo`). On resume the server maps the same
 * PMOs, attaches and runs recovery (a no-op after a checkpoint, which only
 * captures the server between two requests; it matters after a failure in
 * the middle of one).
 *
 * ## Modules
 *
 * - this file: the server's state (its two PMOs) and start-up.
 * - server.ts: request decoding and dispatch ({@link MemoryServer}).
 * - frame_pool.ts: the {@link FramePool}; objects.ts: the object heap.
 *
 * Requests are handled to completion between two safe points; every bad
 * request gets its named error and changes nothing (server.ts).
 *
 * @module
 */

import { assert } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { runProgram } from "../runtime/program.ts";
import { lastingPmo, serveService } from "../runtime/service.ts";
import { FramePool } from "./frame_pool.ts";
import { HEAP_MAGIC, ObjectHeap } from "./objects.ts";
import { MemoryServer } from "./server.ts";

/** Pages of the heap PMO (8 MiB; the server's quota is 4096 pages). */
const HEAP_PAGES = 2048;
/** Abstract pages the frame pool hands out (64 MiB: 32 huge frames). */
const FRAME_POOL_PAGES = 16384;

runProgram(async (ctx) => {
  const heapMem = await lastingPmo(ctx, "heap", HEAP_PAGES);
  const framesMem = await lastingPmo(
    ctx,
    "frames",
    FramePool.bytesFor(FRAME_POOL_PAGES) / PAGE_BYTES,
  );
  let recovery: Record<string, unknown> | null = null;
  // A PMO whose magic word is still 0 was never formatted (new, or the first start died first).
  let heap: ObjectHeap;
  let frames: FramePool;
  if (heapMem.words[0] === 0) heap = ObjectHeap.format(heapMem);
  else {
    assert(heapMem.words[0] === HEAP_MAGIC, "memory", "heap PMO holds something else");
    heap = ObjectHeap.attach(heapMem);
    recovery = { heap: heap.recover() };
  }
  if (framesMem.words[0] === 0) frames = FramePool.format(framesMem, FRAME_POOL_PAGES);
  else {
    frames = FramePool.attach(framesMem);
    recovery = { ...recovery, frames: frames.recover() };
  }
  if (recovery) ctx.log(`memory: attached to its heap; recovery ${JSON.stringify(recovery)}`);
  const server = new MemoryServer(heap, frames, recovery !== null, recovery);
  await serveService(ctx, "memory", (req) => server.handle(req));
});
