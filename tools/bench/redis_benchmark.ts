/**
 * Driving `redis-benchmark` and `redis-server` for `deno task bench kv`
 * (tools/bench/kv.ts): the runs, the parsing of `--csv` output, and real
 * Redis servers started with their data directory in a fresh folder on disk.
 *
 * Map of this file:
 * - {@link parseBenchmarkCsv}: redis-benchmark's `--csv` lines as rows (rps
 *   and, in Redis 7, avg/min/p50/p95/p99/max latency in ms).
 * - {@link runBenchmark}: one `redis-benchmark` invocation, bounded by a
 *   timeout (a target that stops answering is a failed run, not a hang).
 * - {@link RedisServer}: a `redis-server` on a free port of 127.0.0.1 with
 *   one persistence configuration (no AOF, AOF everysec, AOF always).
 *
 * @module
 */

import { RedisProcess } from "../redis_process.ts";

/** One row of redis-benchmark's `--csv` output: one test. */
export interface BenchmarkRow {
  /** The test's name as redis-benchmark prints it ("SET", "LRANGE_100 (first 100 elements)"). */
  test: string;
  /** Requests per second. */
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The columns redis-benchmark 7 prints, in order, after the test name. */
const CSV_COLUMNS = [
  "rps",
  "avg_latency_ms",
  "min_latency_ms",
  "p50_latency_ms",
  "p95_latency_ms",
  "p99_latency_ms",
  "max_latency_ms",
] as const;

/** The fields of a CSV line: double-quoted, `""` for a quote inside. */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (; i < line.length; i++) {
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i++;
        } else if (line[i] === '"') break;
        else value += line[i];
      }
      fields.push(value);
      i += 2; // the closing quote and the comma
    } else {
      const end = line.indexOf(",", i);
      fields.push(line.slice(i, end === -1 ? line.length : end));
      i = end === -1 ? line.length : end + 1;
    }
  }
  return fields;
}

/**
 * Parses redis-benchmark's `--csv` output into rows; the header line and
 * anything that is not a row of numbers (warnings) are skipped. A row
 * without the latency columns (redis-benchmark before 7) has NaN there.
 *
 * @example
 * ```ts
 * parseBenchmarkCsv('"test","rps"\n"SET","20833.33"\n')[0].rps; // 20833.33
 * ```
 */
export function parseBenchmarkCsv(text: string): BenchmarkRow[] {
  const rows: BenchmarkRow[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith('"')) continue;
    const [test, ...rest] = csvFields(line);
    if (test === "test" || rest.length === 0) continue;
    const n = CSV_COLUMNS.map((_, i) => (i < rest.length ? Number(rest[i]) : NaN));
    if (!Number.isFinite(n[0])) continue;
    rows.push({
      test,
      rps: n[0],
      avgMs: n[1],
      minMs: n[2],
      p50Ms: n[3],
      p95Ms: n[4],
      p99Ms: n[5],
      maxMs: n[6],
    });
  }
  return rows;
}

/** One redis-benchmark invocation. */
export interface BenchmarkRun {
  port: number;
  /** `-t`: the tests (none: redis-benchmark's default list). */
  tests?: string[];
  /** `-n`: requests per test. */
  requests: number;
  /** `-c`: parallel connections. */
  clients: number;
  /** `-P`: requests pipelined per connection (1: none). */
  pipeline?: number;
  /** Longest the run may take before it is killed and counted as failed. */
  timeoutMs: number;
}

/** What a run gave: its rows, and whether it ended by itself with exit code 0. */
export interface BenchmarkResult {
  rows: BenchmarkRow[];
  ok: boolean;
  /** Why it failed: timed out, the exit code, the end of stderr. */
  problem?: string;
}

/** The command line of a run (for the report and for reproducing it). */
export function benchmarkArgs(r: BenchmarkRun): string[] {
  const args = ["-h", "127.0.0.1", "-p", String(r.port), "-n", String(r.requests)];
  args.push("-c", String(r.clients));
  if ((r.pipeline ?? 1) > 1) args.push("-P", String(r.pipeline));
  if (r.tests) args.push("-t", r.tests.join(","));
  args.push("--csv");
  return args;
}

