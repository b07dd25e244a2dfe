/**
 * KV benchmark: Tardigrade's Redis-protocol store (`--apps kv`, behind its
 * own switch) beside a real `redis-server` started here, in the same run,
 * three times: no AOF, AOF with `appendfsync everysec`, AOF with
 * `appendfsync always` (each with its data directory in a fresh folder on
 * disk), all driven by `redis-benchmark`.
 *
 * Map of this file:
 * - the matrix: SET, GET, INCR at `-c 1`, `-c 50` and `-c 50 -P 16` against
 *   every target ({@link SHAPES});
 * - TreeSLS's interval sweep: Tardigrade with checkpoints off, 1, 5, 10 and
 *   50 ms for SET `-c 50` ({@link SWEEP_MS});
 * - redis-benchmark's default test list (no `-t`) against Tardigrade, each
 *   test passed or failed against the list Redis (no AOF) ran;
 * - the store's heap bytes per key (tools/bench/kv_memory.ts), `memory_*`;
 * - {@link kvFigures}: the flat JSON figures; {@link kvReport}: the table.
 *
 * Run: `deno task bench kv [--json] [--requests N] [--quick]`. `-c 1` runs
 * take N/20 requests (a round trip each), the rest N (default 5,000).
 *
 * @module
 */

import { Progress } from "../progress.ts";
import { requireCommand } from "../../tests/helpers.ts";
import { AppMachine } from "../app_machine.ts";
import { type KvMemoryFigures, measureMemoryPerKey } from "./kv_memory.ts";
import { type BenchCliOptions, runBenchCli } from "./cli.ts";
import {
  benchmarkArgs,
  type BenchmarkResult,
  type BenchmarkRow,
  REDIS_PERSISTENCE,
  type RedisPersistence,
  RedisServer,
  runBenchmark,
  waitForIdle,
} from "./redis_benchmark.ts";

/** The tests of the matrix (redis-benchmark `-t`), and their names in its output. */
export const MATRIX_TESTS = ["set", "get", "incr"] as const;

/** One load shape: connections and pipelining. */
export interface Shape {
  name: "c1" | "c50" | "c50_p16";
  clients: number;
  pipeline: number;
}

/** The load shapes of the matrix. */
export const SHAPES: readonly Shape[] = [
  { name: "c1", clients: 1, pipeline: 1 },
  { name: "c50", clients: 50, pipeline: 1 },
  { name: "c50_p16", clients: 50, pipeline: 16 },
];

/** Checkpoint periods of the sweep (0: checkpoints off). */
export const SWEEP_MS = [0, 1, 5, 10, 50] as const;

/** Every target of the matrix, by its key in the figures. */
export const TARGETS = ["redis_no_aof", "redis_everysec", "redis_always", "tardigrade"] as const;
/** A target of the matrix. */
export type Target = typeof TARGETS[number];

const REDIS_TARGET: Record<RedisPersistence, Target> = {
  "no-aof": "redis_no_aof",
  "aof-everysec": "redis_everysec",
  "aof-always": "redis_always",
};

/**
 * Requests per test by default (`--requests`): at the store's few hundred
 * SETs a second at -c 50 on a loaded 2-core host, 20,000 would take the
 * run well past three minutes.
 */
const REQUESTS_DEFAULT = 5_000;
/** Requests of the warm-up run before a target's matrix. */
const WARM_UP_REQUESTS = 2_000;
/** `-c 1` runs take this fraction of the requests: each is a whole round trip. */
const SINGLE_CLIENT_DIVISOR = 20;
/** The default list's tests take this fraction (twenty tests, LRANGE_600 among them). */
const DEFAULT_LIST_DIVISOR = 10;
/** Connections of the default-list run: redis-benchmark's own default. */
const DEFAULT_LIST_CLIENTS = 50;
/** A run may take this long at least before it is killed as hung... */
const RUN_TIMEOUT_MS_MIN = 30_000;
/** ...plus this much per request (a floor of 500 requests/s). */
const RUN_TIMEOUT_MS_PER_REQUEST = 2;

