/**
 * The kv scenario, bounded (tools/kv_scenario.ts): redis-cli and raw-socket
 * clients of the kv store across seeded SIGKILLs of the machine, checked
 * from the outside.
 */

import assert from "node:assert/strict";
import { freshSeed } from "../../kernel/abi/prng.ts";
import { kvScenario } from "../../tools/kv_scenario.ts";
import { requireCommand } from "../helpers.ts";

Deno.test("kv across seeded SIGKILLs: INCR replies exactly +1, every acknowledged SET and APPEND kept, no connection broken", async () => {
  await requireCommand("redis-cli", "redis-tools");
  const seed = freshSeed();
  console.log(`kv scenario seed ${seed} (replay: deno task scenario kv --seed ${seed} --kills 3)`);
  const r = await kvScenario(seed, 3, { clients: 4, log: (s) => console.log(`  ${s}`) });
  console.log(
    `  kills ${r.kills}, resumes ${r.resumes}, acknowledged ${r.acknowledged}, lost ${r.lost}`,
  );
  assert.deepEqual(r.violations, [], `seed ${seed}`);
  assert.deepEqual(r.broken, [], `seed ${seed}`);
  assert.equal(r.lost, 0, `seed ${seed}`);
  assert.equal(r.resumes, 3);
  assert.ok(r.acknowledged > 0, `seed ${seed}: nothing acknowledged`);
});
