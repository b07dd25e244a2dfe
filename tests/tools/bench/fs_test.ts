/**
 * bench fs (tools/bench/fs.ts, tools/bench/fs_workloads.ts): the figures and
 * ratios built from measures, the parsing of the bench program's console
 * lines, the workloads against the host, and the JSON of a real
 * `--quick --json` run. No timed assertions: figures are checked for
 * presence, sign and arithmetic.
 *
 * Run: `deno test --unstable-worker-options --allow-read --allow-write --allow-run --allow-env --allow-net tests/tools/bench/fs_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runBench } from "./run_bench.ts";
import {
  fsFigures,
  type FsMeasured,
  parseFsbench,
  summariseCheckpoints,
} from "../../../tools/bench/fs.ts";
import type { CheckpointStats } from "../../../kernel/abi/protocol.ts";
import {
  DURABILITIES,
  type Measure,
  runSuite,
  type Sizes,
  WORKLOADS,
} from "../../../tools/bench/fs_workloads.ts";
import { HostFsApi } from "../../../tools/fs_host.ts";

/** A measure of `ops` operations in `ms`. */
const measure = (ops: number, ms: number, bytes?: number): Measure => ({
  ops,
  ms,
  perSecond: ops / ms * 1000,
  medianUs: ms * 1000 / ops,
  p99Us: ms * 2000 / ops,
  ...(bytes ? { bytes } : {}),
});

const TINY: Sizes = {
  smallFiles: 6,
  batch: 4,
  randFileBytes: 64 << 10,
  randOps: 10,
  randOpsDurable: 5,
  seqDurableBytes: 3 << 20,
  metaOps: 5,
};

function measured(): FsMeasured {
  return {
    sizes: TINY,
    suites: {
      host: {
        "small_files.none": measure(100, 10),
        "small_files.each": measure(100, 80),
        "rand_write_4k.each": measure(50, 20, 50 * 4096),
        "seq_write.none": measure(4, 2, 4 << 20),
      },
      tardigrade: {
        "small_files.none": measure(100, 20),
        "small_files.each": measure(100, 160),
        "small_files.batch": measure(100, 40),
        "rand_write_4k.each": measure(50, 40, 50 * 4096),
        "seq_write.none": measure(4, 1, 4 << 20),
      },
    },
    flat: {
      dir: [
        { entries: 10, create: 2, stat: 1, unlink: 2 },
        { entries: 1000, create: 3, stat: 1.5, unlink: 2 },
      ],
      file: [{ bytes: 1 << 20, pread: 4, pwrite: 5 }, { bytes: 64 << 20, pread: 6, pwrite: 5 }],
    },
    problems: {},
  };
}

Deno.test("fsFigures: the issue's keys, each ratio the quotient of the figures it is made of", () => {
  const f = fsFigures(measured());
  assert.equal(f.small_files_per_s, 625); // Tardigrade with fsync per file: 100 in 160 ms
  assert.equal(f.tardigrade_small_files_per_s, 625);
  assert.equal(f.host_fsync_small_files_per_s, 1250);
  assert.equal(f.small_files_ratio_vs_host_fsync, 0.5);
  assert.equal(f.small_files_batch_ratio_vs_host_fsync, 2500 / 1250);
  assert.equal(f.small_files_durable_ratio_vs_host, 625 / 10_000);
  assert.equal(f.small_files_nosync_ratio_vs_host, 5000 / 10_000);
  assert.equal(f.rand_write_4k_ratio_vs_host_fsync, 0.5);
  // Transfers compare in MB/s: 4 MiB in 1 ms against 4 MiB in 2 ms.
  assert.equal(f.tardigrade_nosync_seq_write_mb_per_s, (4 << 20) / 1000);
  assert.equal(f.seq_write_nosync_ratio_vs_host, 2);
  assert.equal(f.flat_dir_create_ratio, 1.5);
  assert.equal(f.flat_file_pread_ratio, 1.5);
  assert.equal(f.flat_dir_1000_stat_us, 1.5);
  assert.equal(f.tardigrade_ok, 1);
});

Deno.test("fsFigures: a side that did not run gives no figures and no ratios", () => {
  const m = measured();
  delete m.suites.tardigrade;
  m.problems.tardigrade = "did not boot";
  const f = fsFigures(m);
  assert.equal(f.small_files_per_s, undefined);
  assert.equal(f.small_files_ratio_vs_host_fsync, undefined);
  assert.equal(f.host_fsync_small_files_per_s, 1250);
  assert.equal(f.tardigrade_ok, 0);
});

Deno.test("parseFsbench reads the program's measure and flat-cost lines, and throws on ERROR", () => {
  const out = parseFsbench([
    "fsbench M small_files.each 100 50 400 900 0",
    "fsbench M rand_read_4k.none 10 1 90 100 40960",
    "fsbench F dir 1000 3 1.5 2",
    "fsbench F file 1048576 4 5",
    "not ours",
    "fsbench done",
  ]);
  assert.equal(out.done, true);
  assert.deepEqual(out.suite["small_files.each"], {
    ops: 100,
    ms: 50,
    perSecond: 2000,
    medianUs: 400,
    p99Us: 900,
  });
  assert.equal(out.suite["rand_read_4k.none"].bytes, 40960);
  assert.deepEqual(out.flat.dir, [{ entries: 1000, create: 3, stat: 1.5, unlink: 2 }]);
  assert.deepEqual(out.flat.file, [{ bytes: 1 << 20, pread: 4, pwrite: 5 }]);
  assert.throws(() => parseFsbench(["fsbench ERROR ENOSPC: full"]), /fsbench: ENOSPC: full/);
});