/** Everything one run measured. */
export interface KvMeasured {
  requests: number;
  /** Per target and shape: the run of `-t set,get,incr` (undefined: the target did not start). */
  matrix: Partial<Record<Target, Partial<Record<Shape["name"], BenchmarkResult>>>>;
  /** Why a target gave no figures. */
  problems: Partial<Record<Target | "sweep" | "default_list", string>>;
  /** Per checkpoint period: Tardigrade's SET -c 50. */
  sweep: Partial<Record<number, BenchmarkResult>>;
  /** redis-benchmark's default list against Redis (no AOF) and against Tardigrade. */
  defaultList: { redis?: BenchmarkResult; tardigrade?: BenchmarkResult };
  /** The store's heap bytes per key, field, element, member (tools/bench/kv_memory.ts). */
  memory?: KvMemoryFigures;
}

/** Requests of a run of `shape` when tests take `requests`. */
export function shapeRequests(shape: Shape, requests: number): number {
  return shape.clients === 1 ? Math.max(10, Math.ceil(requests / SINGLE_CLIENT_DIVISOR)) : requests;
}

function timeoutFor(requests: number, tests: number): number {
  return RUN_TIMEOUT_MS_MIN + requests * tests * RUN_TIMEOUT_MS_PER_REQUEST;
}

/**
 * A warm-up run, its figures dropped: a freshly booted store's first
 * requests pay for its JIT and its heap's first growth (the first -c 1 run
 * after a boot measured a third of the next). Every target gets one.
 */
async function warmUp(port: number, progress: (s: string) => void): Promise<void> {
  progress(`  warm-up: -n ${WARM_UP_REQUESTS} -c 50, not recorded`);
  await waitForIdle(port);
  await runBenchmark({
    port,
    tests: [...MATRIX_TESTS],
    requests: WARM_UP_REQUESTS,
    clients: 50,
    pipeline: 1,
    timeoutMs: timeoutFor(WARM_UP_REQUESTS, MATRIX_TESTS.length),
  });
}

/** The matrix against the server on `port`. */
async function measureMatrix(
  port: number,
  requests: number,
  progress: (s: string) => void,
): Promise<Partial<Record<Shape["name"], BenchmarkResult>>> {
  const out: Partial<Record<Shape["name"], BenchmarkResult>> = {};
  await warmUp(port, progress);
  for (const shape of SHAPES) {
    const n = shapeRequests(shape, requests);
    progress(`  ${shape.name}: -n ${n} -c ${shape.clients} -P ${shape.pipeline}`);
    // One invocation per test, each once the last one's clients are gone (see waitForIdle).
    const runs: BenchmarkResult[] = [];
    for (const test of MATRIX_TESTS) {
      await waitForIdle(port);
      runs.push(
        await runBenchmark({
          port,
          tests: [test],
          requests: n,
          clients: shape.clients,
          pipeline: shape.pipeline,
          timeoutMs: timeoutFor(n, 1),
        }),
      );
    }
    out[shape.name] = {
      rows: runs.flatMap((r) => r.rows),
      ok: runs.every((r) => r.ok),
      problem: runs.map((r) => r.problem).filter((p) => p).join("; ") || undefined,
    };
  }
  return out;
}

/** Starts the store with `--checkpoint-ms ms`, runs `body` against it, stops it. */
async function withStore<T>(ms: number, body: (port: number) => Promise<T>): Promise<T> {
  const m = await AppMachine.start("kv", {
    extra: ["--checkpoint-ms", String(ms)],
    label: "bench-kv",
  });
  try {
    return await body(m.port);
  } finally {
    await m.stop();
  }
}

