/**
 * bench kv (tools/bench/kv.ts, tools/bench/redis_benchmark.ts): the parsing
 * of redis-benchmark's `--csv` output, recorded from redis-benchmark 7.0.15,
 * the flat figures built from it, and the JSON a tiny real run prints. No
 * timed assertions: the figures are checked for presence and arithmetic.
 *
 * Run: `deno test --unstable-worker-options --allow-read --allow-write --allow-run --allow-env --allow-net tests/tools/bench/kv_test.ts`.
 */

import assert from "node:assert/strict";
import { runBench } from "./run_bench.ts";
import { parseBenchmarkCsv } from "../../../tools/bench/redis_benchmark.ts";
import {
  kvFigures,
  type KvMeasured,
  SHAPES,
  SWEEP_MS,
  TARGETS,
  testKey,
} from "../../../tools/bench/kv.ts";

/** `redis-benchmark -p P -n 200 -c 5 --csv` against redis-server 7.0.15 (the default list). */
const DEFAULT_LIST_CSV =
  `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"PING_INLINE","25000.00","0.161","0.024","0.111","0.143","2.799","2.823"
"PING_MBULK","25000.00","0.160","0.024","0.111","0.151","2.911","2.943"
"SET","25000.00","0.161","0.024","0.111","0.175","2.887","2.903"
"GET","25000.00","0.161","0.032","0.135","0.167","1.783","1.815"
"INCR","25000.00","0.164","0.024","0.127","0.159","2.167","2.191"
"LPUSH","25000.00","0.169","0.032","0.151","0.239","1.127","1.167"
"RPUSH","12500.00","0.332","0.032","0.151","0.231","9.159","9.175"
"LPOP","28571.43","0.150","0.024","0.111","0.167","2.103","2.135"
"RPOP","22222.22","0.199","0.024","0.111","0.191","4.247","4.271"
"SADD","12500.00","0.387","0.024","0.095","2.119","6.375","6.399"
"HSET","20000.00","0.200","0.024","0.103","0.647","2.703","2.735"
"SPOP","25000.00","0.149","0.008","0.055","0.207","2.583","2.623"
"ZADD","20000.00","0.214","0.024","0.071","1.135","1.295","1.327"
"ZPOPMIN","12500.00","0.308","0.032","0.127","0.911","3.575","3.607"
"LPUSH (needed to benchmark LRANGE)","25000.00","0.163","0.024","0.111","0.271","2.303","2.335"
"LRANGE_100 (first 100 elements)","16666.67","0.252","0.040","0.183","0.311","3.375","3.399"
"LRANGE_300 (first 300 elements)","16666.67","0.253","0.072","0.255","0.319","0.423","0.511"
"LRANGE_500 (first 500 elements)","16666.67","0.265","0.088","0.247","0.391","0.631","0.663"
"LRANGE_600 (first 600 elements)","16666.67","0.261","0.168","0.183","0.287","2.775","2.783"
"MSET (10 keys)","18181.82","0.245","0.040","0.143","0.239","5.055","5.071"
`;

/** `redis-benchmark -p P -t set,get,incr -n 2000 -c 5 --csv`, the same server. */
const MATRIX_CSV =
  `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","20833.33","0.197","0.016","0.111","0.279","3.231","5.239"
"GET","31250.00","0.147","0.024","0.111","0.143","0.191","17.871"
"INCR","25000.00","0.164","0.024","0.127","0.159","2.167","2.191"
`;

Deno.test("parseBenchmarkCsv reads every test of a recorded default run, names with spaces kept", () => {
  const rows = parseBenchmarkCsv(DEFAULT_LIST_CSV);
  assert.equal(rows.length, 20);
  assert.deepEqual(rows[15], {
    test: "LRANGE_100 (first 100 elements)",
    rps: 16666.67,
    avgMs: 0.252,
    minMs: 0.04,
    p50Ms: 0.183,
    p95Ms: 0.311,
    p99Ms: 3.375,
    maxMs: 3.399,
  });
  assert.equal(rows[19].test, "MSET (10 keys)");
  assert.equal(rows[2].test, "SET");
  assert.equal(rows[2].p99Ms, 2.887);
});

