/**
 * Checkpoint benchmark: the stop-the-world pause of the 1 ms whole-system
 * checkpoint, its cost to a running program, and resume time.
 *
 * Every measurement boots a real machine (hw/machine.ts, as a child process
 * through {@link MachineProcess}) on a temporary image that is removed
 * afterwards, with `--report-checkpoints`, and the load program
 * tests/programs/ckload.ts as an app (`timerMs=1`).
 *
 * - (a) Pause vs dirty pages: pages ∈ {1, 4, 16, 64, 256, 1024} with 1000
 *   extra kernel records, hybrid copy: median and p99 of the pause and of
 *   each part (freeze, capability tree, other kernel objects, page copy).
 *   Only checkpoints whose commit came after `ckload ready` was released
 *   count, less the first {@link WARMUP_CHECKPOINTS} of them (the one holding
 *   the start-up records and JIT warm-up).
 * - (b) Pause vs kernel objects: objects ∈ {10, 100, 1000, 10000}, 64 pages,
 *   one capability minted and deleted per tick.
 * - (c) Copy methods at 64 pages / 1000 objects.
 * - (d) Runtime overhead: ckload in throughput mode (flat-out 0.2 ms write
 *   bursts between safe points), checkpoint period ∈ {1, 5, 10, 50} ms ×
 *   method, against checkpoints off in the same machine: the bench turns
 *   checkpoints off and on in alternating windows through the command port
 *   (hw/commands.ts), in ABBA order, and takes the overhead of each adjacent
 *   off/on pair (1 − on ops/s ÷ off ops/s); the figure is the median over
 *   the pairs. Two separate processes are no baseline here: the same writer
 *   runs anywhere from 70 to 150 M writes/s depending on how V8 compiled it.
 *   (d') the same at 1 ms hybrid as the pages written grow.
 * - (e) Resume vs image size: boot fresh, shut down (final checkpoint), boot
 *   again; the `ready` line's `ms` (board start to ready) and the wall time
 *   from spawn. Baselines: a fresh boot plus `Deno.readFile` of a data file
 *   of the image's size; the floor: starting as many empty Workers as the
 *   system has threads, from this process's main thread.
 *
 * Run: `deno task bench checkpoint [--quick] [--json]`.
 *
 * @module
 */

import { runBenchCli } from "./cli.ts";
import type { MachineLine } from "../../hw/board.ts";
import type { CheckpointStats, CopyMethod } from "../../kernel/abi/protocol.ts";
import { MachineProcess } from "../machine_process.ts";
import { APP_QUOTA_OBJECTS } from "../../servers/init/config.ts";

/** Options of {@link benchCheckpoint}. */
export interface CheckpointBenchOptions {
  /** Fewer points and shorter runs. */
  quick: boolean;
}

/** Checkpoints after `ckload ready` that are not counted. */
const WARMUP_CHECKPOINTS = 5;
const METHODS: CopyMethod[] = ["stop-and-copy", "cow", "hybrid"];
/** Pages the writer of (d) dirties, and the smaller regions of the sweep (d'). */
const REGION = 256;
const REGIONS = [4, 16, 64];
/** Windows of the paired overhead runs: at least this long, and at least 10 periods. */
const WINDOW_MS = 250;
/** Reports in the first ms of a window are left out (the switch takes effect). */
const SETTLE_MS = 30;
/** After `ckload ready`, before the first window (JIT warm-up). */
const WARMUP_MS = 500;
/** Threads of a system without apps: kernel, init, memory, fs, net. */
const BASE_THREADS = 5;

const log = (text: string) => console.error(`checkpoint bench: ${text}`);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

const methodKey = (m: CopyMethod) => m.replaceAll("-", "_");

/** Median and p99 of one component. */
interface Dist {
  median: number;
  p99: number;
}

function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { median: percentile(s, 0.5), p99: percentile(s, 0.99) };
}

/** The parts of one set of pauses. */
interface PauseSummary {
  n: number;
  pause: Dist;
  freeze: Dist;
  capTree: Dist;
  otherObjects: Dist;
  pageCopy: Dist;
  dirtyPages: number;
  cowPages: number;
  objectRecords: number;
}

