/**
 * File-system benchmark (issue 14 point 6): the same workloads
 * (tools/bench/fs_workloads.ts) against
 *
 * - Tardigrade: the bench program tests/programs/fsbench.ts inside a booted
 *   machine (checkpoints every 1 ms, the default), through `FsClient` and
 *   the FS server; it prints its timings on the console, which this bench
 *   reads. Three runs: no sync (`tardigrade_nosync`), `fsync` per
 *   operation (`tardigrade`: durable per operation) and one `sync()` per
 *   batch (`tardigrade_batch`); then the same program on a machine with
 *   checkpoints off (`tardigrade_ckpt_off`, no sync): the cost of IPC and
 *   the server without checkpoints, for the profile;
 * - the host file system from Deno in the same run (`HostFsApi` over a
 *   temporary directory on the host's disk): with fsync per operation
 *   (`host_fsync`, the durable comparison) and without (`host`);
 * - the storage in process (`LocalFsApi` over `openFsStore`, `local`): the
 *   cost without IPC or checkpoints, as context;
 *
 * and the flat-cost sweep (issue 14 point 2) in process.
 *
 * What "durable" means: on the host, the host's fsync returned (for a
 * name: `HostFsApi.sync()`, the fsync of every open file and of the root
 * directory; on ext4 one fsync commits the whole journal, so the names in
 * the subdirectories too); on Tardigrade, the checkpoint
 * covering the operation committed (`fsync`/`sync` of the client library
 * resolve then). The machine runs without `--fsync`, so that commit is in
 * the emulated NVM, not flushed to the host's disk.
 *
 * Map of this file:
 * - {@link VARIANTS}: what each figure prefix measured;
 * - {@link measureHost}, {@link measureLocal}, {@link measureTardigrade};
 * - {@link fsFigures}: the flat JSON figures and their ratios;
 *   {@link fsReport}: the tables.
 *
 * Run: `deno task bench fs [--json] [--quick]`.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import { type BenchCliOptions, type BenchResult, runBenchCli } from "./cli.ts";
import {
  type Durability,
  FLAT_FULL,
  FLAT_QUICK,
  flatCost,
  type FlatResult,
  type FlatSizes,
  type Measure,
  runSuite,
  type Sizes,
  SIZES_FULL,
  SIZES_QUICK,
  type SuiteResult,
  WORKLOADS,
} from "./fs_workloads.ts";
import { HostFsApi } from "../fs_host.ts";
import { LocalFsApi, storeBuffers } from "../fs_local.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { fsSegments } from "../../servers/init/config.ts";
import { fsMetaPagesFor, openFsStore } from "../../servers/fs/store/mod.ts";
import { failure, stop } from "./checkpoint_load.ts";
import { MachineProcess } from "../machine_process.ts";
import { removeImage, tempImage } from "../temp_image.ts";
import type { CheckpointStats } from "../../kernel/abi/protocol.ts";
import { dist } from "./stats.ts";

/**
 * What the measuring functions are doing: the detail of the progress line
 * while {@link measureFs} runs (tools/progress.ts), nothing otherwise.
 */
let log: (s: string) => void = () => {};

/** A figure prefix: which side, and which durability of the suite it took. */
export interface Variant {
  side: "tardigrade" | "tardigrade_ckpt_off" | "host" | "local";
  durability: Durability;
  label: string;
}

/** Every variant, by its prefix in the figures. */
export const VARIANTS = {
  tardigrade: { side: "tardigrade", durability: "each", label: "Tardigrade, fsync per op" },
  tardigrade_batch: {
    side: "tardigrade",
    durability: "batch",
    label: "Tardigrade, sync per batch",
  },
  tardigrade_nosync: { side: "tardigrade", durability: "none", label: "Tardigrade, no sync" },
  tardigrade_ckpt_off: {
    side: "tardigrade_ckpt_off",
    durability: "none",
    label: "Tardigrade, checkpoints off",
  },
  host_fsync: { side: "host", durability: "each", label: "host, fsync per op" },
  host: { side: "host", durability: "none", label: "host, no fsync" },
  local: { side: "local", durability: "none", label: "storage in process" },
} as const satisfies Record<string, Variant>;
/** A variant's prefix. */
export type VariantName = keyof typeof VARIANTS;

