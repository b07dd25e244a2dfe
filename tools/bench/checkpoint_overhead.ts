/**
 * Overhead runs of the checkpoint benchmark (sections (d) and (d') of
 * tools/bench/checkpoint.ts): what checkpointing costs a program that
 * writes flat out, against checkpoints off in the same machine.
 *
 * - {@link pairedOverhead}: one machine, checkpoints switched off and on in
 *   alternating windows (ABBA) through the command port; the overhead of
 *   each adjacent off/on pair, and their median.
 * - {@link overheadRuns}: (d) by period × method, (d') by pages written.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import type { CopyMethod } from "../../kernel/abi/protocol.ts";
import type { MachineProcess } from "../machine_process.ts";
import { type LoadRun, runLoad, sleep, wallNow } from "./checkpoint_load.ts";
import { methodKey } from "./checkpoint_pause.ts";
import { median } from "./stats.ts";

const METHODS: CopyMethod[] = ["stop-and-copy", "cow", "hybrid"];
/** Pages the writer of (d) dirties, and the smaller regions of the sweep (d'). */
export const REGION = 256;
const REGIONS = [4, 16, 64];
/** Windows of the paired overhead runs: at least this long, and at least 10 periods. */
const WINDOW_MS = 250;
/** Reports in the first ms of a window are left out (the switch takes effect). */
const SETTLE_MS = 30;
/** After `ckload ready`, before the first window (JIT warm-up). */
const WARMUP_MS = 500;

/** One `ckload ops N elapsedMs M at T` report. */
interface OpsReport {
  ops: number;
  /** ckload's own clock: ms since its first burst. */
  ms: number;
  /** Wall-clock ms. */
  at: number;
  /** The checkpoint whose commit released it (checkpoints off: the last one before). */
  epoch: number;
}

/** The `ckload ops` reports among `lines`. */
function opsReports(lines: LoadRun["consoleLines"]): OpsReport[] {
  return lines.flatMap(({ text, epoch }) => {
    const m = /^ckload ops (\d+(?:\.\d+)?) elapsedMs (\d+(?:\.\d+)?) at (\d+(?:\.\d+)?)$/.exec(
      text,
    );
    return m ? [{ ops: Number(m[1]), ms: Number(m[2]), at: Number(m[3]), epoch }] : [];
  });
}

/** A window of a paired run: checkpoints off or on from `start` to `end` (wall-clock ms). */
interface Window {
  on: boolean;
  start: number;
  end: number;
}

/**
 * A window's ops/s and checkpoints/s, from the first report after it
 * settled to the last one in it.
 */
function windowRates(reports: OpsReport[], w: Window): { ops: number; checkpoints: number } {
  const inside = reports.filter((r) => r.at >= w.start + SETTLE_MS && r.at <= w.end);
  if (inside.length < 2) return { ops: NaN, checkpoints: NaN };
  const a = inside[0], b = inside[inside.length - 1];
  return {
    ops: ((b.ops - a.ops) / (b.ms - a.ms)) * 1000,
    checkpoints: ((b.epoch - a.epoch) / (b.ms - a.ms)) * 1000,
  };
}

/** Overhead of checkpointing against "off" windows of the same machine (see (d) above). */
export interface OverheadRun {
  /** Median over the pairs of 1 − on ÷ off, in %. */
  overheadPct: number;
  /** Each pair's overhead, in %, in run order. */
  pairsPct: number[];
  /** Medians of the window rates. */
  offOpsPerS: number;
  onOpsPerS: number;
  /** Checkpoints committed per second of "on" windows (median). */
  checkpointsPerS: number;
  error?: string;
}

/** The overhead figures of the off/on `windows` of one run, from ckload's `reports`. */
function pairFigures(windows: Window[], reports: OpsReport[]): OverheadRun {
  const measured = windows.map((w) => windowRates(reports, w));
  const rates = measured.map((m) => m.ops);
  const pairsPct: number[] = [];
  for (let i = 0; i + 1 < windows.length; i += 2) {
    const [off, on] = windows[i].on ? [rates[i + 1], rates[i]] : [rates[i], rates[i + 1]];
    pairsPct.push((1 - on / off) * 100);
  }
  const on = (m: { ops: number; checkpoints: number }[], want: boolean) =>
    m.filter((_, i) => windows[i].on === want);
  return {
    overheadPct: median(pairsPct.filter((p) => !Number.isNaN(p))),
    pairsPct,
    offOpsPerS: median(on(measured, false).map((m) => m.ops)),
    onOpsPerS: median(on(measured, true).map((m) => m.ops)),
    checkpointsPerS: median(on(measured, true).map((m) => m.checkpoints)),
  };
}