/** The whole measurement: Redis three ways, the store, the sweep, the default list. */
export async function measureKv(
  requests: number,
  progress: (s: string) => void,
): Promise<KvMeasured> {
  const measured: KvMeasured = { requests, matrix: {}, problems: {}, sweep: {}, defaultList: {} };
  for (const persistence of REDIS_PERSISTENCE) {
    const target = REDIS_TARGET[persistence];
    progress(`redis-server, ${persistence}`);
    const redis = await RedisServer.start(persistence);
    try {
      measured.matrix[target] = await measureMatrix(redis.port, requests, progress);
      if (persistence === "no-aof") {
        progress("  the default test list");
        measured.defaultList.redis = await runDefaultList(redis.port, requests);
      }
    } finally {
      await redis.stop();
    }
  }
  progress("Tardigrade kv, checkpoint 1 ms");
  try {
    await withStore(1, async (port) => {
      measured.matrix.tardigrade = await measureMatrix(port, requests, progress);
    });
  } catch (e) {
    measured.problems.tardigrade = (e as Error).message;
  }
  if (measured.problems.tardigrade) {
    // The store did not start: the sweep and the default list would fail the same way.
    measured.problems.sweep = measured.problems.default_list = "skipped: the store did not start";
    return measured;
  }
  for (const ms of SWEEP_MS) {
    progress(`Tardigrade kv sweep: checkpoints ${ms === 0 ? "off" : `every ${ms} ms`}, SET -c 50`);
    try {
      measured.sweep[ms] = await withStore(ms, async (port) => {
        await warmUp(port, progress);
        await waitForIdle(port);
        return await runBenchmark({
          port,
          tests: ["set"],
          requests,
          clients: 50,
          timeoutMs: timeoutFor(requests, 1),
        });
      });
    } catch (e) {
      measured.problems.sweep = (e as Error).message;
    }
  }
  progress("Tardigrade kv: the default test list");
  try {
    measured.defaultList.tardigrade = await withStore(1, (port) => runDefaultList(port, requests));
  } catch (e) {
    measured.problems.default_list = (e as Error).message;
  }
  progress("the store's memory per key (tools/bench/kv_memory.ts)");
  measured.memory = measureMemoryPerKey();
  return measured;
}

/**
 * redis-benchmark's default list in one invocation, at DEFAULT_LIST_CLIENTS:
 * its tests follow each other at once, so the next test's clients connect
 * while the last test's are still closing.
 */
function runDefaultList(port: number, requests: number): Promise<BenchmarkResult> {
  const n = Math.max(10, Math.ceil(requests / DEFAULT_LIST_DIVISOR));
  return runBenchmark({
    port,
    requests: n,
    clients: DEFAULT_LIST_CLIENTS,
    timeoutMs: timeoutFor(n, 21),
  });
}