/** Runs redis-benchmark once; a run past its timeout is killed and reported, with the rows so far. */
export async function runBenchmark(r: BenchmarkRun): Promise<BenchmarkResult> {
  const child = new Deno.Command("redis-benchmark", {
    args: benchmarkArgs(r),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, r.timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const rows = parseBenchmarkCsv(new TextDecoder().decode(out.stdout));
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (timedOut) return { rows, ok: false, problem: `timed out after ${r.timeoutMs} ms` };
  if (!out.success) {
    return { rows, ok: false, problem: `exit code ${out.code}: ${stderr.slice(-300)}` };
  }
  return { rows, ok: true };
}

/** Longest {@link waitForIdle} waits. */
const IDLE_WAIT_MS_MAX = 10_000;
/** Between two looks of {@link waitForIdle}. */
const IDLE_POLL_MS = 20;

/** `connected_clients` from `INFO clients` on `port` (this connection included). */
async function connectedClients(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("INFO clients\r\n"));
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const match = /connected_clients:(\d+)/.exec(text);
      if (match) return Number(match[1]);
      const n = await conn.read(buf);
      if (n === null) throw new Error(`port ${port} closed the connection before INFO clients`);
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/**
 * Waits until the server on `port` has no client but the one asking (the
 * last run's connections are gone), at most IDLE_WAIT_MS_MAX, so that each
 * run starts with the NIC table (128 entries) free of the last run's
 * closing connections, and runs measure one test each.
 */
export async function waitForIdle(port: number): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < IDLE_WAIT_MS_MAX) {
    try {
      if (await connectedClients(port) <= 1) return;
    } catch { /* refused while the table is full: look again */ }
    await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
  }
}

/** How a real Redis keeps its data. */
export type RedisPersistence = "no-aof" | "aof-everysec" | "aof-always";

/** Every persistence configuration the bench compares, in order. */
export const REDIS_PERSISTENCE: RedisPersistence[] = ["no-aof", "aof-everysec", "aof-always"];

/** The redis-server flags of each configuration (no RDB snapshots in any). */
const PERSISTENCE_FLAGS: Record<RedisPersistence, string[]> = {
  "no-aof": ["--appendonly", "no"],
  "aof-everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
  "aof-always": ["--appendonly", "yes", "--appendfsync", "always"],
};

/** True when `dir` is on a tmpfs (by /proc/mounts; false where that cannot be read). */
export function onTmpfs(dir: string): boolean {
  let mounts: string;
  try {
    mounts = Deno.readTextFileSync("/proc/mounts");
  } catch {
    return false;
  }
  let best = "";
  let type = "";
  for (const line of mounts.split("\n")) {
    const [, point, fsType] = line.split(" ");
    if (!point || !fsType) continue;
    const inside = dir === point || dir.startsWith(point.endsWith("/") ? point : `${point}/`);
    if (inside && point.length >= best.length) [best, type] = [point, fsType];
  }
  return type === "tmpfs" || type === "ramfs";
}

/**
 * A fresh directory on disk for a Redis data directory: the system's
 * temporary folder unless that is a tmpfs (an fsync there costs nothing),
 * else one under `.tardigrade/` in the working directory.
 */
export function diskTempDir(label: string): string {
  const dir = Deno.makeTempDirSync({ prefix: `tardigrade-${label}-` });
  if (!onTmpfs(dir)) return dir;
  Deno.removeSync(dir, { recursive: true });
  Deno.mkdirSync(".tardigrade", { recursive: true });
  return Deno.makeTempDirSync({ dir: `${Deno.cwd()}/.tardigrade`, prefix: `${label}-` });
}

/** A redis-server on a free port of 127.0.0.1 with one persistence configuration. */
export class RedisServer {
  private constructor(
    readonly persistence: RedisPersistence,
    private readonly redis: RedisProcess,
  ) {}

  /** Its port. */
  get port(): number {
    return this.redis.port;
  }

  /** Starts one with its data directory in a fresh folder on disk; resolves once it accepts. */
  static async start(persistence: RedisPersistence): Promise<RedisServer> {
    const redis = await RedisProcess.start(
      PERSISTENCE_FLAGS[persistence],
      diskTempDir(`redis-${persistence}`),
    );
    return new RedisServer(persistence, redis);
  }

  /** Stops the server and removes its data directory. */
  stop(): Promise<void> {
    return this.redis.stop();
  }
}
