/**
 * Invariant 2, exactly once: a bounded form of `deno task scenario nested`.
 * Requests whose handlers make non-idempotent nested calls, and a program
 * step of several calls, under seeded SIGKILLs; everything is checked from
 * the console lines an outside observer saw. The seed is in the test name;
 * replay with `deno task scenario nested --seed S --iterations N`.
 */

import assert from "node:assert/strict";
import { checkNestedOutput, nestedScenario } from "../../tools/nested_scenario.ts";
import { freshSeed } from "../../kernel/abi/prng.ts";

const seed = Number(Deno.env.get("TARDIGRADE_SEED") ?? freshSeed()) >>> 0;
const ITERATIONS = 8;

Deno.test(`nested: ${ITERATIONS} seeded SIGKILLs; every request and step takes effect once (seed ${seed})`, async () => {
  const r = await nestedScenario(seed, ITERATIONS, { log: (s) => console.log(`  ${s}`) });
  assert.deepEqual(
    r.violations,
    [],
    `replay: deno task scenario nested --seed ${seed} --iterations ${ITERATIONS}`,
  );
  assert.equal(r.crashes, ITERATIONS);
  assert.ok(r.acked > 0 && r.files > 0, "both programs made progress");
});

Deno.test("nested: the observer's check catches an effect that happened twice or was lost", () => {
  const names = new Map([[1, "nested"], [2, "filestep"]]);
  const check = (nested: string, files: string) => {
    const violations: string[] = [];
    checkNestedOutput(new Map([[1, nested], [2, files]]), names, violations);
    return violations;
  };
  const good = "acked 1 m=1 x=2 y=1\nacked 2 m=2 x=4 y=2\n";
  assert.deepEqual(check(good, "files 1\nfiles 2\n"), []);
  assert.equal(check("acked 1 m=1 x=2 y=1\nacked 2 m=3 x=6 y=3\n", "").length, 1, "a re-run");
  assert.equal(check("acked 1 m=1 x=2 y=1\nacked 2 m=2 x=3 y=2\n", "").length, 1, "a lost call");
  assert.equal(check(good + "acked 2 m=2 x=4 y=2\n", "").length, 1, "a repeated line");
  assert.equal(check("", "files 1\nfiles ERROR EEXIST at 2\n").length, 1, "a step run twice");
});