/** A test's name as a key part: "LRANGE_100 (first 100 elements)" → "lrange_100_first_100_elements". */
export function testKey(test: string): string {
  return test.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

function rowOf(r: BenchmarkResult | undefined, test: string): BenchmarkRow | undefined {
  return r?.rows.find((row) => row.test.toUpperCase() === test.toUpperCase());
}

/** Sets rps, p50 and p99 of `row` under `prefix` (nothing for a missing row). */
function putRow(f: Record<string, number>, prefix: string, row: BenchmarkRow | undefined): void {
  if (!row) return;
  f[`${prefix}_rps`] = row.rps;
  if (Number.isFinite(row.p50Ms)) f[`${prefix}_p50_ms`] = row.p50Ms;
  if (Number.isFinite(row.p99Ms)) f[`${prefix}_p99_ms`] = row.p99Ms;
}

/** Per default-list test of Redis: passed by Tardigrade (a row with rps above 0). */
export function defaultListOutcome(m: KvMeasured): Array<{ test: string; passed: boolean }> {
  const expected = m.defaultList.redis?.rows.map((r) => r.test) ?? [];
  return expected.map((test) => {
    const row = rowOf(m.defaultList.tardigrade, test);
    return { test, passed: row !== undefined && row.rps > 0 };
  });
}

/**
 * The flat figures: `TARGET_TEST_SHAPE_rps|_p50_ms|_p99_ms`, Tardigrade's
 * ratios against each Redis (`TEST_SHAPE_ratio_vs_TARGET`), the issue's
 * `set_ratio_vs_redis_always`, `set_ratio_vs_redis_no_aof` (SET -c 50) and
 * `set_p50_ms_c1`, the sweep (`sweep_off|1ms|…_set_c50_*`), the default
 * list (`default_list_tests`, `default_list_passed`, `default_TEST_rps`).
 * A figure that was not measured is left out; `tardigrade_ok` says whether
 * the store gave its matrix.
 */
export function kvFigures(m: KvMeasured): Record<string, number> {
  const f: Record<string, number> = { requests: m.requests };
  for (const target of TARGETS) {
    for (const shape of SHAPES) {
      for (const test of MATRIX_TESTS) {
        putRow(f, `${target}_${test}_${shape.name}`, rowOf(m.matrix[target]?.[shape.name], test));
      }
    }
  }
  for (const redis of TARGETS.filter((t) => t !== "tardigrade")) {
    for (const shape of SHAPES) {
      for (const test of MATRIX_TESTS) {
        const ours = f[`tardigrade_${test}_${shape.name}_rps`];
        const theirs = f[`${redis}_${test}_${shape.name}_rps`];
        if (ours !== undefined && theirs) {
          f[`${test}_${shape.name}_ratio_vs_${redis}`] = ours / theirs;
        }
      }
    }
    const set = f[`set_c50_ratio_vs_${redis}`];
    if (set !== undefined) f[`set_ratio_vs_${redis}`] = set;
  }
  const c1 = rowOf(m.matrix.tardigrade?.c1, "set");
  if (c1 && Number.isFinite(c1.p50Ms)) f.set_p50_ms_c1 = c1.p50Ms;
  if (c1 && Number.isFinite(c1.p99Ms)) f.set_p99_ms_c1 = c1.p99Ms;
  f.tardigrade_ok = m.matrix.tardigrade && !m.problems.tardigrade ? 1 : 0;
  for (const ms of SWEEP_MS) {
    putRow(f, `sweep_${ms === 0 ? "off" : `${ms}ms`}_set_c50`, rowOf(m.sweep[ms], "set"));
  }
  const outcome = defaultListOutcome(m);
  f.default_list_tests = outcome.length;
  f.default_list_passed = outcome.filter((o) => o.passed).length;
  for (const row of m.defaultList.tardigrade?.rows ?? []) {
    f[`default_${testKey(row.test)}_rps`] = row.rps;
  }
  for (const [k, v] of Object.entries(m.memory ?? {})) f[`memory_${k}`] = v;
  return f;
}

const TARGET_LABEL: Record<Target, string> = {
  redis_no_aof: "Redis, no AOF",
  redis_everysec: "Redis, AOF everysec",
  redis_always: "Redis, AOF always",
  tardigrade: "Tardigrade, checkpoint 1 ms",
};

const num = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);

