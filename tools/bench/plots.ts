/**
 * The plots of every benchmark, drawn from its flat figures (the same
 * object `--json` prints) by tools/plot/, and written beside its report
 * by {@link writeBenchPlots}. A benchmark that has samples the figures
 * leave out (ipc: every round trip) adds its own charts to its result.
 *
 * Map of this file: {@link FIGURE_PLOTS} (bench name → its charts:
 * memory, checkpoint, net, kv, fs), the chart builders per bench, and
 * {@link writeBenchPlots}.
 *
 * @module
 */

import { type Chart, runCaption, writeCharts } from "../plot/mod.ts";
import { figureBars, type Figures, figureSeries } from "../plot/figures.ts";
import type { BenchResult } from "./cli.ts";
import type { LoadAverage } from "../load_average.ts";

/** Per benchmark: its charts, from its figures. */
export const FIGURE_PLOTS: Record<string, (f: Figures) => Chart[]> = {
  memory: memoryPlots,
  checkpoint: checkpointPlots,
  net: netPlots,
  kv: kvPlots,
  fs: fsPlots,
};

function memoryPlots(f: Figures): Chart[] {
  const latency = figureBars(f, [["median", "median"], ["p99", "p99"]], [
    ["Tardigrade heap, lock per 1000 calls", "alloc_object"],
    ["Tardigrade heap, lock per call", "alloc_object_lock_per_call"],
    ["naive heap (JS Map)", "naive_alloc_object"],
  ], (s, g) => `${s}_${g}_ns`);
  const frames = figureBars(
    f,
    [
      ["4 KiB, 1 worker", "4k_ops_per_s_1w"],
      ["4 KiB, 2 workers", "4k_ops_per_s_2w"],
      ["2 MiB, 1 worker", "2m_ops_per_s_1w"],
      ["2 MiB, 2 workers", "2m_ops_per_s_2w"],
    ],
    [["LLFree", "frames"], ["naive allocator", "naive_frames"]],
    (s, g) => `${s}_${g}`,
  );
  return [
    {
      kind: "bars",
      name: "alloc_latency",
      title: "Object allocation latency, 32-byte objects, beside a naive heap",
      xTitle: "statistic over batches of 1000 calls",
      yTitle: "latency per allocation (ns, log scale)",
      yLog: true,
      ...latency,
    },
    {
      kind: "bars",
      name: "frames_throughput",
      title: "Page-frame alloc + free throughput beside a naive allocator",
      xTitle: "frame size, workers",
      yTitle: "operations per second",
      ...frames,
    },
  ];
}

const METHOD_LABELS: Array<[string, string]> = [
  ["stop-and-copy", "stop_and_copy"],
  ["copy on write", "cow"],
  ["hybrid", "hybrid"],
];

function checkpointPlots(f: Figures): Chart[] {
  const pause = (what: "pages" | "objects", xTitle: string): Chart => ({
    kind: "line",
    name: `pause_vs_${what}`,
    title: `Checkpoint pause against ${what === "pages" ? "dirty pages" : "kernel objects"}`,
    xTitle,
    yTitle: "pause (µs)",
    xLog: true,
    yLog: true,
    series: [
      figureSeries(f, "median", new RegExp(`^pause_median_us_${what}_(\\d+)$`)),
      figureSeries(f, "p99", new RegExp(`^pause_p99_us_${what}_(\\d+)$`)),
    ],
  });
  const perMethod = (prefix: string) =>
    METHOD_LABELS.map(([label, key]) =>
      figureSeries(f, label, new RegExp(`^${prefix}_(\\d+(?:\\.\\d+)?)ms_${key}$`))
    ).filter((s) => s.points.length > 0);
  return [
    pause("pages", "dirty pages per checkpoint"),
    pause("objects", "kernel objects"),
    {
      kind: "line",
      name: "overhead_vs_interval",
      title: "Throughput lost to checkpoints against the interval",
      xTitle: "checkpoint interval (ms)",
      yTitle: "overhead (% of throughput without checkpoints)",
      xLog: true,
      yFromZero: true,
      series: perMethod("overhead_pct"),
    },
    {
      kind: "line",
      name: "throughput_vs_interval",
      title: "Load throughput with checkpoints on and off against the interval",
      xTitle: "checkpoint interval (ms)",
      yTitle: "load operations per second",
      xLog: true,
      yFromZero: true,
      series: [
        ...perMethod("ops_per_s").map((s) => ({ ...s, label: `on, ${s.label}` })),
        { ...figureSeries(f, "off", /^ops_per_s_off_(\d+(?:\.\d+)?)ms_hybrid$/) },
      ],
    },
    {
      kind: "line",
      name: "resume_vs_image_size",
      title: "Resume against image size",
      xTitle: "image size (MiB)",
      yTitle: "time (ms)",
      xLog: true,
      yFromZero: true,
      series: [
        figureSeries(f, "resume to ready", /^resume_ms_(\d+)mb$/),
        figureSeries(f, "resume, process wall time", /^resume_wall_ms_(\d+)mb$/),
        figureSeries(f, "cold boot (fresh + read file)", /^cold_boot_ms_(\d+)mb$/),
        figureSeries(f, "worker start floor", /^worker_floor_ms_(\d+)mb$/),
      ],
    },
  ];
}

const NET_TARGETS: Array<[string, string]> = [
  ["plain Deno echo", "plain"],
  ["Tardigrade, checkpoints off", "off"],
  ["Tardigrade, checkpoint 1 ms", "1ms"],
];

