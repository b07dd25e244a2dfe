/**
 * The file-system crash load (`deno task scenario crash --load fs`),
 * bounded: 8 seeded SIGKILLs of a machine running tests/programs/fsload.ts
 * beside the counter and the writer; after every resume the tree the
 * program finds must equal the host's replay of exactly the operations the
 * console showed, every "synced" one among them (tools/fs_load.ts). The
 * seed is printed in the test name; replay with `deno task scenario crash
 * --seed S --iterations 8 --load fs`.
 *
 * Run: `deno test --unstable-worker-options --allow-read --allow-write --allow-run --allow-env tests/fs/crash_load_test.ts`.
 */

import assert from "node:assert/strict";
import { crashScenario } from "../../tools/crash_scenario.ts";
import { freshSeed } from "../../kernel/abi/prng.ts";

const seed = Number(Deno.env.get("TARDIGRADE_SEED") ?? freshSeed()) >>> 0;

Deno.test(`crash with the fs load: 8 SIGKILLs, each resumed tree is the replay of what was shown (seed ${seed})`, async () => {
  const r = await crashScenario(seed, 8, { load: "fs", log: (s) => console.log(`  ${s}`) });
  assert.deepEqual(
    r.violations,
    [],
    `replay: deno task scenario crash --seed ${seed} --iterations 8 --load fs`,
  );
  assert.equal(r.crashes, 8);
});