Deno.test("parseBenchmarkCsv skips the header and warnings; a row without latencies has NaN there", () => {
  const rows = parseBenchmarkCsv(
    'WARNING: Could not fetch server CONFIG\n"test","rps"\n"SET","1234.50"\n"a ""quoted"" test","7"\n',
  );
  assert.equal(rows.length, 2);
  assert.equal(rows[0].rps, 1234.5);
  assert.ok(Number.isNaN(rows[0].p50Ms));
  assert.equal(rows[1].test, 'a "quoted" test');
});

/** A measurement in which every target ran the recorded matrix; Tardigrade's SET rps is `ours`. */
function recorded(ours: number | undefined): KvMeasured {
  const matrixResult = { rows: parseBenchmarkCsv(MATRIX_CSV), ok: true };
  const m: KvMeasured = {
    requests: 2000,
    matrix: {},
    problems: {},
    sweep: {},
    defaultList: { redis: { rows: parseBenchmarkCsv(DEFAULT_LIST_CSV), ok: true } },
  };
  for (const target of TARGETS) {
    if (target === "tardigrade" && ours === undefined) continue;
    m.matrix[target] = Object.fromEntries(SHAPES.map((s) => [s.name, matrixResult]));
  }
  if (ours !== undefined) {
    const tardigrade = {
      rows: matrixResult.rows.map((r) => r.test === "SET" ? { ...r, rps: ours } : r),
      ok: true,
    };
    m.matrix.tardigrade = Object.fromEntries(SHAPES.map((s) => [s.name, tardigrade]));
    for (const ms of SWEEP_MS) m.sweep[ms] = tardigrade;
    m.defaultList.tardigrade = {
      rows: parseBenchmarkCsv(DEFAULT_LIST_CSV).filter((r) => r.test !== "ZPOPMIN"),
      ok: false,
    };
  } else m.problems.tardigrade = "did not start";
  return m;
}

Deno.test("kvFigures: the issue's keys, the ratios against each Redis, the sweep and the default list", () => {
  const f = kvFigures(recorded(41666.66));
  for (const key of ["set_ratio_vs_redis_always", "set_ratio_vs_redis_no_aof", "set_p50_ms_c1"]) {
    assert.equal(typeof f[key], "number", key);
  }
  assert.equal(f.set_ratio_vs_redis_always, 41666.66 / 20833.33);
  assert.equal(f.set_ratio_vs_redis_no_aof, 41666.66 / 20833.33);
  assert.equal(f.get_c50_p16_ratio_vs_redis_everysec, 1);
  assert.equal(f.set_p50_ms_c1, 0.111);
  assert.equal(f.redis_always_incr_c50_p99_ms, 2.167);
  for (const ms of ["off", "1ms", "5ms", "10ms", "50ms"]) {
    assert.equal(f[`sweep_${ms}_set_c50_rps`], 41666.66, ms);
  }
  assert.equal(f.default_list_tests, 20);
  assert.equal(f.default_list_passed, 19, "ZPOPMIN missing from the store's run: failed");
  assert.equal(f[`default_${testKey("LRANGE_600 (first 600 elements)")}_rps`], 16666.67);
  assert.equal(f.tardigrade_ok, 1);
  for (const [k, v] of Object.entries(f)) assert.ok(Number.isFinite(v), `${k} is ${v}`);
});

Deno.test("kvFigures: a store that did not start gives no ratios and no passed tests", () => {
  const f = kvFigures(recorded(undefined));
  assert.equal(f.tardigrade_ok, 0);
  assert.equal(f.set_ratio_vs_redis_always, undefined);
  assert.equal(f.set_p50_ms_c1, undefined);
  assert.equal(f.default_list_passed, 0);
  assert.equal(f.redis_no_aof_set_c1_rps, 20833.33);
});

Deno.test({
  name:
    "bench kv --json --requests 200 prints one JSON object of flat numbers with the issue's keys",
  async fn() {
    const out = await runBench("kv", ["--json", "--requests", "200"]);
    const stderr = out.stderr;
    assert.ok(out.success, `bench kv failed: ${stderr.slice(-2000)}`);
    const figures = JSON.parse(out.stdout.trim());
    for (const [k, v] of Object.entries(figures)) assert.equal(typeof v, "number", k);
    assert.equal(figures.tardigrade_ok, 1, stderr.slice(-2000));
    for (const key of ["set_ratio_vs_redis_always", "set_ratio_vs_redis_no_aof", "set_p50_ms_c1"]) {
      assert.equal(
        typeof figures[key],
        "number",
        `${key} missing; the bench said: ${stderr.slice(-2000)}`,
      );
    }
    assert.equal(figures.requests, 200);
  },
});