function summarisePauses(stats: CheckpointStats[]): PauseSummary {
  const other = (s: CheckpointStats) =>
    Object.entries(s.objectsUs).reduce((sum, [k, v]) => (k === "CAP" ? sum : sum + v), 0);
  return {
    n: stats.length,
    pause: dist(stats.map((s) => s.pauseUs)),
    freeze: dist(stats.map((s) => s.freezeUs)),
    capTree: dist(stats.map((s) => s.capTreeUs)),
    otherObjects: dist(stats.map(other)),
    pageCopy: dist(stats.map((s) => s.pageCopyUs)),
    dirtyPages: median(stats.map((s) => s.dirtyPages)),
    cowPages: median(stats.map((s) => s.cowPages)),
    objectRecords: median(stats.map((s) => s.objectRecords)),
  };
}

/** A temporary image path in a directory of its own; `cleanup` removes both. */
async function tempImage(): Promise<{ path: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "tardigrade-ckbench-" });
  return {
    path: `${dir}/bench.img`,
    dir,
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** Clean shutdown, or SIGKILL after `ms`. Returns the exit code. */
async function stop(mp: MachineProcess, ms = 15_000): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<number>((resolve) => {
    timer = setTimeout(() => mp.kill().then(() => resolve(-9)), ms);
  });
  try {
    return await Promise.race([mp.shutdown().then((s) => s.code), killed]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock ms with sub-ms resolution: comparable with ckload's `at` in another process. */
const wallNow = () => performance.timeOrigin + performance.now();

/** Rejects at the first line saying a thread failed or the machine erred (a boot that cannot finish). */
function failure(mp: MachineProcess): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    mp.onLine((l) => {
      if (l.t === "error") reject(new Error(`${l.code}: ${l.text}`));
      else if (l.t === "log" && /^kernel: thread \d+ \(.*\) failed/.test(l.text)) {
        reject(new Error(l.text.replace(/^kernel: /, "")));
      }
    });
  });
  p.catch(() => {});
  return p;
}

/** One machine running ckload: the stats after ckload is ready, and its console lines. */
interface LoadRun {
  stats: CheckpointStats[];
  /** ckload's console lines after `ckload ready`, each with the epoch whose commit released it. */
  consoleLines: Array<{ text: string; epoch: number }>;
  /** Checkpoints committed during the measured window (including warm-up). */
  committed: number;
  exitCode: number;
}

