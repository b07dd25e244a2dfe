/**
 * The memory server: persistent objects and page frames for every other
 * component, served over its endpoint (slot 2). Protocol:
 * servers/memory/protocol.ts; client library: servers/memory/client.ts.
 *
 * ## State
 *
 * All of it lives in two PMOs of the server's own cap group, so a resume
 * (or a restart after a failure) finds it again; the JS heap holds only
 * handles and counters:
 *
 * - slot {@link HEAP_SLOT}: the object heap (objects.ts) of
 *   {@link HEAP_PAGES} pages: objects, names, per-owner quotas.
 * - slot {@link FRAMES_SLOT}: the {@link FramePool}: an LLFree instance over
 *   {@link FRAME_POOL_PAGES} abstract page numbers (no memory behind them:
 *   they stand for physical frames), with an owner per allocation.
 *
 * Both PMOs are created on the first start, each landing in the lowest free
 * slot (0 cap group, 1 thread, 2 endpoint, so 3 and 4; checked). On resume
 * the server maps the same slots, attaches and runs recovery (a no-op after
 * a checkpoint, which only captures the server between two requests; it
 * matters after a failure in the middle of one).
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

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import { serveService } from "../runtime/service.ts";
import { fail } from "./errors.ts";
import { FramePool } from "./frame_pool.ts";
import { HEAP_MAGIC, ObjectHeap } from "./objects.ts";
import { MemoryServer } from "./server.ts";

/** Slot of the heap PMO: the first free one after 0 cap group, 1 thread, 2 endpoint. */
const HEAP_SLOT = 3;
/** Slot of the frame-pool PMO, created right after the heap's. */
const FRAMES_SLOT = 4;
/** Pages of the heap PMO (8 MiB; the server's quota is 4096 pages). */
const HEAP_PAGES = 2048;
/** Abstract pages the frame pool hands out (64 MiB: 32 huge frames). */
const FRAME_POOL_PAGES = 16384;

// ---------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------

/**
 * Makes sure `slot` holds this server's PMO of `pages` pages: on resume it
 * is already there (unless the first start died before creating it); else
 * it is created, and must land in `slot`. Returns true if it was created.
 */
async function ensurePmo(ctx: Context, slot: number, pages: number): Promise<boolean> {
  if (ctx.resumed) {
    try {
      const info = await ctx.sys.capInfo(slot);
      if (info.kind !== "PMO") fail(Err.E_INTERNAL, `slot ${slot} holds a ${info.kind}, not a PMO`);
      return false;
    } catch (e) {
      if (!(e instanceof TardigradeError && e.code === Err.E_EMPTY_SLOT)) throw e;
    }
  }
  const got = await ctx.sys.pmoCreate(pages);
  if (got !== slot) {
    fail(
      Err.E_INTERNAL,
      `a PMO landed in slot ${got}, expected ${slot}: slots ${slot}… must be free`,
    );
  }
  return true;
}

runProgram(async (ctx) => {
  await ensurePmo(ctx, HEAP_SLOT, HEAP_PAGES);
  await ensurePmo(ctx, FRAMES_SLOT, FramePool.bytesFor(FRAME_POOL_PAGES) / PAGE_BYTES);
  const heapMem = await ctx.map(HEAP_SLOT);
  const framesMem = await ctx.map(FRAMES_SLOT);
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
