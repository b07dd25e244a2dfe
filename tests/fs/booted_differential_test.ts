/**
 * The differential test on the booted system (tools/fs_diff_booted.ts): a
 * machine runs tests/programs/fs_diff.ts, which regenerates seed 1's 300
 * operations and runs them on the FS server through FsClient; every
 * result line the console showed, and the tree the program printed, must
 * equal the same operations on a host directory, no difference passed
 * over. `deno task scenario fsdiff --against booted --seed S --ops
 * N` runs longer ones.
 *
 * Run: `deno test --unstable-worker-options --allow-read --allow-write --allow-run --allow-env tests/fs/booted_differential_test.ts`.
 */

import assert from "node:assert/strict";
import { diffBooted } from "../../tools/fs_diff_booted.ts";
import { formatMismatch } from "../../tools/fs_diff.ts";

Deno.test("the booted FS server agrees with the host on 300 seeded operations (seed 1)", async () => {
  const lines: string[] = [];
  const run = await diffBooted({
    seed: 1,
    ops: 300,
    log: (s) => lines.push(s),
  });
  assert.match(lines[0] ?? "", /^booted: 300 results, \d+ tree lines$/);
  assert.equal(
    run.mismatches.length,
    0,
    run.mismatches.map(({ m, origin }) => formatMismatch(m, origin, ["booted", "host"])).join("\n"),
  );
});