/** Everything one run measured. */
export interface FsMeasured {
  sizes: Sizes;
  suites: Partial<Record<Variant["side"], SuiteResult>>;
  /** Tardigrade's checkpoints during its run (checkpoints at 1 ms). */
  checkpoints?: CheckpointSummary;
  flat?: FlatResult;
  /** Why a side gave no figures. */
  problems: Partial<Record<Variant["side"] | "flat", string>>;
}

/** The host, in a temporary directory on disk: no fsync, then fsync per operation. */
export async function measureHost(sizes: Sizes): Promise<SuiteResult> {
  const host = new HostFsApi();
  try {
    return await runSuite(host, "/bench", ["none", "each"], sizes, {
      progress: (s) => log(`host: ${s}`),
    });
  } finally {
    host.dispose();
  }
}

/**
 * The storage in process over fresh memory objects laid out as the FS
 * server lays them out (servers/fs/main.ts: a metadata PMO of
 * `fsMetaPagesFor` and the data segments of `fsSegments`), for `fsMb` MiB
 * of file data.
 */
export function localFs(fsMb: number): LocalFsApi {
  const { segments, segmentPages } = fsSegments(fsMb * MB_PAGES);
  const [meta, ...data] = storeBuffers(segmentPages, segments).map((b) => new PersistentMemory(b));
  return new LocalFsApi(openFsStore(meta, data, () => Date.now()).fs);
}

/** The storage in process, without IPC or checkpoints. */
export function measureLocal(sizes: Sizes): Promise<SuiteResult> {
  return runSuite(localFs(fsMbFor(sizes)), "/bench", ["none"], sizes, {
    progress: (s) => log(`in process: ${s}`),
  });
}

/** The flat-cost sweep, in process: a store big enough for the largest file. */
export function measureFlat(sizes: FlatSizes): Promise<FlatResult> {
  const mb = Math.ceil(Math.max(...sizes.fileBytes) / (1 << 20) * 1.25 + 16);
  return flatCost(localFs(mb), "/flat", sizes, { progress: (s) => log(`flat, in process: ${s}`) });
}

/** The bench program's path, as `--apps` takes it. */
export const FSBENCH_PROGRAM = "tests/programs/fsbench.ts";

/** The file-data MiB for `sizes`: the random file, the durable sequential one, small files. */
export function fsMbFor(sizes: Sizes): number {
  const bytes = sizes.randFileBytes + sizes.seqDurableBytes + sizes.smallFiles * 8192;
  return Math.ceil(bytes / (1 << 20) * 1.25 + 8);
}

/** 4 KiB pages in a MiB. */
const MB_PAGES = (1 << 20) / PAGE_BYTES;

/** The MiB of the image beside the FS server's PMOs (kernel, the other servers, the program). */
const IMAGE_MB_BESIDE_FS = 96;

/** The image MiB for `fsMb` MiB of file data: the data segments, the metadata PMO, the rest. */
export function imageMbFor(fsMb: number): number {
  const { segments, segmentPages } = fsSegments(fsMb * MB_PAGES);
  const pages = segments * segmentPages;
  return Math.ceil((pages + fsMetaPagesFor(pages)) * PAGE_BYTES / (1 << 20)) + IMAGE_MB_BESIDE_FS;
}
/** Longest wait for `fsbench done`. */
const TARDIGRADE_TIMEOUT_MS = 15 * 60_000;

/** What one fsbench machine printed, and its checkpoints while the program ran. */
export interface FsbenchOutput {
  suite: SuiteResult;
  flat: FlatResult;
  checkpoints?: CheckpointSummary;
  /** Every checkpoint's statistics while the program ran (tools/bench/fs_pause.ts splits them). */
  checkpointStats?: CheckpointStats[];
}

/** The checkpoints of a run (`--report-checkpoints`), for the profile. */
export interface CheckpointSummary {
  /** Committed per second of the run (first report to `fsbench done`). */
  perSecond: number;
  pauseMedianUs: number;
  pauseP99Us: number;
  /** Dirty pages captured per checkpoint, mean. */
  dirtyPagesMean: number;
}

