/**
 * Load program for the checkpoint benchmark (tools/bench/checkpoint.ts).
 *
 * Arguments (from `--apps tests/programs/ckload.ts?k=v&…`, with `timerMs=1`):
 * - `pages`: pages dirtied on every timer notification (one word each; the
 *   same pages every tick, so they stay hot). Default 1.
 * - `objects`: extra kernel records created at start: `objects / 2`
 *   endpoints (each an ENDPOINT record and a CAP record). Default 0.
 * - `touch`: kernel objects changed per tick: each is a capability minted
 *   from one of our endpoints and deleted again (fire and forget; at most
 *   one mint/delete chain in flight per unit). Default 0.
 * - `mode`: "ticks" (default) or "throughput": write bursts of 0.2 ms over a
 *   region of `region` pages (default 256) whenever the worker has nothing
 *   else to do (ctx.onIdle),
 *   so it writes flat out; counts writes (the total is kept in the PMO) and
 *   about every `reportMs` ms (default 100) prints
 *   `ckload ops N elapsedMs M at T`: writes and milliseconds since the first
 *   burst after this start, and T the wall-clock time in ms
 *   (`performance.timeOrigin + performance.now()`), so a benchmark can tell
 *   which of its windows a report falls in.
 *
 * Prints `ckload ready` once its objects exist and its handler is installed.
 * Slots: 2 the timer, 3…5 the services (init's program apps), then ours.
 *
 * @module
 */

import { Right } from "../../kernel/abi/rights.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

const PAGE = 4096;
/** Pages the throughput loop writes over, unless `region` says. */
const THROUGHPUT_PAGES = 256;
/** Length of one throughput burst. */
const BURST_MS = 0.2;
/** Between two throughput reports, unless `reportMs` says. */
const REPORT_MS = 100;

/** Words of page 0 of the PMO. */
const TICKS_OFFSET = 0; // f64: notifications handled
const OPS_OFFSET = 8; // f64: throughput writes, total over all runs

function num(v: unknown, dflt: number): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : dflt;
}

runProgram(async (ctx) => {
  const pages = num(ctx.args.pages, 1);
  const objects = num(ctx.args.objects, 0);
  const touch = num(ctx.args.touch, 0);
  const mode = ctx.args.mode === "throughput" ? "throughput" : "ticks";
  const region = Math.max(1, num(ctx.args.region, THROUGHPUT_PAGES));
  const reportMs = Math.max(1, num(ctx.args.reportMs, REPORT_MS));
  const pmoPages = Math.max(pages, mode === "throughput" ? region : 1) + 1;

  const mem = await lastingPmo(ctx, "state", pmoPages);
  let firstEndpoint = -1;
  if (!ctx.resumed) {
    const endpoints = Math.floor(objects / 2);
    for (let i = 0; i < endpoints; i++) {
      const slot = await ctx.sys.endpointCreate();
      if (i === 0) firstEndpoint = slot;
    }
    if (touch > 0 && firstEndpoint < 0) firstEndpoint = await ctx.sys.endpointCreate();
  }

  // touch: mint a badged copy of an endpoint capability, then delete it.
  let inFlight = 0;
  let badge = 1;
  const touchOnce = () => {
    inFlight++;
    ctx.sys.capMint(firstEndpoint, Right.CALL, badge++ & 0xffff)
      .then((slot) => ctx.sys.capDelete(slot))
      .catch((e) => ctx.log(`ckload: touch failed: ${(e as Error).message}`))
      .finally(() => inFlight--);
  };

  let startedAt = -1;
  let opsAtStart = 0;
  let lastReport = 0;
  let cursor = 0;

  /** Throughput mode: write flat out in bursts, each a handler between two safe points. */
  const burst = (): boolean => {
    const now = performance.now();
    if (startedAt < 0) {
      startedAt = now;
      lastReport = now;
      opsAtStart = mem.getF64(OPS_OFFSET);
    }
    const end = now + BURST_MS;
    let ops = 0;
    const span = region * PAGE;
    do {
      // 64 writes between clock reads, spread over the region.
      for (let i = 0; i < 64; i++) {
        mem.setU32(PAGE + cursor, ops + i);
        cursor = (cursor + 4100) % span & ~3;
      }
      ops += 64;
    } while (performance.now() < end);
    const total = mem.getF64(OPS_OFFSET) + ops;
    mem.setF64(OPS_OFFSET, total);
    const t = performance.now();
    if (t - lastReport >= reportMs) {
      lastReport = t;
      ctx.print(
        `ckload ops ${total - opsAtStart} elapsedMs ${(t - startedAt).toFixed(3)} at ${
          (performance.timeOrigin + t).toFixed(3)
        }`,
      );
    }
    return true;
  };
  if (mode === "throughput") ctx.onIdle(burst);

  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    const tick = mem.getF64(TICKS_OFFSET) + 1;
    mem.setF64(TICKS_OFFSET, tick);
    if (mode === "ticks") {
      for (let p = 1; p <= pages; p++) mem.setU32(p * PAGE + ((tick * 4) % PAGE), tick);
    }
    for (let i = inFlight; i < touch; i++) touchOnce();
  });
  ctx.print(`ckload ready`);
});