/** The readable report: the matrix, the ratios, the sweep, the default list. */
export function kvReport(m: KvMeasured, f: Record<string, number>): string {
  const out: string[] = [
    `kv: redis-benchmark against real Redis and Tardigrade (--apps kv), ${m.requests} requests per test ` +
    `(-c 1: ${shapeRequests(SHAPES[0], m.requests)}); rps, p50 and p99 in ms`,
    "",
    "| target                      | load       | SET rps | p50 | p99 | GET rps | p50 | p99 | INCR rps | p50 | p99 |",
    "| --------------------------- | ---------- | ------: | --: | --: | ------: | --: | --: | -------: | --: | --: |",
  ];
  for (const target of TARGETS) {
    for (const shape of SHAPES) {
      const cells = MATRIX_TESTS.map((t) => {
        const k = `${target}_${t}_${shape.name}`;
        return `${num(f[`${k}_rps`])} | ${num(f[`${k}_p50_ms`], 3)} | ${num(f[`${k}_p99_ms`], 3)}`;
      });
      const load = `-c ${shape.clients}${shape.pipeline > 1 ? ` -P ${shape.pipeline}` : ""}`;
      out.push(
        `| ${TARGET_LABEL[target].padEnd(27)} | ${load.padEnd(10)} | ${cells.join(" | ")} |`,
      );
    }
  }
  out.push("", "Tardigrade ÷ Redis (rps):", "");
  out.push("| against             | load       |  SET |  GET | INCR |");
  out.push("| ------------------- | ---------- | ---: | ---: | ---: |");
  for (const redis of TARGETS.filter((t) => t !== "tardigrade")) {
    for (const shape of SHAPES) {
      const cells = MATRIX_TESTS.map((t) => num(f[`${t}_${shape.name}_ratio_vs_${redis}`], 2));
      const load = `-c ${shape.clients}${shape.pipeline > 1 ? ` -P ${shape.pipeline}` : ""}`;
      out.push(`| ${TARGET_LABEL[redis].padEnd(19)} | ${load.padEnd(10)} | ${cells.join(" | ")} |`);
    }
  }
  out.push("", "Interval sweep, Tardigrade SET -c 50:", "");
  out.push("| checkpoints | rps | p50 ms | p99 ms |", "| ----------- | --: | -----: | -----: |");
  for (const ms of SWEEP_MS) {
    const k = `sweep_${ms === 0 ? "off" : `${ms}ms`}_set_c50`;
    out.push(
      `| ${(ms === 0 ? "off" : `${ms} ms`).padEnd(11)} | ${num(f[`${k}_rps`])} | ${
        num(f[`${k}_p50_ms`], 3)
      } | ${num(f[`${k}_p99_ms`], 3)} |`,
    );
  }
  const outcome = defaultListOutcome(m);
  out.push(
    "",
    `redis-benchmark's default list against Tardigrade (-c ${DEFAULT_LIST_CLIENTS}): ${f.default_list_passed}/${f.default_list_tests} passed`,
    "",
    "| test | Tardigrade rps | Redis (no AOF) rps |",
    "| ---- | -------------: | -----------------: |",
  );
  for (const o of outcome) {
    const ours = rowOf(m.defaultList.tardigrade, o.test);
    const theirs = rowOf(m.defaultList.redis, o.test);
    out.push(`| ${o.test} | ${o.passed ? num(ours?.rps) : "FAILED"} | ${num(theirs?.rps)} |`);
  }
  if (m.memory) {
    out.push("", "The store's heap bytes (tools/bench/kv_memory.ts):", "");
    for (const [k, v] of Object.entries(m.memory)) out.push(`- ${k}: ${num(v, 1)}`);
  }
  for (const [what, why] of Object.entries(m.problems)) out.push(`problem (${what}): ${why}`);
  for (const r of [m.defaultList.tardigrade, ...Object.values(m.sweep)]) {
    if (r && !r.ok) out.push(`a run failed: ${r.problem}`);
  }
  out.push(
    "",
    `set_ratio_vs_redis_always ${num(f.set_ratio_vs_redis_always, 2)}, ` +
      `set_ratio_vs_redis_no_aof ${num(f.set_ratio_vs_redis_no_aof, 2)}, ` +
      `set_p50_ms_c1 ${num(f.set_p50_ms_c1, 3)}`,
    `each run (one per test, set|get|incr; -c 1 with N/${SINGLE_CLIENT_DIVISOR}; -P 16 added): redis-benchmark ${
      benchmarkArgs({
        port: 0,
        tests: ["set"],
        requests: m.requests,
        clients: 50,
        timeoutMs: 0,
      }).join(" ").replace("-p 0", "-p PORT")
    }`,
    "reproduce: deno task bench kv [--json] [--requests N]",
  );
  return out.join("\n");
}

/** Runs the KV benchmark. */
export async function benchKv(opts: BenchCliOptions) {
  await requireCommand("redis-server", "redis-server");
  await requireCommand("redis-benchmark", "redis-tools");
  const requests = opts.requests ?? (opts.quick ? 2000 : REQUESTS_DEFAULT);
  // The steps measureKv announces: each Redis, the store, the sweep, the default list, memory.
  const steps = REDIS_PERSISTENCE.length + 1 + SWEEP_MS.length + 2;
  const bar = new Progress({ name: "bench kv", total: steps, quiet: opts.quiet });
  const measured = await measureKv(requests, bar.stepLog()).finally(() => bar.end());
  const figures = kvFigures(measured);
  return { figures, report: kvReport(measured, figures) };
}

if (import.meta.main) await runBenchCli(benchKv);