/** The summary of `stats` over `ms`; undefined for none. */
export function summariseCheckpoints(
  stats: CheckpointStats[],
  ms: number,
): CheckpointSummary | undefined {
  if (stats.length === 0 || !(ms > 0)) return undefined;
  const pause = dist(stats.map((s) => s.pauseUs));
  return {
    perSecond: stats.length / ms * 1000,
    pauseMedianUs: pause.median,
    pauseP99Us: pause.p99,
    dirtyPagesMean: stats.reduce((a, s) => a + s.dirtyPages, 0) / stats.length,
  };
}

/** Parses fsbench's console lines (see tests/programs/fsbench.ts); throws on its ERROR line. */
export function parseFsbench(lines: string[]): FsbenchOutput & { done: boolean } {
  const out: FsbenchOutput & { done: boolean } = {
    suite: {},
    flat: { dir: [], file: [] },
    done: false,
  };
  for (const line of lines) {
    const w = line.trim().split(" ");
    if (w[0] !== "fsbench") continue;
    if (w[1] === "ERROR") throw new Error(`fsbench: ${line.slice("fsbench ERROR ".length)}`);
    if (w[1] === "done") out.done = true;
    const n = w.slice(3).map(Number);
    if (w[1] === "M") {
      const [ops, ms, medianUs, p99Us, bytes] = n;
      out.suite[w[2]] = {
        ops,
        ms,
        perSecond: ops / ms * 1000,
        medianUs,
        p99Us,
        ...(bytes ? { bytes } : {}),
      };
    } else if (w[1] === "F" && w[2] === "dir") {
      out.flat.dir.push({ entries: n[0], create: n[1], stat: n[2], unlink: n[3] });
    } else if (w[1] === "F" && w[2] === "file") {
      out.flat.file.push({ bytes: n[0], pread: n[1], pwrite: n[2] });
    }
  }
  return out;
}

/**
 * Tardigrade: boots a fresh machine (checkpoints at the default 1 ms) with
 * the bench program as its one app, waits for `fsbench done` on the
 * console, shuts it down and reads the program's figures.
 */
