/**
 * The command lines a user types: `deno task boot|scenario|bench --help`
 * exit 0 and list every flag their parsers accept (the lists come from the
 * same flag tables the parsers read, so a flag added without help fails
 * here); a missing or unknown name prints the usage and exits 2.
 */

import assert from "node:assert/strict";
import { flagNames } from "../../hw/flags.ts";
import { MACHINE_FLAGS } from "../../hw/machine.ts";
import { SUPERVISOR_FLAGS } from "../../tools/boot.ts";
import { BENCH_FLAGS } from "../../tools/bench/cli.ts";
import { COMMON_FLAGS, SCENARIOS } from "../../tools/scenario.ts";
import { INSPECT_FLAGS } from "../../tools/inspect.ts";

const TOOLS = new URL("../../tools/", import.meta.url).pathname;

/** Runs a tool the way `deno task` does; returns its exit code and output. */
async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-worker-options", "-A", `${TOOLS}${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Asserts that every flag in `names` has a help line of its own in `help`. */
function assertListed(help: string, names: string[], what: string): void {
  const lines = help.split("\n");
  for (const flag of names) {
    const line = lines.find((l) => new RegExp(`(^|[ ,])${flag}( |$)`).test(l));
    assert.ok(line, `${what}: ${flag} has no help line in\n${help}`);
  }
}

Deno.test("boot --help: exits 0 and lists every supervisor and machine flag", async () => {
  const r = await run("boot.ts", ["--help"]);
  assert.equal(r.code, 0, r.stderr);
  assertListed(r.stdout, flagNames({ ...SUPERVISOR_FLAGS, ...MACHINE_FLAGS }), "boot --help");
});

Deno.test("boot: an unknown flag is refused with the usage before any machine starts", async () => {
  const r = await run("boot.ts", ["--no-such-flag"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--no-such-flag'/);
  assert.match(r.stderr, /^usage: deno task boot/m);
});

Deno.test("inspect --help: exits 0 and lists every flag; an unknown flag is exit 2", async () => {
  const r = await run("inspect.ts", ["--help"]);
  assert.equal(r.code, 0, r.stderr);
  assertListed(r.stdout, flagNames(INSPECT_FLAGS), "inspect --help");
  const bad = await run("inspect.ts", ["--no-such-flag"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^usage: deno task inspect/m);
});

Deno.test("scenario --help: exits 0 and lists every scenario and every flag", async () => {
  const r = await run("scenario.ts", ["--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const name of Object.keys(SCENARIOS)) assert.match(r.stdout, new RegExp(`^${name}: `, "m"));
  assertListed(r.stdout, flagNames(COMMON_FLAGS), "scenario --help");
  for (const s of Object.values(SCENARIOS)) {
    assertListed(r.stdout, flagNames(s.flags), "scenario --help");
  }
});

for (const name of Object.keys(SCENARIOS)) {
  Deno.test(`scenario ${name} --help: exits 0 and lists that scenario's flags`, async () => {
    const r = await run("scenario.ts", [name, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: deno task scenario ${name} `, "m"));
    assertListed(r.stdout, flagNames({ ...COMMON_FLAGS, ...SCENARIOS[name].flags }), name);
  });
}

Deno.test("scenario with no name, or an unknown one, prints the usage and exits 2", async () => {
  for (const args of [[], ["--seed", "5"], ["no-such-scenario"]]) {
    const r = await run("scenario.ts", args);
    assert.equal(r.code, 2, `scenario ${args.join(" ")}`);
    assert.match(r.stderr, /^usage: deno task scenario NAME/m, `scenario ${args.join(" ")}`);
    assert.doesNotMatch(r.stdout, /undefined/);
  }
});

Deno.test("scenario: a flag of another scenario is refused with this one's usage", async () => {
  const r = await run("scenario.ts", ["crash", "--pages", "2"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^usage: deno task scenario crash /m);
});

Deno.test("bench --help: exits 0 and lists every flag; no name or an unknown one exits 2", async () => {
  const help = await run("bench/mod.ts", ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assertListed(help.stdout, flagNames(BENCH_FLAGS), "bench --help");
  for (const args of [[], ["no-such-bench"]]) {
    const r = await run("bench/mod.ts", args);
    assert.equal(r.code, 2, `bench ${args.join(" ")}`);
    assert.match(r.stderr, /^usage: deno task bench NAME/m);
  }
});