async function runLoad(opts: {
  app: Record<string, string | number>;
  checkpointMs: number;
  method: CopyMethod;
  durationMs: number;
  extraArgs?: string[];
  /** Emit every checkpoint's statistics (default); off, the bench reads no line per checkpoint. */
  reportCheckpoints?: boolean;
  /** Runs the measured part instead of waiting `durationMs`. */
  drive?: (mp: MachineProcess) => Promise<void>;
}): Promise<LoadRun> {
  const img = await tempImage();
  const query = new URLSearchParams(
    Object.entries({
      timerMs: 1,
      // ckload's endpoints are two kernel records each; leave room for its other objects.
      quotaObjects: Number(opts.app.objects ?? 0) + APP_QUOTA_OBJECTS,
      ...opts.app,
    }).map(([k, v]) => [k, String(v)]),
  ).toString();
  const args = [
    "--fresh",
    "--image-mb",
    "64",
    "--checkpoint-ms",
    String(opts.checkpointMs),
    "--copy-method",
    opts.method,
    ...(opts.reportCheckpoints === false ? [] : ["--report-checkpoints"]),
    "--apps",
    `tests/programs/ckload.ts?${query}`,
    ...(opts.extraArgs ?? []),
  ];
  const mp = MachineProcess.start(img.path, args);
  const stats: CheckpointStats[] = [];
  const consoleLines: LoadRun["consoleLines"] = [];
  let ready = false;
  let measuring = true;
  let committed = 0;
  let readyResolve: () => void = () => {};
  const readySeen = new Promise<void>((r) => (readyResolve = r));
  mp.onLine((l: MachineLine) => {
    if (l.t === "console") {
      for (const text of l.text.split("\n")) {
        if (text === "") continue;
        // Until the exit: the last lines are released by the final checkpoint.
        if (ready) consoleLines.push({ text, epoch: l.epoch });
        if (text === "ckload ready") {
          ready = true;
          readyResolve();
        }
      }
    } else if (l.t === "checkpoints" && ready && measuring) {
      for (const s of l.stats) if (++committed > WARMUP_CHECKPOINTS) stats.push(s);
    }
  });
  try {
    const exited = mp.exited.then(async (s) => {
      throw new Error(
        `machine exited (code ${s.code}) before the end of the run\n${mp.describeErrors()}${
          (await mp.stderr()).slice(-1500)
        }`,
      );
    });
    exited.catch(() => {});
    const fail = failure(mp);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no `ckload ready` within 60 s")), 60_000);
    });
    try {
      await Promise.race([readySeen, exited, timeout, fail]);
    } finally {
      clearTimeout(timer);
    }
    await Promise.race([opts.drive ? opts.drive(mp) : sleep(opts.durationMs), exited, fail]);
    measuring = false;
    const exitCode = await stop(mp);
    return { stats, consoleLines, committed, exitCode };
  } catch (e) {
    await mp.kill();
    throw e;
  } finally {
    await img.cleanup();
  }
}

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
interface OverheadRun {
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

/**
 * One machine running ckload flat out; checkpoints alternate off and on
 * (`pairs` pairs of windows, ABBA) at `periodMs` with `method`.
 */
async function pairedOverhead(opts: {
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
    const reports = opsReports(r.consoleLines);
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

/** /proc/loadavg's first three fields (through `cat`, as Deno reads /proc only with --allow-all). */
function loadAverage(): string {
  try {
    const out = new Deno.Command("cat", {
      args: ["/proc/loadavg"],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    return new TextDecoder().decode(out.stdout).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** Time for this thread to start `n` empty Workers and hear "up" from each. */
async function workerFloorMs(n: number): Promise<number> {
  const url = URL.createObjectURL(
    new Blob(['postMessage("up");'], { type: "application/javascript" }),
  );
  try {
    const t0 = performance.now();
    const workers: Worker[] = [];
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(url, { type: "module" });
          workers.push(w);
          w.onmessage = () => resolve();
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
        })),
    );
    const ms = performance.now() - t0;
    for (const w of workers) w.terminate();
    return ms;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Boots a machine without apps to `ready`: the ready line's ms and the wall time from spawn. */
async function bootToReady(
  imagePath: string,
  imageMb: number,
  fresh: boolean,
): Promise<{ readyMs: number; wallMs: number; resumed: boolean; epoch: number }> {
  const args = ["--image-mb", String(imageMb), ...(fresh ? ["--fresh"] : [])];
  const t0 = performance.now();
  const mp = MachineProcess.start(imagePath, args);
  try {
    const ready = await Promise.race([mp.ready(60_000), failure(mp)]);
    const wallMs = performance.now() - t0;
    await sleep(100); // let a few checkpoints commit before the clean shutdown
    const code = await stop(mp);
    if (code !== 0) throw new Error(`machine exited with code ${code} at shutdown`);
    return { readyMs: ready.ms, wallMs, resumed: ready.resumed, epoch: ready.epoch };
  } catch (e) {
    await mp.kill();
    // The whole story goes to stderr; the table gets the first line.
    const tail = mp.lines.slice(-30).map((l) => `  ${JSON.stringify(l).slice(0, 300)}`);
    log(`${fresh ? "fresh boot" : "resume"} failed: ${(e as Error).message}\n${tail.join("\n")}`);
    log(`machine stderr: ${(await mp.stderr()).slice(-3000)}`);
    throw e;
  }
}

/** Writes `mb` MiB of non-zero data to `path`. */
async function writeDataFile(path: string, mb: number): Promise<void> {
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let i = 0; i < mb; i++) {
      let done = 0;
      while (done < chunk.length) done += await f.write(chunk.subarray(done));
    }
  } finally {
    f.close();
  }
}

interface ResumeRow {
  imageMb: number;
  error?: string;
  freshReadyMs?: number;
  freshWallMs?: number;
  resumeReadyMs?: number;
  resumeWallMs?: number;
  resumeSamples?: number[];
  readFileMs?: number;
  floorMs?: number;
}

async function measureResume(imageMb: number, resumes: number): Promise<ResumeRow> {
  const img = await tempImage();
  const row: ResumeRow = { imageMb };
  try {
    const fresh = await bootToReady(img.path, imageMb, true);
    row.freshReadyMs = fresh.readyMs;
    row.freshWallMs = fresh.wallMs;
    const samples: number[] = [];
    const walls: number[] = [];
    for (let i = 0; i < resumes; i++) {
      const r = await bootToReady(img.path, imageMb, false);
      if (!r.resumed) throw new Error(`boot ${i + 2} did not resume (epoch ${r.epoch})`);
      samples.push(r.readyMs);
      walls.push(r.wallMs);
    }
    row.resumeSamples = samples;
    row.resumeReadyMs = median(samples);
    row.resumeWallMs = median(walls);
    // Cold-boot baseline: the fresh boot plus reading a data file of the image's size.
    const data = `${img.dir}/data.bin`;
    await writeDataFile(data, imageMb);
    const t0 = performance.now();
    const bytes = await Deno.readFile(data);
    row.readFileMs = performance.now() - t0;
    if (bytes.length !== imageMb * 1024 * 1024) throw new Error("short read of the data file");
    // The floor, in the same run: as many empty workers as the system has threads.
    const floors: number[] = [];
    for (let i = 0; i < 5; i++) floors.push(await workerFloorMs(BASE_THREADS));
    row.floorMs = median(floors);
  } catch (e) {
    row.error = (e as Error).message.split("\n").slice(0, 3).join(" | ");
  } finally {
    await img.cleanup();
  }
  return row;
}

const f1 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(1));
const f0 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(0));
const pad = (cells: string[], widths: number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" ");

/** A table of overhead runs, one row per `[label, run]`. */
function overheadTable(title: string, key: string, rows: Array<[string, OverheadRun]>): string {
  const w = [20, 12, 12, 10, 22, 10];
  const head = [key, "ops/s off", "ops/s on", "overhead", "pairs (min…max)", "ckpt/s"];
  const out = [title, pad(head, w)];
  for (const [label, r] of rows) {
    if (r.error) {
      out.push(`${label.padEnd(w[0])} failed: ${r.error}`);
      continue;
    }
    const ok = r.pairsPct.filter((p) => !Number.isNaN(p));
    out.push(pad([
      label,
      f0(r.offOpsPerS),
      f0(r.onOpsPerS),
      `${f1(r.overheadPct)} %`,
      ok.length ? `${f1(Math.min(...ok))}…${f1(Math.max(...ok))} %` : "-",
      f0(r.checkpointsPerS),
    ], w));
  }
  return out.join("\n");
}

function pauseTable(title: string, key: string, rows: Array<[number, PauseSummary | string]>) {
  const w = [13, 5, 15, 15, 15, 15, 15, 7, 7, 7];
  const d = (x: Dist) => `${f1(x.median)}/${f1(x.p99)}`;
  const out = [
    title,
    pad(
      [
        key,
        "n",
        "pause",
        "freeze",
        "cap tree",
        "other objs",
        "page copy",
        "dirty",
        "cow",
        "records",
      ],
      w,
    ),
  ];
  for (const [k, s] of rows) {
    if (typeof s === "string") out.push(`${String(k).padEnd(w[0])} failed: ${s}`);
    else {
      out.push(pad([
        String(k),
        String(s.n),
        d(s.pause),
        d(s.freeze),
        d(s.capTree),
        d(s.otherObjects),
        d(s.pageCopy),
        f0(s.dirtyPages),
        f0(s.cowPages),
        f0(s.objectRecords),
      ], w));
    }
  }
  out.push(
    "  (µs, median/p99; dirty, cow: pages, records: kernel object records flushed; medians per checkpoint)",
  );
  return out.join("\n");
}

/**
 * Runs the checkpoint benchmark; returns the figures (`pause_median_us`,
 * `pause_p99_us`, `freeze_median_us`, `page_copy_median_us`,
 * `pause_median_us_<method>`, `overhead_pct_<ms>ms_<method>`, resume
 * figures, and per-point figures of each sweep) and a readable report.
 */
export async function benchCheckpoint(
  opts: CheckpointBenchOptions,
): Promise<{ figures: Record<string, number>; report: string }> {
  const quick = opts.quick;
  const pauseMs = quick ? 500 : 1500;
  const pagesSet = quick ? [1, 64, 1024] : [1, 4, 16, 64, 256, 1024];
  const objectsSet = quick ? [10, 1000] : [10, 100, 1000, 10000];
  const periods = quick ? [1, 10] : [1, 5, 10, 50];
  const tputMethods: CopyMethod[] = quick ? ["hybrid"] : METHODS;
  const imageSizes = quick ? [16, 64] : [16, 64, 256, 1024];
  const figures: Record<string, number> = {};
  const t0 = performance.now();
  const loadBefore = loadAverage();

  // (a) pause vs dirty pages.
  const byPages: Array<[number, PauseSummary | string]> = [];
  for (const pages of pagesSet) {
    log(`pause: pages=${pages} objects=1000 hybrid`);
    try {
      const r = await runLoad({
        app: { pages, objects: 1000, touch: 0 },
        checkpointMs: 1,
        method: "hybrid",
        durationMs: pauseMs,
      });
      const s = summarisePauses(r.stats);
      byPages.push([pages, s]);
      figures[`pause_median_us_pages_${pages}`] = s.pause.median;
      figures[`pause_p99_us_pages_${pages}`] = s.pause.p99;
      if (pages === 64) {
        figures.pause_median_us = s.pause.median;
        figures.pause_p99_us = s.pause.p99;
        figures.freeze_median_us = s.freeze.median;
        figures.page_copy_median_us = s.pageCopy.median;
        figures.pause_median_us_hybrid = s.pause.median;
        figures.checkpoints_counted = s.n;
      }
    } catch (e) {
      byPages.push([pages, (e as Error).message.split("\n")[0]]);
    }
  }

  // (c) the other copy methods at 64 pages / 1000 objects.
  const byMethod: Array<[string, PauseSummary | string]> = [];
  for (const method of ["stop-and-copy", "cow"] as CopyMethod[]) {
    log(`pause: pages=64 objects=1000 ${method}`);
    try {
      const r = await runLoad({
        app: { pages: 64, objects: 1000, touch: 0 },
        checkpointMs: 1,
        method,
        durationMs: pauseMs,
      });
      const s = summarisePauses(r.stats);
      byMethod.push([method, s]);
      figures[`pause_median_us_${methodKey(method)}`] = s.pause.median;
      figures[`pause_p99_us_${methodKey(method)}`] = s.pause.p99;
    } catch (e) {
      byMethod.push([method, (e as Error).message.split("\n")[0]]);
    }
  }
  const hybrid64 = byPages.find(([p]) => p === 64)?.[1];
  if (hybrid64) byMethod.push(["hybrid", hybrid64]);

  // (b) pause vs kernel objects.
  const byObjects: Array<[number, PauseSummary | string]> = [];
  for (const objects of objectsSet) {
    log(`pause: pages=64 objects=${objects} touch=1 hybrid`);
    try {
      const r = await runLoad({
        app: { pages: 64, objects, touch: 1 },
        checkpointMs: 1,
        method: "hybrid",
        durationMs: pauseMs,
      });
      const s = summarisePauses(r.stats);
      byObjects.push([objects, s]);
      figures[`pause_median_us_objects_${objects}`] = s.pause.median;
      figures[`pause_p99_us_objects_${objects}`] = s.pause.p99;
    } catch (e) {
      byObjects.push([objects, (e as Error).message.split("\n")[0]]);
    }
  }

  // (d) runtime overhead, each against "off" windows of its own machine.
  const pairs = quick ? 4 : 12;
  const tputRows: Array<{ ms: number; method: CopyMethod } & OverheadRun> = [];
  for (const ms of periods) {
    for (const method of tputMethods) {
      log(`overhead: checkpoint-ms=${ms} ${method} region=${REGION}, ${pairs} off/on pairs`);
      const r = await pairedOverhead({ periodMs: ms, method, region: REGION, pairs });
      tputRows.push({ ms, method, ...r });
      figures[`overhead_pct_${ms}ms_${methodKey(method)}`] = r.overheadPct;
      figures[`ops_per_s_${ms}ms_${methodKey(method)}`] = r.onOpsPerS;
      figures[`ops_per_s_off_${ms}ms_${methodKey(method)}`] = r.offOpsPerS;
      figures[`checkpoints_per_s_${ms}ms_${methodKey(method)}`] = r.checkpointsPerS;
    }
  }
  // (d') overhead at 1 ms hybrid as the written region (the dirty pages per checkpoint) grows.
  const regionRows: Array<{ region: number } & OverheadRun> = [];
  for (const region of quick ? [] : REGIONS) {
    log(`overhead: checkpoint-ms=1 hybrid region=${region}, ${pairs} off/on pairs`);
    const r = await pairedOverhead({ periodMs: 1, method: "hybrid", region, pairs });
    regionRows.push({ region, ...r });
    figures[`overhead_pct_1ms_hybrid_region_${region}`] = r.overheadPct;
  }

  // (e) resume vs image size.
  const resumeRows: ResumeRow[] = [];
  for (const mb of imageSizes) {
    log(`resume: image ${mb} MiB`);
    const row = await measureResume(mb, quick ? 1 : 5);
    resumeRows.push(row);
    if (row.error === undefined) {
      figures[`resume_ms_${mb}mb`] = row.resumeReadyMs!;
      figures[`resume_wall_ms_${mb}mb`] = row.resumeWallMs!;
      figures[`resume_minus_floor_ms_${mb}mb`] = row.resumeReadyMs! - row.floorMs!;
      figures[`cold_boot_ms_${mb}mb`] = row.freshReadyMs! + row.readFileMs!;
      figures[`worker_floor_ms_${mb}mb`] = row.floorMs!;
    }
  }
  const okResume = resumeRows.filter((r) => r.error === undefined);
  if (okResume.length) {
    const diffs = okResume.map((r) => r.resumeReadyMs! - r.floorMs!);
    figures.resume_minus_floor_max_ms = Math.max(...diffs);
    figures.resume_spread_ms = Math.max(...okResume.map((r) => r.resumeReadyMs!)) -
      Math.min(...okResume.map((r) => r.resumeReadyMs!));
  }
  figures.bench_seconds = (performance.now() - t0) / 1000;
  const loadAfter = loadAverage();

  // ---- report ----
  const cmd = `deno task bench checkpoint${quick ? " --quick" : ""}`;
  const out: string[] = [];
  out.push(
    `checkpoint benchmark${quick ? " (quick)" : ""}: real machines, ckload app (timerMs=1), ` +
      `${navigator.hardwareConcurrency} cores, ${
        figures.bench_seconds.toFixed(0)
      } s; pause runs ${pauseMs} ms after "ckload ready"; ` +
      `first ${WARMUP_CHECKPOINTS} checkpoints after it not counted`,
    `load average (1/5/15 min) before: ${loadBefore}, after: ${loadAfter} ` +
      "(the bench's own machines included; other processes on these cores distort the figures)",
    "",
  );
  out.push(
    pauseTable("(a) pause vs dirty pages per tick (objects=1000, hybrid)", "pages", byPages),
  );
  out.push("");
  out.push(
    pauseTable(
      "(b) pause vs kernel objects (pages=64, touch=1: one cap minted+deleted per tick, hybrid)",
      "objects",
      byObjects,
    ),
  );
  out.push("");
  out.push(pauseTable("(c) copy methods (pages=64, objects=1000)", "method", byMethod as never));
  out.push("");
  out.push(
    overheadTable(
      `(d) runtime overhead: ckload flat out (0.2 ms write bursts between safe points, ${REGION} ` +
        `pages), ${pairs} off/on window pairs per row in one machine`,
      "period/method",
      tputRows.map((r) => [`${r.ms} ms ${r.method}`, r]),
    ),
  );
  out.push(
    "  ops/s: medians of the windows; overhead: median over the pairs of 1 − on ÷ off; " +
      'ckpt/s: checkpoints committed per second of "on" windows',
  );
  if (regionRows.length > 0) {
    out.push("");
    out.push(
      overheadTable(
        "(d') overhead at 1 ms hybrid vs pages the writer dirties",
        "region (pages)",
        regionRows.map((r) => [String(r.region), r]),
      ),
    );
  }
  out.push("");
  {
    const w = [8, 12, 12, 10, 12, 14, 12, 16];
    out.push("(e) resume vs image size (no apps: 5 threads)");
    out.push(pad([
      "image",
      "resume ms",
      "resume wall",
      "floor ms",
      "resume-floor",
      "fresh boot ms",
      "readFile ms",
      "cold boot+read",
    ], w));
    for (const r of resumeRows) {
      if (r.error !== undefined) {
        out.push(`${`${r.imageMb} MiB`.padEnd(w[0])} did not complete: ${r.error}`);
        continue;
      }
      out.push(pad([
        `${r.imageMb} MiB`,
        f1(r.resumeReadyMs),
        f1(r.resumeWallMs),
        f1(r.floorMs),
        f1(r.resumeReadyMs! - r.floorMs!),
        f1(r.freshReadyMs),
        f1(r.readFileMs),
        f1(r.freshReadyMs! + r.readFileMs!),
      ], w));
    }
    out.push(
      "  resume ms / fresh boot ms: the `ready` line's ms (board start to ready, median of " +
        `${quick ? 1 : 5} resumes); resume wall: spawn of the process to the ready line ` +
        "(includes Deno start-up); floor: 5 empty Workers started from this process's main " +
        'thread until each posted "up" (median of 5); readFile: Deno.readFile of a data file ' +
        "of the image's size just written (page cache warm); images hold only the system's own " +
        "state (no data fill)",
    );
  }
  out.push("");
  const g = (v: number | undefined, goal: number, unit: string, le = true) =>
    v === undefined || Number.isNaN(v)
      ? "not measured"
      : `${f1(v)} ${unit} (goal ${le ? "≤" : "≥"} ${goal} ${unit}: ${
        (le ? v <= goal : v >= goal) ? "met" : "NOT met"
      })`;
  out.push("goals:");
  out.push(`  pause median at 64 pages / 1000 objects: ${g(figures.pause_median_us, 100, "µs")}`);
  out.push(`  pause p99 at 64 pages / 1000 objects:    ${g(figures.pause_p99_us, 1000, "µs")}`);
  out.push(
    `  overhead at 1 ms hybrid:                 ${g(figures.overhead_pct_1ms_hybrid, 10, "%")}`,
  );
  if (regionRows.length > 0) {
    const byRegion = [...regionRows.map((r) => [r.region, r.overheadPct]), [
      REGION,
      figures.overhead_pct_1ms_hybrid,
    ]];
    out.push(
      `  overhead at 1 ms hybrid by pages written per ms: ${
        byRegion.map(([r, v]) => `${r}: ${f1(v)} %`).join(", ")
      }`,
    );
  }
  out.push(
    `  resume above the floor (worst size):     ${g(figures.resume_minus_floor_max_ms, 20, "ms")}` +
      `; spread across sizes ${f1(figures.resume_spread_ms)} ms`,
  );
  out.push(`reproduce: ${cmd}`);
  return { figures, report: out.join("\n") };
}

if (import.meta.main) await runBenchCli(benchCheckpoint);