export async function measureTardigrade(
  sizes: Sizes,
  quick: boolean,
  suite: "suite" | "flat" = "suite",
  extraArgs: string[] = [],
  appArgs = "",
  fsMb = fsMbFor(sizes),
): Promise<FsbenchOutput> {
  const image = tempImage("fsbench");
  const app = `${FSBENCH_PROGRAM}?quick=${quick ? 1 : 0}&suite=${suite}&timerMs=0${appArgs}`;
  const mp = MachineProcess.start(image, [
    "--fresh",
    "--image-mb",
    String(imageMbFor(fsMb)),
    "--fs-mb",
    String(fsMb),
    "--apps",
    app,
    "--report-checkpoints",
    ...extraArgs,
  ]);
  const lines: string[] = [];
  const stats: CheckpointStats[] = [];
  let firstStatsAt = 0, doneAt = 0;
  let doneResolve: () => void = () => {};
  const done = new Promise<void>((r) => (doneResolve = r));
  mp.onLine((l) => {
    if (l.t === "checkpoints" && doneAt === 0) {
      if (stats.length === 0) firstStatsAt = performance.now();
      stats.push(...l.stats);
    }
    if (l.t !== "console") return;
    for (const text of l.text.split("\n")) {
      if (!text.startsWith("fsbench")) continue;
      lines.push(text);
      log(`tardigrade: ${text}`);
      if (text === "fsbench done" || text.startsWith("fsbench ERROR")) {
        doneAt = performance.now();
        doneResolve();
      }
    }
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no "fsbench done" within ${TARDIGRADE_TIMEOUT_MS / 1000} s`)),
        TARDIGRADE_TIMEOUT_MS,
      );
    });
    const exited = mp.exited.then(async (st): Promise<never> => {
      throw new Error(
        `machine exited (code ${st.code}) before fsbench was done\n${mp.describeErrors()}${
          (await mp.stderr()).slice(-1500)
        }`,
      );
    });
    exited.catch(() => {});
    await Promise.race([done, timeout, exited, failure(mp)]);
    await stop(mp);
    const parsed = parseFsbench(lines);
    if (!parsed.done) throw new Error("fsbench printed no `fsbench done`");
    return {
      ...parsed,
      checkpoints: summariseCheckpoints(stats, doneAt - firstStatsAt),
      checkpointStats: stats,
    };
  } catch (e) {
    await mp.kill();
    throw e;
  } finally {
    clearTimeout(timer);
    removeImage(image);
  }
}

/** The sides {@link measureFs} runs: host, Tardigrade, Tardigrade with checkpoints off, local, flat. */
const FS_SIDES = 5;

/** Runs every side; a side that fails is a problem, not the end of the run. */
export async function measureFs(quick: boolean, quiet = false): Promise<FsMeasured> {
  const sizes = quick ? SIZES_QUICK : SIZES_FULL;
  const m: FsMeasured = { sizes, suites: {}, problems: {} };
  const bar = new Progress({ name: "bench fs", total: FS_SIDES, quiet });
  let done = 0;
  const attempt = async (
    what: Variant["side"] | "flat",
    run: () => Promise<void>,
  ): Promise<void> => {
    log = (s) => bar.update(done, s);
    log(`${what}...`);
    try {
      await run();
    } catch (e) {
      m.problems[what] = e instanceof Error ? e.message : String(e);
      bar.log(`bench fs: ${what}: ${m.problems[what]}`, console.error);
    } finally {
      done++;
      log = () => {};
    }
  };
  await attempt("host", async () => void (m.suites.host = await measureHost(sizes)));
  await attempt("tardigrade", async () => {
    const r = await measureTardigrade(sizes, quick);
    m.suites.tardigrade = r.suite;
    m.checkpoints = r.checkpoints;
  });
  // The same program with checkpoints off: what IPC and the server cost without them.
  await attempt("tardigrade_ckpt_off", async () => {
    m.suites.tardigrade_ckpt_off = (await measureTardigrade(
      sizes,
      quick,
      "suite",
      ["--checkpoint-ms", "0"],
      "&only=none",
    )).suite;
  });
  await attempt("local", async () => void (m.suites.local = await measureLocal(sizes)));
  await attempt(
    "flat",
    async () => void (m.flat = await measureFlat(quick ? FLAT_QUICK : FLAT_FULL)),
  );
  bar.end();
  return m;
}

/** The measure of `workload` for `variant`, if it ran. */
export function measureOf(
  m: FsMeasured,
  variant: VariantName,
  workload: string,
): Measure | undefined {
  const v: Variant = VARIANTS[variant];
  return m.suites[v.side]?.[`${workload}.${v.durability}`];
}

/** MB/s (10^6 bytes) of a transfer. */
export const mbPerS = (x: Measure) => (x.bytes ?? 0) / x.ms / 1000;

/** Is the workload a transfer (its figure MB/s rather than operations per second)? */
const isTransfer = (w: string) => w.startsWith("seq_");

/** The ratios of the figures: a Tardigrade or in-process variant ÷ a host variant, same workload. */
export const RATIOS: ReadonlyArray<[VariantName, VariantName, string]> = [
  ["tardigrade", "host_fsync", ""],
  ["tardigrade_batch", "host_fsync", "_batch"],
  ["tardigrade", "host", "_durable"],
  ["tardigrade_batch", "host", "_batch_durable"],
  ["tardigrade_nosync", "host", "_nosync"],
  ["tardigrade_ckpt_off", "host", "_ckpt_off"],
  ["local", "host", "_local"],
];

/**
 * The flat figures. Per variant and workload: `VARIANT_WORKLOAD_per_s`
 * (`_mb_per_s` for the sequential ones), `_median_us`, `_p99_us`. The
 * issue's `small_files_per_s` is Tardigrade's with fsync per file. Ratios
 * `WORKLOAD{SUFFIX}_ratio_vs_HOST` of {@link RATIOS} (e.g.
 * `small_files_ratio_vs_host_fsync`: Tardigrade fsync per op ÷ host fsync
 * per op; `small_files_batch_durable_ratio_vs_host`: sync per batch ÷ host
 * without fsync), each the quotient of the two `_per_s` (or `_mb_per_s`)
 * figures. Flat cost: `flat_dir_N_create_us` … and
 * `flat_dir_create_ratio` (largest ÷ smallest) and the like.
 */
export function fsFigures(m: FsMeasured): Record<string, number> {
  const f: Record<string, number> = {};
  const rate = (x: Measure, w: string) => (isTransfer(w) ? mbPerS(x) : x.perSecond);
  const unit = (w: string) => (isTransfer(w) ? "mb_per_s" : "per_s");
  for (const name of Object.keys(VARIANTS) as VariantName[]) {
    for (const [w] of WORKLOADS) {
      const x = measureOf(m, name, w);
      if (!x) continue;
      f[`${name}_${w}_${unit(w)}`] = rate(x, w);
      f[`${name}_${w}_median_us`] = x.medianUs;
      f[`${name}_${w}_p99_us`] = x.p99Us;
    }
  }
  for (const [ours, theirs, suffix] of RATIOS) {
    for (const [w] of WORKLOADS) {
      const a = f[`${ours}_${w}_${unit(w)}`];
      const b = f[`${theirs}_${w}_${unit(w)}`];
      if (a !== undefined && b) f[`${w}${suffix}_ratio_vs_${theirs}`] = a / b;
    }
  }
  if (f.tardigrade_small_files_per_s !== undefined) {
    f.small_files_per_s = f.tardigrade_small_files_per_s;
  }
  if (m.flat) {
    for (const r of m.flat.dir) {
      for (const op of ["create", "stat", "unlink"] as const) {
        f[`flat_dir_${r.entries}_${op}_us`] = r[op];
      }
    }
    for (const r of m.flat.file) {
      for (const op of ["pread", "pwrite"] as const) {
        f[`flat_file_${r.bytes >> 20}mib_${op}_us`] = r[op];
      }
    }
    const ratio = <T>(rows: T[], pick: (r: T) => number) =>
      rows.length > 1 ? pick(rows[rows.length - 1]) / pick(rows[0]) : undefined;
    for (const op of ["create", "stat", "unlink"] as const) {
      const r = ratio(m.flat.dir, (x) => x[op]);
      if (r !== undefined) f[`flat_dir_${op}_ratio`] = r;
    }
    for (const op of ["pread", "pwrite"] as const) {
      const r = ratio(m.flat.file, (x) => x[op]);
      if (r !== undefined) f[`flat_file_${op}_ratio`] = r;
    }
  }
  if (m.checkpoints) {
    f.tardigrade_checkpoints_per_s = m.checkpoints.perSecond;
    f.tardigrade_checkpoint_pause_median_us = m.checkpoints.pauseMedianUs;
    f.tardigrade_checkpoint_pause_p99_us = m.checkpoints.pauseP99Us;
    f.tardigrade_checkpoint_dirty_pages_mean = m.checkpoints.dirtyPagesMean;
  }
  f.tardigrade_ok = m.suites.tardigrade && !m.problems.tardigrade ? 1 : 0;
  return f;
}

const num = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);

/** What "durable" means on each side, as the report and the doc say it. */
export const DURABLE_MEANING = [
  "durable, host: the host's fsync returned (fsync per op: after each file's write, each",
  "  pwrite, the end of the sequential write; after each mkdir/rename/unlink HostFsApi's sync(),",
  "  the fsync of every open file and of the root directory: one ext4 journal commit).",
  "durable, Tardigrade: the checkpoint covering the operation committed (FsClient fsync/sync",
  "  resolve then), per op, or one sync() per batch of files/operations; the machine runs",
  "  without --fsync, so the commit is in the emulated NVM, not flushed to the host's disk.",
];

/** The readable report. */
export function fsReport(m: FsMeasured, f: Record<string, number>): string {
  const names = Object.keys(VARIANTS) as VariantName[];
  const s = m.sizes;
  const out: string[] = [
    `fs: ${s.smallFiles} small files (4 KiB), a ${s.randFileBytes >> 20} MiB file ` +
    `(${s.randOps} random 4 KiB ops, ${s.randOpsDurable} durable), ${s.metaOps} mkdir/rename, ` +
    `batch ${s.batch}; ops/s (MB/s for seq_*), median / p99 µs`,
    "",
    `| workload      | ${names.map((n) => VARIANTS[n].label.padEnd(26)).join(" | ")} |`,
    `| ------------- | ${names.map(() => "-".repeat(25) + ":").join(" | ")} |`,
  ];
  for (const [w] of WORKLOADS) {
    const cells = names.map((n) => {
      const x = measureOf(m, n, w);
      if (!x) return "—".padEnd(26);
      const r = isTransfer(w) ? `${num(mbPerS(x), 0)} MB/s` : `${num(x.perSecond)}/s`;
      return `${r} (${num(x.medianUs, 1)} / ${num(x.p99Us, 0)})`.padEnd(26);
    });
    out.push(`| ${w.padEnd(13)} | ${cells.join(" | ")} |`);
  }
  out.push("", "Ratios (same run):", "");
  out.push(`| workload      | ${RATIOS.map(([a, b]) => `${a} ÷ ${b}`).join(" | ")} |`);
  out.push(`| ------------- | ${RATIOS.map(() => "---:").join(" | ")} |`);
  for (const [w] of WORKLOADS) {
    const cells = RATIOS.map(([, b, suffix]) => num(f[`${w}${suffix}_ratio_vs_${b}`], 2));
    out.push(`| ${w.padEnd(13)} | ${cells.join(" | ")} |`);
  }
  out.push("", ...DURABLE_MEANING);
  if (m.checkpoints) {
    const c = m.checkpoints;
    out.push(
      "",
      `Tardigrade's checkpoints during its run: ${num(c.perSecond)}/s, pause median ${
        num(c.pauseMedianUs)
      } µs, p99 ${num(c.pauseP99Us)} µs, ${num(c.dirtyPagesMean, 1)} dirty pages each (mean)`,
    );
  }
  if (m.flat) {
    out.push("", "Flat cost, in process (median µs per operation):", "");
    out.push("| entries | create | stat | unlink |", "| ------: | -----: | ---: | -----: |");
    for (const r of m.flat.dir) {
      out.push(`| ${r.entries} | ${num(r.create, 1)} | ${num(r.stat, 1)} | ${num(r.unlink, 1)} |`);
    }
    out.push(
      `| largest ÷ smallest | ${num(f.flat_dir_create_ratio, 2)} | ${
        num(f.flat_dir_stat_ratio, 2)
      } | ${num(f.flat_dir_unlink_ratio, 2)} |`,
      "",
      "| file | pread 4 KiB | pwrite 4 KiB |",
      "| ---: | ----------: | -----------: |",
    );
    for (const r of m.flat.file) {
      out.push(`| ${r.bytes >> 20} MiB | ${num(r.pread, 1)} | ${num(r.pwrite, 1)} |`);
    }
    out.push(
      `| largest ÷ smallest | ${num(f.flat_file_pread_ratio, 2)} | ${
        num(f.flat_file_pwrite_ratio, 2)
      } |`,
    );
  }
  for (const [what, why] of Object.entries(m.problems)) out.push(`problem (${what}): ${why}`);
  out.push(
    "",
    `small_files_per_s ${num(f.small_files_per_s)}, small_files_ratio_vs_host_fsync ${
      num(f.small_files_ratio_vs_host_fsync, 2)
    }, rand_write_4k_ratio_vs_host_fsync ${num(f.rand_write_4k_ratio_vs_host_fsync, 2)}`,
    "reproduce: deno task bench fs [--json] [--quick]",
  );
  return out.join("\n");
}

/** Runs the file-system benchmark. */
export async function benchFs(opts: BenchCliOptions): Promise<BenchResult> {
  const measured = await measureFs(opts.quick, opts.quiet);
  const figures = fsFigures(measured);
  return { figures, report: fsReport(measured, figures) };
}

if (import.meta.main) await runBenchCli(benchFs);