function netPlots(f: Figures): Chart[] {
  return [
    {
      kind: "bars",
      name: "echo_rtt",
      title: "TCP echo round trip",
      xTitle: "statistic",
      yTitle: "round trip (µs, log scale)",
      yLog: true,
      ...figureBars(f, [["p50", "p50"], ["p99", "p99"]], NET_TARGETS, (s, g) => `rtt_${g}_us_${s}`),
    },
    {
      kind: "bars",
      name: "echo_stream",
      title: "TCP echo stream throughput",
      xTitle: "target",
      yTitle: "MB per second",
      ...figureBars(f, [["stream", "stream"]], NET_TARGETS, (s) => `stream_mb_per_s_${s}`),
    },
  ];
}

const KV_TARGETS: Array<[string, string]> = [
  ["Redis, no AOF", "redis_no_aof"],
  ["Redis, AOF everysec", "redis_everysec"],
  ["Redis, AOF always", "redis_always"],
  ["Tardigrade kv, checkpoint 1 ms", "tardigrade"],
];

const KV_SHAPES: Array<[string, string]> = [
  ["-c 1", "c1"],
  ["-c 50", "c50"],
  ["-c 50 -P 16", "c50_p16"],
];

const KV_SWEEP: Array<[string, string]> = [
  ["off", "off"],
  ["1 ms", "1ms"],
  ["5 ms", "5ms"],
  ["10 ms", "10ms"],
  ["50 ms", "50ms"],
];

function kvPlots(f: Figures): Chart[] {
  const groups = ["set", "get", "incr"].flatMap((t) =>
    KV_SHAPES.map(([label, s]) => [`${t.toUpperCase()} ${label}`, `${t}_${s}`] as [string, string])
  );
  return [
    {
      kind: "bars",
      name: "beside_redis",
      title: "KV throughput beside Redis (redis-benchmark), per test and load shape",
      xTitle: "test, connections (-c) and pipeline (-P)",
      yTitle: "requests per second (log scale)",
      yLog: true,
      ...figureBars(f, groups, KV_TARGETS, (s, g) => `${s}_${g}_rps`),
    },
    {
      kind: "bars",
      name: "sweep_rps",
      title: "KV SET -c 50 throughput against the checkpoint interval",
      xTitle: "checkpoint interval",
      yTitle: "requests per second",
      ...figureBars(f, KV_SWEEP, [["SET -c 50", "set_c50"]], (s, g) => `sweep_${g}_${s}_rps`),
    },
    {
      kind: "bars",
      name: "sweep_latency",
      title: "KV SET -c 50 latency against the checkpoint interval",
      xTitle: "checkpoint interval",
      yTitle: "latency (ms)",
      ...figureBars(
        f,
        KV_SWEEP,
        [["p50", "p50"], ["p99", "p99"]],
        (s, g) => `sweep_${g}_set_c50_${s}_ms`,
      ),
    },
  ];
}

const FS_WORKLOADS = [
  "small_files",
  "seq_write",
  "seq_read",
  "rand_write_4k",
  "rand_read_4k",
  "mkdir",
  "stat",
  "rename",
  "unlink",
  "stat_root",
  "sync_idle",
];

const FS_RATIOS: Array<[string, string]> = [
  ["Tardigrade fsync per op ÷ host fsync per op", "_ratio_vs_host_fsync"],
  ["Tardigrade sync per batch ÷ host fsync per op", "_batch_ratio_vs_host_fsync"],
  ["Tardigrade no sync ÷ host no fsync", "_nosync_ratio_vs_host"],
  ["in process ÷ host no fsync", "_local_ratio_vs_host"],
];

function fsPlots(f: Figures): Chart[] {
  const ratios = figureBars(
    f,
    FS_WORKLOADS.map((w) => [w, w]),
    FS_RATIOS,
    (s, g) => `${g}${s}`,
  );
  const flat = (
    name: string,
    title: string,
    xTitle: string,
    ops: string[],
    key: (op: string) => RegExp,
  ): Chart => ({
    kind: "line",
    name,
    title,
    xTitle,
    yTitle: "median time per operation (µs)",
    xLog: true,
    yFromZero: true,
    series: ops.map((op) => figureSeries(f, op, key(op))),
  });
  return [
    {
      kind: "bars",
      name: "ratios_to_host",
      title: "File system rates as ratios to the host's (above 1: faster than the host)",
      xTitle: "workload",
      yTitle: "rate ratio (log scale)",
      yLog: true,
      ...ratios,
    },
    flat(
      "flat_cost_dir",
      "Cost per directory operation against the entries in the directory",
      "entries in the directory",
      ["create", "stat", "unlink"],
      (op) => new RegExp(`^flat_dir_(\\d+)_${op}_us$`),
    ),
    flat(
      "flat_cost_file",
      "Cost per 4 KiB read and write against the file size",
      "file size (MiB)",
      ["pread", "pwrite"],
      (op) => new RegExp(`^flat_file_(\\d+)mib_${op}_us$`),
    ),
  ];
}

/**
 * Writes the plots of bench `name`'s `result` (from its figures, and its
 * own `plots`) into `dir` with the caption of `command`; returns the paths.
 */
export function writeBenchPlots(
  name: string,
  result: BenchResult,
  dir: string,
  command: string,
  load: LoadAverage | undefined,
): Promise<string[]> {
  const charts = [...(FIGURE_PLOTS[name]?.(result.figures) ?? []), ...(result.plots ?? [])];
  return writeCharts(dir, name, charts, runCaption(command, load));
}