Deno.test("summariseCheckpoints: checkpoints a second over the run, pause median and p99, mean dirty pages", () => {
  const stat = (pauseUs: number, dirtyPages: number): CheckpointStats => ({
    epoch: 1,
    freezeUs: 1,
    capTreeUs: 0,
    objectsUs: {},
    pageCopyUs: 1,
    pauseUs,
    dirtyPages,
    cowPages: 0,
    scannedChunks: 1,
    objectRecords: 0,
  });
  const s = summariseCheckpoints([stat(30, 2), stat(10, 0), stat(20, 4), stat(900, 10)], 8);
  assert.deepEqual(s, { perSecond: 500, pauseMedianUs: 20, pauseP99Us: 900, dirtyPagesMean: 4 });
  assert.equal(summariseCheckpoints([], 8), undefined);
  const f = fsFigures({ ...measured(), checkpoints: s });
  assert.equal(f.tardigrade_checkpoints_per_s, 500);
  assert.equal(f.tardigrade_checkpoint_pause_p99_us, 900);
});

Deno.test("runSuite against the host measures every workload of every durability and leaves nothing", async () => {
  const host = new HostFsApi();
  try {
    const r = await runSuite(host, "/b", DURABILITIES, TINY);
    for (const d of DURABILITIES) {
      for (const [w, durable] of WORKLOADS) {
        const m = r[`${w}.${d}`];
        if (d !== "none" && !durable) {
          assert.equal(m, undefined, `${w}.${d}`);
          continue;
        }
        assert.ok(m, `${w}.${d} missing`);
        assert.ok(m.ops > 0 && m.ms > 0 && m.perSecond > 0 && m.p99Us >= m.medianUs, `${w}.${d}`);
      }
    }
    assert.equal(r["small_files.each"].ops, TINY.smallFiles);
    assert.equal(r["rand_write_4k.batch"].ops, TINY.randOpsDurable);
    assert.equal(r["seq_write.none"].bytes, TINY.randFileBytes);
    assert.equal(r["seq_write.each"].bytes, TINY.seqDurableBytes);
    assert.deepEqual([...Deno.readDirSync(host.root)], []);
  } finally {
    host.dispose();
  }
});

Deno.test("bench fs --quick --json: one JSON object whose keys are present, positive and consistent", async () => {
  const out = await runBench("fs", ["--quick", "--json"]);
  const stderr = out.stderr;
  assert.ok(out.success, `bench fs failed: ${stderr.slice(-3000)}`);
  const f: Record<string, number> = JSON.parse(out.stdout.trim());
  const tail = stderr.slice(-3000);
  assert.equal(f.tardigrade_ok, 1, tail);
  for (const [k, v] of Object.entries(f)) {
    assert.ok(typeof v === "number" && Number.isFinite(v), `${k} = ${v}`);
    if (k !== "tardigrade_ok") assert.ok(v > 0, `${k} = ${v} is not positive`);
  }
  const close = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b), `${what}: ${a} ≠ ${b}`);
  for (
    const key of [
      "small_files_per_s",
      "small_files_ratio_vs_host_fsync",
      "rand_write_4k_ratio_vs_host_fsync",
    ]
  ) {
    assert.equal(typeof f[key], "number", `${key} missing; the bench said: ${tail}`);
  }
  close(f.small_files_per_s, f.tardigrade_small_files_per_s, "small_files_per_s");
  close(
    f.small_files_ratio_vs_host_fsync,
    f.tardigrade_small_files_per_s / f.host_fsync_small_files_per_s,
    "small_files_ratio_vs_host_fsync",
  );
  close(
    f.rand_write_4k_ratio_vs_host_fsync,
    f.tardigrade_rand_write_4k_per_s / f.host_fsync_rand_write_4k_per_s,
    "rand_write_4k_ratio_vs_host_fsync",
  );
  close(
    f.seq_read_nosync_ratio_vs_host,
    f.tardigrade_nosync_seq_read_mb_per_s / f.host_seq_read_mb_per_s,
    "seq_read_nosync_ratio_vs_host",
  );
  // Every workload was measured on the host, by Tardigrade and in process; the flat-cost table.
  for (const [w] of WORKLOADS) {
    const unit = w.startsWith("seq_") ? "mb_per_s" : "per_s";
    for (const v of ["host", "tardigrade_nosync", "local"]) {
      assert.ok(f[`${v}_${w}_${unit}`] > 0, `${v}_${w}_${unit} missing`);
    }
  }
  for (const op of ["create", "stat", "unlink"]) assert.ok(f[`flat_dir_${op}_ratio`] > 0, op);
  for (const op of ["pread", "pwrite"]) assert.ok(f[`flat_file_${op}_ratio`] > 0, op);
});