/**
 * One machine running ckload flat out; checkpoints alternate off and on
 * (`pairs` pairs of windows, ABBA) at `periodMs` with `method`.
 */
export async function pairedOverhead(opts: {
  periodMs: number;
  method: CopyMethod;
  region: number;
  pairs: number;
}): Promise<OverheadRun> {
  const windowMs = Math.max(WINDOW_MS, 10 * opts.periodMs);
  const windows: Window[] = [];
  const drive = async (mp: MachineProcess) => {
    await sleep(WARMUP_MS);
    for (let pair = 0; pair < opts.pairs; pair++) {
      for (const on of pair % 2 === 0 ? [false, true] : [true, false]) {
        await mp.send({ t: "checkpoint-ms", ms: on ? opts.periodMs : 0 });
        const start = wallNow();
        await sleep(windowMs);
        windows.push({ on, start, end: wallNow() });
      }
    }
  };
  try {
    const r = await runLoad({
      app: { mode: "throughput", region: opts.region, reportMs: 10 },
      // Warm up with checkpoints on, so V8 compiles the writer's barrier with its slow path
      // (a page made clean by a checkpoint) already taken; otherwise the first "on" window
      // would pay a deoptimisation that steady state never does.
      checkpointMs: opts.periodMs,
      method: opts.method,
      durationMs: 0,
      extraArgs: ["--commands"],
      // No line per checkpoint: parsing ~1000 of them a second would load "on" windows only.
      reportCheckpoints: false,
      drive,
    });
    return pairFigures(windows, opsReports(r.consoleLines));
  } catch (e) {
    return {
      overheadPct: NaN,
      pairsPct: [],
      offOpsPerS: NaN,
      onOpsPerS: NaN,
      checkpointsPerS: NaN,
      error: (e as Error).message.split("\n")[0],
    };
  }
}

/** The rows of the overhead runs. */
export interface OverheadResults {
  /** Off/on window pairs per run. */
  pairs: number;
  /** (d) by period and copy method. */
  tputRows: Array<{ ms: number; method: CopyMethod } & OverheadRun>;
  /** (d') at 1 ms hybrid, by pages the writer dirties (none with `quick`). */
  regionRows: Array<{ region: number } & OverheadRun>;
}

/**
 * Runs (d) the overhead at each period × method (REGION pages written) and
 * (d') at 1 ms hybrid as the region grows (skipped with `quick`); adds their
 * figures to `figures`.
 */
export async function overheadRuns(
  quick: boolean,
  figures: Record<string, number>,
  quiet = false,
): Promise<OverheadResults> {
  const pairs = quick ? 4 : 12;
  const periods = quick ? [1, 10] : [1, 5, 10, 50];
  const methods = quick ? ["hybrid"] as CopyMethod[] : METHODS;
  const regions = quick ? [] : REGIONS;
  const bar = new Progress({
    name: "bench checkpoint: overhead",
    total: periods.length * methods.length + regions.length,
    quiet,
  });
  const step = bar.stepLog();
  const tputRows: OverheadResults["tputRows"] = [];
  for (const ms of periods) {
    for (const method of methods) {
      step(`checkpoint-ms=${ms} ${method} region=${REGION}, ${pairs} off/on pairs`);
      const r = await pairedOverhead({ periodMs: ms, method, region: REGION, pairs });
      tputRows.push({ ms, method, ...r });
      figures[`overhead_pct_${ms}ms_${methodKey(method)}`] = r.overheadPct;
      figures[`ops_per_s_${ms}ms_${methodKey(method)}`] = r.onOpsPerS;
      figures[`ops_per_s_off_${ms}ms_${methodKey(method)}`] = r.offOpsPerS;
      figures[`checkpoints_per_s_${ms}ms_${methodKey(method)}`] = r.checkpointsPerS;
    }
  }
  const regionRows: OverheadResults["regionRows"] = [];
  for (const region of regions) {
    step(`checkpoint-ms=1 hybrid region=${region}, ${pairs} off/on pairs`);
    const r = await pairedOverhead({ periodMs: 1, method: "hybrid", region, pairs });
    regionRows.push({ region, ...r });
    figures[`overhead_pct_1ms_hybrid_region_${region}`] = r.overheadPct;
  }
  bar.end();
  return { pairs, tputRows, regionRows };
}
